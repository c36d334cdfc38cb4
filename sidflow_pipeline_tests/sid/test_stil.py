from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidflow_pipeline.sid.stil import (
    StilBlock,
    StilEntry,
    StilError,
    format_stil,
    load_stil,
    parse_stil,
    stil_for_song,
)

STIL = """\
#######################################################################
#  The SID Tune Information List (STIL), test edition
#######################################################################

/MUSICIANS/D/Dir_Only/
COMMENT: A whole folder of tunes written for one game.

/MUSICIANS/M/Medley/Covers.sid
COMMENT: "Made in one night." (MM)
         Second line of the file comment,
            indented further on purpose.
(#1)
  TITLE: Malbrouk s'en va-t-en guerre
 ARTIST: Traditional
  TITLE: Dragnet Theme [from the television series]
 ARTIST: Mikl\xf3s R\xf3zsa & Walter Schumann
COMMENT: A medley: two covers in one subtune.
         TITLE: this line is a continuation, not a field
(#3)
   NAME: Finale
 AUTHOR: Someone Else
    BUG: Crashes after 2:00 on a real C64.
#######################################################################
/MUSICIANS/S/Single/Tune.sid
  TITLE: Axel F [from the movie Beverly Hills Cop]
 ARTIST: Harold Faltermeyer
"""


def test_file_and_subtune_blocks() -> None:
    entries = parse_stil(STIL)
    assert list(entries) == ["/MUSICIANS/D/Dir_Only/", "/MUSICIANS/M/Medley/Covers.sid", "/MUSICIANS/S/Single/Tune.sid"]
    covers = entries["/MUSICIANS/M/Medley/Covers.sid"]
    assert covers.file_block.comment == [
        '"Made in one night." (MM)\nSecond line of the file comment,\n   indented further on purpose.'
    ]
    assert sorted(covers.subtunes) == [1, 3]
    medley = covers.subtunes[1]
    assert medley.title == ["Malbrouk s'en va-t-en guerre", "Dragnet Theme [from the television series]"]
    assert medley.artist == ["Traditional", "Mikl\xf3s R\xf3zsa & Walter Schumann"]
    assert medley.comment == ["A medley: two covers in one subtune.\nTITLE: this line is a continuation, not a field"]
    finale = covers.subtunes[3]
    assert (finale.name, finale.author, finale.comment) == (["Finale"], ["Someone Else"], ["Crashes after 2:00 on a real C64."])
    single = entries["/MUSICIANS/S/Single/Tune.sid"]
    assert single.subtunes == {}
    assert single.file_block.title == ["Axel F [from the movie Beverly Hills Cop]"]
    assert entries["/MUSICIANS/D/Dir_Only/"].file_block.comment == ["A whole folder of tunes written for one game."]


def test_crlf_and_latin1_file(tmp_path: Path) -> None:
    path = tmp_path / "STIL.txt"
    path.write_bytes(STIL.replace("\n", "\r\n").encode("latin-1"))
    entries = load_stil(path)
    assert entries == parse_stil(STIL)
    assert entries["/MUSICIANS/M/Medley/Covers.sid"].subtunes[1].artist[1].startswith("Mikl\xf3s")


def test_odd_lines_are_skipped_not_fatal() -> None:
    text = (
        "stray text before any entry\n"
        "/A/B.sid\n"
        "         continuation with nothing to continue\n"
        "  TITLE: Real\n"
        "   half-indented continuation\n"
        "(#x)\n"
    )
    entry = parse_stil(text)["/A/B.sid"]
    assert entry.file_block.title == ["Real\nhalf-indented continuation\n(#x)"]
    assert entry.subtunes == {}


def test_subtune_marker_only_counts_at_column_zero() -> None:
    text = "/A/B.sid\nCOMMENT: See\n         (#2)\n(#2)\n  TITLE: Two\n"
    entry = parse_stil(text)["/A/B.sid"]
    assert entry.file_block.comment == ["See\n(#2)"]
    assert entry.subtunes[2].title == ["Two"]


def test_stil_for_song_merges_file_and_subtune_fields() -> None:
    covers = parse_stil(STIL)["/MUSICIANS/M/Medley/Covers.sid"]
    first = stil_for_song(covers, 1)
    assert first["title"] == "Malbrouk s'en va-t-en guerre / Dragnet Theme [from the television series]"
    assert first["artist"] == "Traditional / Mikl\xf3s R\xf3zsa & Walter Schumann"
    assert first["comment"].split("\n")[0] == '"Made in one night." (MM)'
    assert first["comment"].endswith("TITLE: this line is a continuation, not a field")
    assert "name" not in first and "author" not in first
    assert stil_for_song(covers, 3) == {
        "name": "Finale",
        "author": "Someone Else",
        "comment": covers.file_block.comment[0] + "\nCrashes after 2:00 on a real C64.",
    }
    assert stil_for_song(covers, 2) == {"comment": covers.file_block.comment[0]}
    assert stil_for_song(None, 1) == {}


def test_format_reproduces_canonical_text() -> None:
    canonical = "\n".join(line for line in STIL.split("\n") if not line.startswith("#"))
    # Entries separated by exactly one blank line, as the writer does.
    canonical = canonical.strip("\n").replace("on a real C64.\n/", "on a real C64.\n\n/") + "\n"
    entries = parse_stil(canonical)
    assert format_stil(entries.values()) == canonical
    assert parse_stil(format_stil(entries.values())) == entries


def test_format_keeps_field_order_and_writes_hand_built_blocks() -> None:
    entry = StilEntry(path="/Z/Hand.sid")
    entry.file_block.comment.append("Assigned directly.")
    entry.file_block.title.append("Listed first by default")
    medley = StilBlock()
    for label, text in (("TITLE", "One"), ("ARTIST", "A"), ("TITLE", "Two"), ("ARTIST", "B"), ("BUG", "Loops.")):
        medley.add(label, text)
    entry.subtunes[2] = medley
    entry.subtunes[4] = StilBlock()
    text = format_stil([entry])
    assert text == (
        "/Z/Hand.sid\n"
        "  TITLE: Listed first by default\n"
        "COMMENT: Assigned directly.\n"
        "(#2)\n"
        "  TITLE: One\n"
        " ARTIST: A\n"
        "  TITLE: Two\n"
        " ARTIST: B\n"
        "    BUG: Loops.\n"
        "(#4)\n"
    )
    back = parse_stil(text)["/Z/Hand.sid"]
    assert back == entry
    assert back.subtunes[4].is_empty() and not back.subtunes[2].is_empty()
    assert format_stil([]) == ""


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (StilEntry(path="MUSICIANS/no_slash.sid"), "must start with '/'"),
        (StilEntry(path="/A.sid", file_block=StilBlock(comment=["one\n\nthree"])), "empty line"),
        (StilEntry(path="/A.sid", file_block=StilBlock(title=[" padded"])), "leading/trailing whitespace"),
        (StilEntry(path="/A.sid", file_block=StilBlock(title=["ok\ntrailing "])), "trailing whitespace"),
        (StilEntry(path="/A.sid", file_block=StilBlock(artist=["\u0141ukasz"])), "outside Latin-1"),
        (StilEntry(path="/A.sid", subtunes={0: StilBlock(title=["zero"])}), "subtune number 0"),
    ],
)
def test_writer_refuses_values_that_would_not_read_back(entry: StilEntry, why: str) -> None:
    with pytest.raises(StilError, match=why):
        format_stil([entry])


def test_continuation_without_field_is_ignored_by_block() -> None:
    block = StilBlock()
    block.extend_last("nothing to extend")
    assert block.is_empty() and block.comment == []


_WORD = st.text(alphabet="abcXYZ 019.,:;'\"!?()[]<>/#-&\xe4\xf3\xdf", min_size=1, max_size=20).map(str.strip)
_FIRST = st.text(alphabet="abcXYZ 019.,:;'\"!?()[]<>/#-&\xe4\xf3\xdf", max_size=30).map(str.strip)
_MORE = st.tuples(st.integers(0, 3), _WORD.filter(bool)).map(lambda t: " " * t[0] + t[1])
_VALUE = st.builds(lambda first, rest: "\n".join([first, *rest]), _FIRST, st.lists(_MORE, max_size=3))
_LABELS = st.sampled_from(["TITLE", "ARTIST", "NAME", "AUTHOR", "COMMENT", "BUG"])


@st.composite
def _blocks(draw: st.DrawFn) -> StilBlock:
    block = StilBlock()
    for label, value in draw(st.lists(st.tuples(_LABELS, _VALUE), max_size=5)):
        block.add(label, value)
    return block


_ENTRIES = st.dictionaries(
    st.text(alphabet="abcXYZ019_-", min_size=1, max_size=10).flatmap(
        lambda s: st.sampled_from([f"/MUSICIANS/{s}.sid", f"/GAMES/{s}/"])
    ),
    st.tuples(_blocks(), st.dictionaries(st.integers(1, 40), _blocks(), max_size=4)),
    max_size=5,
)


@settings(max_examples=80, deadline=None)
@given(_ENTRIES)
def test_round_trip(raw: dict[str, tuple[StilBlock, dict[int, StilBlock]]]) -> None:
    entries = {path: StilEntry(path, block, subtunes) for path, (block, subtunes) in raw.items()}
    text = format_stil(entries.values())
    assert parse_stil(text) == entries
    assert format_stil(parse_stil(text).values()) == text


# --- the real HVSC sample ----------------------------------------------------------------


@pytest.mark.hvsc_sample
def test_real_stil(hvsc_sample: Path) -> None:
    text = (hvsc_sample / "DOCUMENTS" / "STIL.txt").read_bytes().decode("latin-1")
    entries = load_stil(hvsc_sample / "DOCUMENTS" / "STIL.txt")
    assert len(entries) == sum(1 for line in text.splitlines() if line.startswith("/")) == 27
    for path in entries:  # every entry names a tune that is in the sample
        assert (hvsc_sample / path.lstrip("/")).is_file(), path

    alf = entries["/GAMES/A-F/Alf_the_First_Adventure.sid"]
    assert alf.file_block.is_empty()
    assert sorted(alf.subtunes) == [2, 3, 4, 5, 6]
    assert alf.subtunes[5].artist == ["Mikl\xf3s R\xf3zsa & Walter Schumann"]
    assert alf.subtunes[4].comment[0].count("\n") == 2
    assert stil_for_song(alf, 1) == {}
    assert stil_for_song(alf, 3) == {"title": "Original Rags", "artist": "Scott Joplin"}

    compilation = entries["/MUSICIANS/H/Huelsbeck_Chris/Compilation_I.sid"]
    assert compilation.file_block.comment == ['"Made in September and October 1988." (CH)']
    assert compilation.subtunes[1].name == ["Elladita"]
    assert compilation.subtunes[1].comment == [
        "Same as /MUSICIANS/H/Huelsbeck_Chris/Down_at_the_Trolls.sid, Tune #2\n"
        "except for 0:31-0:42 due to a fix in the echo routine."
    ]
    assert stil_for_song(compilation, 4)["comment"].endswith("trioles in the music.")

    # The writer reproduces the real file's entries exactly (header comments aside).
    assert parse_stil(format_stil(entries.values())) == entries
    body = text[text.index("\n/") + 1 :] if not text.startswith("/") else text
    assert format_stil(entries.values()) == body

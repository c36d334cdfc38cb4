"""The one join of a SID file with Songlengths.md5 and STIL, shared by the catalog and `info`."""

from __future__ import annotations

from pathlib import Path

from sidflow_pipeline.catalog.join import SongDocs, hvsc_documents, join_songs
from sidflow_pipeline.sid.songlengths import SonglengthEntry
from sidflow_pipeline.sid.stil import StilBlock, StilEntry


def _stil() -> dict[str, StilEntry]:
    entry = StilEntry("/MUSICIANS/A/Tune.sid", StilBlock(comment=["Line one.\nLine two."]), {2: StilBlock(title=["Medley"])})
    return {entry.path: entry}


def test_lengths_by_md5_and_stil_by_path_per_song() -> None:
    lengths = {"abc": SonglengthEntry("abc", "/MUSICIANS/A/Tune.sid", (61000,))}
    docs = join_songs("abc", "MUSICIANS/A/Tune.sid", 2, lengths, _stil())
    assert docs == [
        SongDocs(1, 61000, {"comment": "Line one.\nLine two."}),
        SongDocs(2, None, {"title": "Medley", "comment": "Line one.\nLine two."}),  # no length: None, never a guess
    ]
    assert join_songs("abc", "/MUSICIANS/A/Tune.sid", 1, lengths, _stil())[0].stil  # a leading slash is the same path


def test_no_stil_outside_a_collection_and_no_length_for_an_unknown_md5() -> None:
    assert join_songs("zzz", None, 1, {}, _stil()) == [SongDocs(1, None, {})]


def test_the_tree_documents_are_found_only_when_present(tmp_path: Path) -> None:
    assert hvsc_documents(tmp_path) == (None, None)
    (tmp_path / "DOCUMENTS").mkdir()
    (tmp_path / "DOCUMENTS" / "STIL.txt").write_text("")
    assert hvsc_documents(tmp_path) == (None, tmp_path / "DOCUMENTS" / "STIL.txt")

"""Ratings log and comment analysis."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from sidflow_pipeline.layout import MASTERING_RATINGS
from sidflow_pipeline.mastering.analyze import STEPS, analyze_ratings, parse_comment, write_patterns
from sidflow_pipeline.mastering.errors import RatingsError
from sidflow_pipeline.mastering.profiles import ensure_profiles, load_profile
from sidflow_pipeline.mastering.ratings import append_rating, is_mastered, read_ratings, timestamp


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        ("less bass", [("bass", -1)]),
        ("too much bass", [("bass", -1)]),
        ("not enough bass", [("bass", 1)]),
        ("more treble", [("treble", 1)]),
        ("too loud", [("loudness", -1)]),
        ("too quiet", [("loudness", 1)]),
        ("too narrow", [("width", 1)]),
        ("stereo too wide", [("width", -1)]),
        ("not wide enough", [("width", 1)]),
        ("don't boost the bass", [("bass", -1)]),
        ("no more bass please", [("bass", -1)]),
        ("not too bright", [("treble", 0)]),
        ("the bass is fine", [("bass", 0)]),
        ("bit bass-heavy", [("bass", -1)]),
        ("harsh treble", [("treble", -1)]),
        ("a bit boomy, needs more air", [("bass", -1), ("treble", 1)]),
        ("too much bass and not enough treble", [("bass", -1), ("treble", 1)]),
        ("bass too loud", [("bass", -1)]),  # about the bass, not the overall loudness
        ("volume too low", [("loudness", 1)]),
        ("could be louder", [("loudness", 1)]),
        ("no louder please", []),
        ("low end is too heavy, top end missing", [("bass", -1), ("treble", 1)]),
        ("mids too weak", [("mid", 1)]),
        ("the bass is not too heavy", [("bass", 0)]),
        ("bass not enough", [("bass", 1)]),
        ("sounds boxy", [("mid", -1)]),
        ("bright enough", [("treble", 0)]),
        ("less harsh", [("treble", -1)]),
        ("more bright", [("treble", 1)]),
        ("Perfect!", []),
        ("", []),
    ],
)
def test_comment_patterns_with_negation(comment: str, expected: list[tuple[str, int]]) -> None:
    assert [(m.parameter, m.direction) for m in parse_comment(comment)] == expected


@pytest.mark.parametrize(
    ("comment", "amount"),
    [
        ("bass could be +0.3", 0.3),
        ("Bass could be +0.3dB. Nice.", 0.3),
        ("-0.5 db bass please", -0.5),
        ("cut the bass by 0.5", -0.5),
        ("more bass 1.5", 1.5),
    ],
)
def test_explicit_amounts(comment: str, amount: float) -> None:
    (mention,) = parse_comment(comment)
    assert mention.parameter == "bass" and mention.amount == amount and mention.direction == (1 if amount > 0 else -1)


def entry(rating: int, comment: str | None, kind: str = "studio", version: str = "1.0", **extra: Any) -> dict[str, Any]:
    """A rating of a mastered file (``mastered_file=None`` etc. in ``extra`` for others)."""
    return {
        "timestamp": timestamp(),
        "file": "/music/x.wav",
        "mastered_file": "/music/x.mastered.wav",
        "rating": rating,
        "comment": comment,
        "detected_type": kind,
        "confidence": 0.8,
        "profile_version": version,
        "fingerprint": {"loudness_lufs": -20.0},
        "parameters_applied": {"eq.bass.gain_db": 1.5},
        "hints": {},
        **extra,
    }


def test_append_and_read(tmp_path: Path) -> None:
    written = append_rating(tmp_path, entry(4, "fine"))
    assert written["uuid"]
    path = tmp_path / MASTERING_RATINGS
    with open(path, "ab") as handle:  # a writer killed mid-line, then garbage and a wrong rating
        handle.write(b'{"half": ')
    append_rating(tmp_path, entry(2, "too loud"))
    with open(path, "a") as handle:
        handle.write("[1, 2]\n" + json.dumps({**entry(9, None), "uuid": "u"}) + "\n\n")
        handle.write(json.dumps({**entry(5, None), "uuid": written["uuid"]}) + "\n")  # a duplicate
    entries, skipped = read_ratings(tmp_path)
    assert [e["rating"] for e in entries] == [4, 2]
    assert skipped == 3
    assert '{"half": ' in path.read_text().splitlines()  # the fragment was closed, not glued to our line
    assert read_ratings(tmp_path / "none") == ([], 0)
    with pytest.raises(RatingsError, match=r"1..5"):
        append_rating(tmp_path, entry(0, None))
    with pytest.raises(RatingsError, match="lacks 'fingerprint'"):
        append_rating(tmp_path, {k: v for k, v in entry(3, None).items() if k != "fingerprint"})
    with pytest.raises(RatingsError, match="needs the 'profile_version'"):
        append_rating(tmp_path, entry(3, None, profile_version=None, mastered=True))
    with pytest.raises(RatingsError, match="'mastered' must be true or false"):
        append_rating(tmp_path, entry(3, None, mastered="yes"))
    assert written["mastered"] is True  # filled in from mastered_file
    assert append_rating(tmp_path, entry(3, None, mastered_file=None))["mastered"] is False


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    def writer(index: int) -> None:
        for n in range(25):
            append_rating(tmp_path, entry(1 + (n % 5), f"writer {index} line {n} " + "x" * 2000))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries, skipped = read_ratings(tmp_path)
    assert len(entries) == 100 and skipped == 0


def test_analyze_suggests_with_negation_and_current_version_only(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    ensure_profiles(profiles)
    entries = [
        entry(3, "too much bass"),
        entry(3, "less bass please"),
        entry(4, "bass a bit heavy, not too bright"),
        entry(4, "not enough treble"),  # one treble vote is no majority
        entry(5, "Perfect!"),
        entry(2, "don't boost the bass so much"),
        entry(4, None),
        entry(1, "way too much bass", version="0.9"),  # an old version: not counted
        entry(4, "too quiet", kind="metal"),
        entry(4, "too quiet, could be louder", kind="metal"),
        entry(5, "volume +2", kind="metal"),
    ]
    patterns = analyze_ratings(entries, profiles)
    studio = patterns["types"]["studio"]
    bass_now = load_profile(profiles, "studio").value("eq.bass.gain_db")
    bass_step = STEPS["bass"][1]
    assert studio["samples"] == 8 and studio["analysed_samples"] == 7 and studio["unmastered_samples"] == 0
    assert studio["samples_by_version"] == {"0.9": 1, "1.0": 7}
    assert studio["histogram"] == {"1": 1, "2": 1, "3": 2, "4": 3, "5": 1}
    assert studio["average_rating"] == pytest.approx(3.25)
    (bass,) = studio["suggestions"]
    assert bass == {
        "parameter": "bass", "field": "eq.bass.gain_db", "option": "--bass", "more": 0, "less": 4,
        "delta": -bass_step, "current": bass_now, "suggested": bass_now - bass_step,
    }  # fmt: skip
    assert studio["update_command"].startswith(f"sidflow master update studio --bass {bass_now - bass_step:g} --reason")
    less_bass = next(p for p in studio["patterns"] if p["parameter"] == "bass" and p["direction"] == "less")
    assert less_bass["count"] == 4 and less_bass["phrases"]["too much bass"] == 1
    assert any(p["parameter"] == "treble" and p["direction"] == "no change" for p in studio["patterns"])
    assert studio["top_comment"] == {"rating": 5, "comment": "Perfect!"}
    assert studio["bottom_comment"] == {"rating": 1, "comment": "way too much bass"}
    # Metal: "too quiet" ×2 + "louder" + an explicit "+2": loudness up by the median explicit amount.
    (loud,) = patterns["types"]["metal"]["suggestions"]
    metal_target = load_profile(profiles, "metal").target_lufs
    assert loud["parameter"] == "loudness" and loud["delta"] == 2.0 and loud["suggested"] == metal_target + 2.0
    # Counting every version changes the numbers.
    assert analyze_ratings(entries, profiles, all_versions=True)["types"]["studio"]["suggestions"][0]["less"] == 5
    # One type only; a type with no ratings still gets a summary.
    only = analyze_ratings(entries, profiles, kind="bootleg")
    assert list(only["types"]) == ["bootleg"] and only["types"]["bootleg"]["samples"] == 0
    assert only["types"]["bootleg"]["average_rating"] is None


def test_suggestions_are_clamped_and_patterns_written_deterministically(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    ensure_profiles(profiles)
    entries = [entry(2, "bass +20"), entry(2, "bass +30")]
    patterns = analyze_ratings(entries, profiles, skipped_lines=2)
    assert patterns["types"]["studio"]["suggestions"][0]["suggested"] == 12.0  # the profile's limit
    assert patterns["skipped_lines"] == 2
    assert patterns["types"]["studio"]["bottom_comment"] is None  # same rating as the top one
    first = write_patterns(tmp_path / "fb", patterns).read_bytes()
    second = write_patterns(tmp_path / "fb", analyze_ratings(entries, profiles, skipped_lines=2)).read_bytes()
    assert first == second
    # A type whose profile is missing still gets patterns, without absolute suggestions.
    odd = analyze_ratings([entry(2, "less bass", kind="jazz"), entry(2, "less bass", kind="jazz")], profiles)
    assert odd["types"]["jazz"]["current_version"] is None
    assert odd["types"]["jazz"]["suggestions"][0]["delta"] == -0.5 and odd["types"]["jazz"]["update_command"] is None


def test_unmastered_ratings_are_counted_but_never_suggest(tmp_path: Path) -> None:
    """A rating of the unmastered source says nothing about what a profile does to it:
    neither new lines (``mastered: false``) nor old ones (no ``mastered`` key, the
    current version recorded as if applied) may push that version's profile."""
    profiles = tmp_path / "profiles"
    ensure_profiles(profiles)
    feedback = tmp_path / "fb"
    feedback.mkdir()
    unmastered = {"mastered_file": None, "mastered": False, "profile_version": None, "parameters_applied": None}
    for _ in range(5):
        append_rating(feedback, entry(2, "too much bass", **unmastered))
    with open(feedback / MASTERING_RATINGS, "a", encoding="utf-8") as handle:  # written before `mastered` existed
        for n in range(5):
            old = {k: v for k, v in entry(2, "way too much bass, muddy", mastered_file=None).items()}
            handle.write(json.dumps({**old, "uuid": f"old-{n}"}) + "\n")
    entries, skipped = read_ratings(feedback)
    assert len(entries) == 10 and skipped == 0 and not any(is_mastered(e) for e in entries)
    studio = analyze_ratings(entries, profiles)["types"]["studio"]
    assert studio["samples"] == 10 and studio["unmastered_samples"] == 10
    assert studio["analysed_samples"] == 0 and studio["samples_by_version"] == {}
    assert studio["suggestions"] == [] and studio["update_command"] is None and studio["patterns"] == []
    assert studio["histogram"]["2"] == 10  # still counted as ratings
    assert analyze_ratings(entries, profiles, all_versions=True)["types"]["studio"]["suggestions"] == []
    # Two ratings of mastered audio are all that count: exactly the minimum majority.
    current = str(load_profile(profiles, "studio").version)
    entries += [entry(3, "less bass", version=current), entry(3, "less bass", version=current)]
    (bass,) = analyze_ratings(entries, profiles)["types"]["studio"]["suggestions"]
    assert (bass["less"], bass["more"]) == (2, 0)


def test_analyzing_one_type_keeps_the_others_in_patterns_json(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    ensure_profiles(profiles)
    entries = [entry(2, "too much bass"), entry(2, "less bass"), entry(4, "too quiet", kind="metal")]
    path = write_patterns(tmp_path / "fb", analyze_ratings(entries, profiles))
    assert sorted(json.loads(path.read_text())["types"]) == ["metal", "studio"]
    entries.append(entry(1, "too quiet", kind="metal"))
    only_metal = analyze_ratings(entries, profiles, kind="metal")
    merged = json.loads(write_patterns(tmp_path / "fb", only_metal, merge=True).read_text())
    assert sorted(merged["types"]) == ["metal", "studio"]
    assert merged["types"]["metal"]["samples"] == 2 and merged["types"]["studio"]["samples"] == 2
    assert merged["ratings"] == 4
    # An unreadable old file is simply replaced; without merge the file is the analysis.
    path.write_text("{broken")
    assert json.loads(write_patterns(tmp_path / "fb", only_metal, merge=True).read_text()) == only_metal
    assert json.loads(write_patterns(tmp_path / "fb", only_metal).read_text()) == only_metal

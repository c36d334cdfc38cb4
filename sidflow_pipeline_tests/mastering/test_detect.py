from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sidflow_pipeline.mastering import detect as detect_module
from sidflow_pipeline.mastering.detect import (
    DETECTABLE_TYPES,
    MIN_CONFIDENCE,
    RULES,
    SID_TYPES,
    UNKNOWN_TYPE,
    Condition,
    DetectionHints,
    detect,
    detect_audio,
    rules_table,
)
from sidflow_pipeline.mastering.fingerprint import fingerprint
from sidflow_pipeline.mastering.profiles import (
    PROFILE_FILE_RE,
    default_profile_files,
    load_profile,
    profile_types,
)
from sidflow_pipeline.mastering.signals import sid_like
from sidflow_pipeline.sid.header import build_psid, parse_sid
from sidflow_pipeline_tests.mastering.synthetic import SR, bootleg_like, metal_like, studio_like, unknown_like

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("make", "expected"),
    [(studio_like, "studio"), (bootleg_like, "bootleg"), (metal_like, "metal"), (unknown_like, "unknown")],
)
def test_recordings_built_to_a_types_fingerprint_are_detected(make: Callable[[], np.ndarray], expected: str) -> None:
    detection, fp = detect_audio(make(), SR)
    assert detection.type == expected, (detection, fp)
    assert detection.family == "recording"
    if expected == UNKNOWN_TYPE:
        assert max(detection.scores.values()) < MIN_CONFIDENCE
        assert detection.confidence == pytest.approx(1 - max(detection.scores.values()))
    else:
        assert detection.confidence >= MIN_CONFIDENCE
        assert detection.confidence == detection.scores[expected]
        assert detection.matched  # says which conditions held


@pytest.mark.parametrize(
    ("audio_kwargs", "hints", "expected"),
    [
        ({"cutoff_hz": 1200.0}, DetectionHints(sid_model="6581"), "sid_6581"),
        ({"cutoff_hz": 6000.0}, DetectionHints(sid_model="8580"), "sid_8580"),
        ({"digi": True}, DetectionHints(is_sid_render=True), "sid_digi"),
        ({"voices": 6}, DetectionHints(sid_count=2), "sid_multi"),
        ({"voices": 6}, DetectionHints(sid_model="6581", sid_count=2), "sid_multi"),  # a tie goes to the earlier row
        ({"cutoff_hz": 1200.0}, DetectionHints(is_sid_render=True), "unknown"),  # dark but no model: not enough
        ({"cutoff_hz": 6000.0}, DetectionHints(sid_model="6581"), "sid_6581"),  # the header fact outweighs brightness
    ],
)
def test_sid_renders(audio_kwargs: dict[str, object], hints: DetectionHints, expected: str) -> None:
    detection, _ = detect_audio(sid_like(SR, 3.0, **audio_kwargs), SR, hints)  # type: ignore[arg-type]
    assert detection.type == expected
    assert detection.family == "sid"
    assert set(detection.scores) == set(SID_TYPES)


def test_a_2sid_tune_rendered_in_mono_is_mastered_as_its_chip() -> None:
    mono = sid_like(SR, 3.0, voices=6, channels=1, cutoff_hz=1200.0)
    assert detect_audio(mono, SR, DetectionHints(sid_model="6581", sid_count=2))[0].type == "sid_6581"


def test_hints_normalise_header_values() -> None:
    assert DetectionHints(sid_model="Unknown").family == "recording"
    assert DetectionHints(sid_model="6581+8580", is_sid_render=True).model is None
    data = build_psid(
        b"\x60", load_address=0x1000, init_address=0x1000, play_address=0x1000,
        songs=1, name="T", author="A", released="2026", sid_model="8580",
    )  # fmt: skip
    header = parse_sid(data).header
    hints = DetectionHints.from_sid_header(header)
    assert hints == DetectionHints(is_sid_render=True, sid_model="8580", sid_count=1)
    assert hints.to_json() == {"is_sid_render": True, "sid_count": 1, "sid_model": "8580"}


def test_rules_are_well_formed() -> None:
    fields = set(fingerprint(np.zeros(10), SR, tempo=False).to_json()) | {"sid_model", "sid_count"}
    for rule in RULES:
        assert math.isclose(sum(c.weight for c in rule.conditions), 1.0), rule.type
        assert all(c.field in fields for c in rule.conditions), rule.type
    assert len(set(DETECTABLE_TYPES)) == len(DETECTABLE_TYPES)
    assert DETECTABLE_TYPES[-1] == UNKNOWN_TYPE


def test_conditions() -> None:
    facts = {"x": 5.0, "model": "6581", "missing": None}
    assert Condition("x", "<", 6.0, 1).holds(facts) and not Condition("x", "<", 5.0, 1).holds(facts)
    assert Condition("x", ">=", 5.0, 1).holds(facts)
    assert Condition("x", "in", (5.0, 6.0), 1).holds(facts) and not Condition("x", "in", (4.0, 5.0), 1).holds(facts)
    assert Condition("model", "=", "6581", 1).holds(facts)
    assert not Condition("missing", ">=", 0.0, 1).holds(facts)
    assert Condition("x", "in", (-6.0, 6.0), 1).describe() == "-6 ≤ x < 6"


def test_the_documented_table_is_the_rules_table() -> None:
    """The module docstring and docs/mastering.md show exactly what RULES say."""
    table = rules_table()
    assert table in (detect_module.__doc__ or "")
    assert table in (REPO / "docs" / "mastering.md").read_text(encoding="utf-8")


def test_every_detectable_type_has_a_profile_and_vice_versa() -> None:
    defaults = default_profile_files()
    versions = json.loads(defaults["versions.json"])
    assert set(versions["types"]) == set(DETECTABLE_TYPES)
    files = {PROFILE_FILE_RE.match(name)["type"] for name in defaults if PROFILE_FILE_RE.match(name)}  # type: ignore[index]
    assert files == set(DETECTABLE_TYPES)
    repo_profiles = REPO / "data" / "profiles"
    assert set(profile_types(repo_profiles)) == set(DETECTABLE_TYPES)
    for kind in DETECTABLE_TYPES:
        assert load_profile(repo_profiles, kind).type == kind


def test_detection_json_is_sorted_and_complete() -> None:
    detection = detect(fingerprint(studio_like(2.0), SR, tempo=False))
    data = detection.to_json()
    assert list(data["scores"]) == sorted(data["scores"])
    assert data["type"] == "studio" and data["matched"]

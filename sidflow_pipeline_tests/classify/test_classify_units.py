from __future__ import annotations

import json
from pathlib import Path

import pytest

from sidflow_pipeline.classify.classified import auto_tags, classify_rows, write_auto_tags
from sidflow_pipeline.classify.predict import baseline_predict, calibrate, load_calibration
from sidflow_pipeline.classify.progress import SongProgress
from sidflow_pipeline.classify.render import analysis_window
from sidflow_pipeline.config import RenderConfig
from sidflow_pipeline.jsonl import dumps_row, read_jsonl_rows, write_jsonl_rows
from sidflow_pipeline.ratings.tags import Rating
from sidflow_pipeline.sections import PARTITION_KEYS, partition_file_stem, partition_of


@pytest.mark.parametrize(
    ("length_ms", "expected"),
    [
        (12_000, (0.0, 12.0)),
        (20_000, (0.0, 20.0)),
        (25_000, (5.0, 20.0)),
        (30_000, (10.0, 20.0)),
        (200_000, (10.0, 20.0)),
        (None, (10.0, 20.0)),
    ],
)
def test_analysis_window_rule(length_ms: int | None, expected: tuple[float, float]) -> None:
    assert analysis_window(length_ms, RenderConfig()) == expected


def test_partitions() -> None:
    assert len(PARTITION_KEYS) == 27 + 5 + 6 + 1
    assert partition_of("MUSICIANS/H/Hubbard_Rob/Delta.sid") == "MUSICIANS/H"
    assert partition_of("/games/a-f/x.sid") == "GAMES/A-F"
    assert partition_of("DEMOS/UNKNOWN/x.sid") == "DEMOS/UNKNOWN"
    assert partition_of("Odd/x.sid") == "OTHER" and partition_of("top.sid") == "OTHER"
    assert partition_file_stem("GAMES/A-F") == "GAMES_A-F"


def _features(**over: float) -> dict[str, float]:
    ref = load_calibration()["reference"]
    base = {name: values["center"] for name, values in ref.items()}
    base.update(over)
    return base


def test_baseline_is_monotone_in_its_inputs() -> None:
    neutral, conf = baseline_predict(_features())
    assert neutral == {"e": 3.0, "m": 3.0, "c": 3.0, "p": 3.0} and conf == 0.3
    busy, _ = baseline_predict(_features(onsetRate=12.0, loudnessLufs=-12.0))
    calm, _ = baseline_predict(_features(onsetRate=0.5, loudnessLufs=-45.0))
    assert busy["e"] > 4 > 2 > calm["e"]
    bright, _ = baseline_predict(_features(spectralCentroid=5000.0, keyMode=1.0))
    assert bright["m"] > neutral["m"]


def test_calibrate_median_and_iqr() -> None:
    rows = [{"x": float(v)} for v in range(1, 102)]
    ref = calibrate(rows, {"e": {"x": 1.0}})["reference"]["x"]
    assert ref["center"] == 51.0 and ref["scale"] == pytest.approx(50 / 1.349, rel=1e-4)


def test_classify_rows_manual_wins_and_unrenderable_songs() -> None:
    rows = [
        {"sid_path": "B/x.sid", "song_index": 1, "features": _features(), "featureSetVersion": "v"},
        {"sid_path": "A/y.sid", "song_index": 2, "features": None},
        {"sid_path": "A/z.sid", "song_index": 1, "features": None},
    ]
    out, skipped = classify_rows(rows, {("B/x.sid", 1): Rating(e=5, c=1), ("A/y.sid", 2): Rating(e=1, m=1, c=1, p=1)})
    assert skipped == 1
    assert [r["sid_path"] for r in out] == ["A/y.sid", "B/x.sid"]
    assert out[0]["confidence"] == 1.0 and set(out[0]["sources"].values()) == {"manual"}
    assert out[1]["ratings"]["e"] == 5 and out[1]["sources"]["m"] == "predicted" and out[1]["confidence"] == 0.3


def test_auto_tags_group_predicted_dimensions(tmp_path: Path) -> None:
    rows = [
        {
            "sid_path": "MUSICIANS/A/Artist/t.sid",
            "song_index": 1,
            "ratings": {"e": 2.5, "m": 4},
            "sources": {"e": "predicted", "m": "manual"},
        },
        {"sid_path": "MUSICIANS/A/Artist/Sub/u.sid", "song_index": 2, "ratings": {"e": 1}, "sources": {"e": "manual"}},
        {"sid_path": "GAMES/x.sid", "song_index": 1, "ratings": {"e": 4.0}, "sources": {"e": "predicted"}},
    ]
    tags = auto_tags(rows, depth=3)
    assert tags == {"GAMES": {"x.sid#1": {"e": 4.0, "source": "auto"}}, "MUSICIANS/A/Artist": {"t.sid#1": {"e": 2.5, "source": "auto"}}}
    assert write_auto_tags(tmp_path, rows, 3) == 2
    assert json.loads((tmp_path / "MUSICIANS/A/Artist/auto-tags.json").read_text())["t.sid#1"]["e"] == 2.5


def test_jsonl_round_trip_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    digest = write_jsonl_rows(path, [{"b": 1, "a": [1.5]}, {"c": None}])
    assert path.read_text() == '{"a":[1.5],"b":1}\n{"c":null}\n' and len(digest) == 64
    path.write_text(path.read_text() + "garbage\n[1]\n\n")
    rows, bad = read_jsonl_rows(path)
    assert rows == [{"a": [1.5], "b": 1}, {"c": None}] and bad == 2
    assert read_jsonl_rows(tmp_path / "none.jsonl") == ([], 0)
    assert dumps_row({"é": 1}) == '{"é":1}'


def test_progress_logs_when_not_a_terminal() -> None:
    lines: list[str] = []
    with SongProgress(3, "render X", lines.append, every=0.0) as progress:
        for _ in range(3):
            progress.advance()
    assert lines[-1] == "render X: 3/3 songs"


def test_feature_rows_join_trace_features_or_mark_them_missing(tmp_path: Path) -> None:
    """A render with a trace gets the trace features and fingerprint; one without (the
    sidplayfp backend) or with a damaged trace gets them as null — never invented."""
    import numpy as np
    import soundfile as sf

    from sidflow_pipeline.classify.analyse import analyse_records
    from sidflow_pipeline.classify.render import RenderRecord
    from sidflow_pipeline.features import FEATURE_SET_VERSION, TRACE_FEATURE_NAMES
    from sidflow_pipeline.features.trace import sketch_family
    from sidflow_pipeline.sid.engine import Trace

    sr = 22050
    t = np.arange(sr) / sr
    sf.write(tmp_path / "a.wav", 0.3 * np.sin(2 * np.pi * 440 * t), sr)
    regs = np.zeros((200, 1, 25), dtype=np.uint8)
    regs[:, 0, 0x18] = 15
    regs[:, 0, 1] = 0x1D  # ~440 Hz
    regs[:, 0, 4] = np.where((np.arange(200) // 10) % 2 == 1, 0x21, 0x20)  # saw notes, 5 per second
    trace = Trace(regs, (np.arange(200) * 113).astype(np.uint32), np.full(200, 0xFFFF, np.uint16),
                  np.array([0xD400], np.uint16), np.array([1], np.uint8), 1, sr, 113, 0)
    trace.save(tmp_path / "a.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")

    def record(name: str, trace_file: str | None) -> RenderRecord:
        return RenderRecord(f"X/{name}.sid", 1, "md5", name, "ok", "", "a.wav", 0.0, 1.0, 0.1, trace_file)

    rows = analyse_records([record("traced", "a.npz"), record("plain", None), record("broken", "bad.npz")], tmp_path, {}, {})
    by_name = {r["sid_path"]: r for r in rows}
    traced = by_name["X/traced.sid"]
    assert traced["featureSetVersion"] == FEATURE_SET_VERSION
    assert traced["features"]["sidSawShare"] == 1.0 and traced["features"]["sidGateRate"] > 0
    assert sketch_family(traced["traceSketch"], "instrument") and traced["features"]["onsetRate"] is not None
    for name in ("X/plain.sid", "X/broken.sid"):
        row = by_name[name]
        assert all(row["features"][n] is None for n in TRACE_FEATURE_NAMES) and row["traceSketch"] is None
        assert row["features"]["spectralCentroid"] > 0  # the audio features are still there
    assert dumps_row(traced) == dumps_row(analyse_records([record("traced", "a.npz")], tmp_path, {}, {})[0])

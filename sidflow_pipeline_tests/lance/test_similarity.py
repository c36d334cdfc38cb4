"""The "more like this" vector: deterministic, honest about missing data, group-weighted."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from sidflow_pipeline.features.trace import SKETCH_BUCKETS, SKETCH_FAMILIES, TRACE_FEATURE_NAMES
from sidflow_pipeline.lance.similarity import (
    DEFAULT_SPEC,
    SIMILARITY_GROUPS,
    SimilaritySpec,
    fit_similarity,
)


def _rows(count: int, seed: int) -> tuple[list[dict], list[dict | None]]:
    rng = np.random.default_rng(seed)
    names = DEFAULT_SPEC.names
    rows = [{n: float(rng.normal(10.0, 3.0)) for n in names} for _ in range(count)]
    sketches: list[dict | None] = []
    for i in range(count):
        index: list[int] = []
        share: list[float] = []
        for number, _family in enumerate(SKETCH_FAMILIES):
            buckets = sorted({int(b) for b in rng.integers(0, SKETCH_BUCKETS, size=3)})
            shares = rng.random(len(buckets))
            index += [number * SKETCH_BUCKETS + b for b in buckets]
            share += [float(v / shares.sum()) for v in shares]
        sketch = {"buckets": SKETCH_BUCKETS, "index": index, "share": share}
        sketches.append(sketch if i % 5 else None)  # every fifth song has no trace
    return rows, sketches


def test_vector_is_deterministic_and_described_in_the_manifest() -> None:
    rows, sketches = _rows(60, 1)
    first = fit_similarity(rows, sketches=sketches)
    second = fit_similarity([dict(r) for r in rows], sketches=[None if s is None else dict(s) for s in sketches])
    a, b = first.matrix(rows, sketches), second.matrix(rows, sketches)
    assert a.dtype == np.float32 and a.tobytes() == b.tobytes()
    assert a.shape == (60, DEFAULT_SPEC.dimension) == (60, 64)
    assert DEFAULT_SPEC.full_dimension == len(DEFAULT_SPEC.names) + len(SKETCH_FAMILIES) * SKETCH_BUCKETS
    assert manifest_projection(first)["full_dimension"] == DEFAULT_SPEC.full_dimension
    manifest = first.to_json()
    assert json.dumps(manifest, sort_keys=True) == json.dumps(second.to_json(), sort_keys=True)
    assert manifest["metric"] == "cosine" and manifest["weighting"] == "group"
    assert [f["name"] for f in manifest["features"]] == list(DEFAULT_SPEC.names)
    assert set(manifest["sketch"]["families"]) == set(SKETCH_FAMILIES)


def test_missing_trace_adds_nothing_either_way() -> None:
    rows, sketches = _rows(40, 2)
    # Unwhitened and unprojected, so each column is still one feature (both mix them).
    model = fit_similarity(rows, replace(DEFAULT_SPEC, whiten=None, components=None), sketches)
    bare = {n: v for n, v in rows[0].items() if n not in TRACE_FEATURE_NAMES} | dict.fromkeys(TRACE_FEATURE_NAMES)
    vector = model.matrix([bare], [None])[0]
    assert (
        not fit_similarity(rows, replace(DEFAULT_SPEC, components=None), sketches)
        .matrix([bare], [None])[0][len(DEFAULT_SPEC.names) :]
        .any()
    )
    names = list(DEFAULT_SPEC.names)
    trace_columns = [i for i, n in enumerate(names) if n in TRACE_FEATURE_NAMES]
    assert trace_columns and not vector[trace_columns].any()  # at the median: 0
    assert not vector[len(names):].any()  # no sketch: zeros, not the collection mean
    audio_columns = [i for i, n in enumerate(names) if n not in TRACE_FEATURE_NAMES]
    assert vector[audio_columns].any()


def test_groups_weigh_the_same_whatever_their_size() -> None:
    rows, sketches = _rows(400, 3)
    model = fit_similarity(rows, replace(DEFAULT_SPEC, whiten=None, components=None), sketches)
    matrix = model.matrix(rows, sketches).astype(np.float64)
    start = 0
    energies = {}
    for group, names in SIMILARITY_GROUPS.items():
        block = matrix[:, start : start + len(names)]
        energies[group] = float(np.mean(np.sum(block**2, axis=1)))
        start += len(names)
    # Robust z of normal data has unit variance (clipped at 3): each group's expected
    # squared norm is ~1 whether it has 3 or 18 columns.
    assert all(0.7 < e < 1.3 for e in energies.values()), energies
    for f in range(len(SKETCH_FAMILIES)):
        block = matrix[:, start + f * SKETCH_BUCKETS : start + (f + 1) * SKETCH_BUCKETS]
        norms = np.linalg.norm(block, axis=1)
        assert np.allclose(norms[[i for i, s in enumerate(sketches) if s]], 1.0, atol=1e-4)
    flat = fit_similarity(rows, SimilaritySpec(weighting="flat", sketch_families=(), components=None))
    assert flat.dimension == len(DEFAULT_SPEC.names)


def test_rates_are_compared_on_a_log_scale() -> None:
    spec = SimilaritySpec(groups={"rhythm": ("sidGateRate",)}, sketch_families=(), components=None)
    rows = [{"sidGateRate": v} for v in (100.0, 200.0, 400.0, 800.0, 1600.0)]
    model = fit_similarity(rows, spec)
    z = model.matrix(rows)[:, 0]
    assert np.allclose(np.diff(z[:4]), np.diff(z[:4])[0], atol=0.02)  # each doubling is one step
    assert fit_similarity(rows, spec).to_json()["log1p"] == ["sidGateRate"]


def test_ablation_specs_keep_or_drop_blocks() -> None:
    only = DEFAULT_SPEC.only(["trace_filter", "sketch_tuning"])
    assert list(only.groups) == ["trace_filter"] and only.sketch_families == ("tuning",)
    rest = DEFAULT_SPEC.without(["trace_filter", "sketch_tuning"])
    assert "trace_filter" not in rest.groups and "tuning" not in rest.sketch_families
    assert set(rest.blocks) | {"trace_filter", "sketch_tuning"} == set(DEFAULT_SPEC.blocks)
    with pytest.raises(ValueError, match="two similarity groups"):
        fit_similarity([{}], SimilaritySpec(groups={"a": ("bpm",), "b": ("bpm",)}))


def test_whitening_stops_a_duplicated_feature_counting_twice() -> None:
    rng = np.random.default_rng(4)
    base = rng.normal(size=(4000, 3))
    # bpm and onsetRate measure the same thing; keyMode is independent.
    rows = [{"bpm": x[0], "onsetRate": x[0] + 0.01 * x[1], "keyMode": x[2]} for x in base]
    ratios = {}
    for whiten in (None, 0.5):
        spec = SimilaritySpec(
            groups={"g": ("bpm", "onsetRate", "keyMode")},
            log_rates=False,
            sketch_families=(),
            whiten=whiten,
            components=None,
        )
        m = fit_similarity(rows, spec).matrix(rows).astype(np.float64)
        ratios[whiten] = float(np.mean(m[:, 0] ** 2 + m[:, 1] ** 2) / np.mean(m[:, 2] ** 2))
    # Unwhitened the duplicated direction carries twice the weight of the independent one;
    # whitened (shrinkage 0.5: eigenvalue 2 → 1.5) only 2/1.5 ≈ 1.33 times.
    assert ratios[None] == pytest.approx(2.0, rel=0.15) and ratios[0.5] == pytest.approx(4 / 3, rel=0.15)
    model = fit_similarity(rows, replace(DEFAULT_SPEC, groups={"g": ("bpm", "onsetRate", "keyMode")}, sketch_families=()))
    assert model.to_json()["whitening"]["shrinkage"] == 0.5 and len(model.to_json()["whitening"]["matrix_sha256"]) == 64


def manifest_projection(model: object) -> dict:
    return model.to_json()["projection"]  # type: ignore[attr-defined]


def test_projection_keeps_the_cosine_ranking_and_fit_transform_agrees() -> None:
    from sidflow_pipeline.lance.similarity import fit_transform

    rows, sketches = _rows(200, 5)
    full_model = fit_similarity(rows, replace(DEFAULT_SPEC, components=None), sketches)
    full = full_model.matrix(rows, sketches).astype(np.float64)
    model, projected = fit_transform(rows, sketches=sketches)
    assert projected.tobytes() == fit_similarity(rows, sketches=sketches).matrix(rows, sketches).tobytes()
    assert 0.0 < manifest_projection(model)["variance_kept"] <= 1.0
    # With all the components the projection is a rotation of the centred vectors: same distances.
    everything = fit_similarity(rows, replace(DEFAULT_SPEC, components=DEFAULT_SPEC.full_dimension), sketches)
    rotated = everything.matrix(rows, sketches).astype(np.float64)
    centred = full - full.mean(axis=0)
    assert np.allclose(np.linalg.norm(rotated[:5, None] - rotated[None, :5], axis=2),
                       np.linalg.norm(centred[:5, None] - centred[None, :5], axis=2), atol=1e-3)

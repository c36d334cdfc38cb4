"""What stations and playlist shapes know about a song beyond its score.

A recommendation carries ratings, tempo and feedback counts; stations and shapes also
need the **release year** (the first 19xx/20xx in the header's ``released`` text, as
``sidflow search`` reads it; the catalog holds it) and the song's **timbre**, the four
spectral features of its analysed excerpt (``spectralCentroid``, ``spectralRolloff``,
``spectralFlatness``, ``spectralContrast``). The snapshot engine keeps both as arrays
(``year``, ``timbre``); the LanceDB engine reads them from the table's ``features``
column and the catalog, so both engines give the same facts and the same lists.

Timbre is compared in z-scores over the whole collection (mean and standard deviation
per feature), so Hz and dB do not outweigh a 0–1 flatness; a song without features
sits at the mean (distance 0 on that feature, no invented difference).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TIMBRE_FEATURES", "SongFacts", "catalog_years", "song_facts", "timbre_matrix", "year_of"]

TIMBRE_FEATURES = ("spectralCentroid", "spectralRolloff", "spectralFlatness", "spectralContrast")
_YEAR = re.compile(r"((?:19|20)[0-9]{2})")


def year_of(released: str | None) -> int | None:
    """The year of a ``released`` text, as the search view reads it (``"1987 Thalamus"`` → 1987)."""
    match = _YEAR.search(released or "")
    return int(match.group(1)) if match else None


def catalog_years(catalog_path: Path | None, sid_paths: Sequence[str], songs: Iterable[int]) -> np.ndarray:
    """Release years (−1 = unknown) aligned with ``sid_paths``, from the catalog's ``released``."""
    out = np.full(len(sid_paths), -1, dtype=np.int32)
    if catalog_path is None or not Path(catalog_path).is_file():
        return out
    import pyarrow.parquet as pq

    catalog = pq.read_table(catalog_path, columns=["sid_path", "released"])
    years = {
        p: year_of(r) for p, r in zip(catalog["sid_path"].to_pylist(), catalog["released"].to_pylist(), strict=True)
    }
    for i, path in enumerate(sid_paths):
        year = years.get(path)
        out[i] = year if year is not None else -1
    del songs  # the year is the file's (the header has one ``released`` for every song)
    return out


def timbre_matrix(features: Sequence[str | dict[str, Any] | None]) -> np.ndarray:
    """N × 4 float32 of :data:`TIMBRE_FEATURES` from each row's ``features`` (JSON text or dict); NaN = missing."""
    out = np.full((len(features), len(TIMBRE_FEATURES)), np.nan, dtype=np.float32)
    for i, raw in enumerate(features):
        try:
            values = json.loads(raw) if isinstance(raw, str) else (raw or {})
        except json.JSONDecodeError:
            continue
        for j, name in enumerate(TIMBRE_FEATURES):
            value = values.get(name) if isinstance(values, dict) else None
            if isinstance(value, int | float):
                out[i, j] = float(value)
    return out


def _zscores(matrix: np.ndarray) -> np.ndarray:
    """Per-column z-scores over the collection; missing values sit at the mean (0)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.size == 0:
        return matrix
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(matrix)
        counts = finite.sum(axis=0)
        mean = np.where(counts > 0, np.nansum(np.where(finite, matrix, 0.0), axis=0) / np.maximum(counts, 1), 0.0)
        centred = np.where(finite, matrix - mean, 0.0)
        std = np.sqrt((centred**2).sum(axis=0) / np.maximum(counts, 1))
    return centred / np.where(std > 0, std, 1.0)


@dataclass(frozen=True)
class SongFacts:
    """Per key: the release year (None = unknown) and the z-scored timbre (4 numbers)."""

    year: dict[str, int | None]
    timbre: dict[str, tuple[float, ...]]
    years: tuple[int, int] | None  # the collection's earliest and latest known year


def _facts(keys: Sequence[str], all_keys: Sequence[str], years: np.ndarray, timbre: np.ndarray) -> SongFacts:
    position = {k: i for i, k in enumerate(all_keys)}
    z = _zscores(timbre)
    known = years[years >= 0]
    out_year: dict[str, int | None] = {}
    out_timbre: dict[str, tuple[float, ...]] = {}
    for key in keys:
        i = position.get(key)
        if i is None:
            continue
        out_year[key] = int(years[i]) if years[i] >= 0 else None
        out_timbre[key] = tuple(float(v) for v in z[i])
    span = (int(known.min()), int(known.max())) if known.size else None
    return SongFacts(out_year, out_timbre, span)


def song_facts(engine: Any, keys: Sequence[str], catalog_path: Path | None = None) -> SongFacts:
    """Facts for ``keys`` from either engine (the snapshot's arrays, or LanceDB + the catalog)."""
    arrays = getattr(engine, "arrays", None)
    if isinstance(arrays, dict) and "year" in arrays and "timbre" in arrays:
        return _facts(keys, engine.keys(), arrays["year"], arrays["timbre"])
    table = engine._read(lambda: engine.table.to_arrow().select(["key", "sid_path", "song_index", "features"]))
    all_keys = table["key"].to_pylist()
    years = catalog_years(catalog_path, table["sid_path"].to_pylist(), table["song_index"].to_pylist())
    return _facts(keys, all_keys, years, timbre_matrix(table["features"].to_pylist()))

"""Read-only recommendations from a numpy snapshot of the ``songs`` table.

Why: ``import lancedb`` alone takes 1–2 s (0.56 s of it a REST client ``lancedb.db``
imports eagerly), several times what a recommendation costs. The CLI only *reads*
the table, and an exact nearest-neighbour search over a few thousand — even 88,000 —
songs is a few milliseconds of numpy (bench/db.py measures numpy brute force against
LanceDB on the same rows). So the first read after each rebuild copies the columns a
recommendation needs, plus each song's real length from the catalog, into one
``.npz`` file; every later start loads it with numpy alone.

The snapshot answers exactly like :class:`~sidflow_pipeline.recommend.engine.Recommender`:
the same prefilters, the same k-nearest pool with the same tie rule, and the shared
:func:`~sidflow_pipeline.recommend.engine.rank`. Distances are computed in float32 as
LanceDB does (squared L2; cosine distance ``1 − cos``). The test suite runs both engines
on the same tables and requires the same lists.

Staleness: the snapshot records the identity of the table's version files
(``_versions/``) and of the catalog (size, mtime); any rebuild changes them, and the
snapshot is rebuilt on the next read. It is derived data and lives under
``dataPath/cache/``.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sidflow_pipeline.recommend.engine import (
    DatabaseUnavailable,
    Recommendation,
    RecommendRequest,
    TasteProfile,
    _unit,
    database_unreadable,
    rank,
    seedless_similarity,
    taste_profile,
    taste_scores,
    with_live_counts,
)
from sidflow_pipeline.recommend.filters import Filter, QueryError

__all__ = ["SNAPSHOT_VERSION", "SnapshotRecommender", "source_stamp", "write_snapshot"]

SNAPSHOT_VERSION = 2  # 2: year (catalog) and timbre (spectral features) for stations and shapes
_FLOATS = ("e", "m", "c", "p", "bpm", "duration")
_COUNTS = ("likes", "dislikes", "skips", "plays")
_STRINGS = ("key", "sid_path", "title", "composer")
# "More like this" searches the table's similarity column; newer tables call it
# similarity_vector, older ones audio_vector. The snapshot keeps whichever exists.
LIKE_COLUMNS = ("similarity_vector", "audio_vector")


def source_stamp(db_path: Path, catalog_path: Path | None, table_name: str = "songs") -> str:
    """Identity of the table version and the catalog: changes whenever either is rebuilt."""
    digest = hashlib.sha256(f"v{SNAPSHOT_VERSION}\0{db_path.resolve()}".encode())
    versions = db_path / f"{table_name}.lance" / "_versions"
    try:
        entries = sorted(os.scandir(versions), key=lambda e: e.name)
    except OSError:
        entries = []
    for entry in entries:
        info = entry.stat()
        digest.update(f"{entry.name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    if catalog_path is not None and catalog_path.is_file():
        info = catalog_path.stat()
        digest.update(f"catalog\0{info.st_size}\0{info.st_mtime_ns}".encode())
    return digest.hexdigest()


def _pack_strings(values: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [(v or "").encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


def write_snapshot(db_path: Path, catalog_path: Path | None, out_path: Path | None, table_name: str = "songs") -> dict[str, np.ndarray]:
    """Copy what recommendations read from the LanceDB table (+ catalog lengths) to ``out_path``
    (when given) and return the arrays."""
    import lancedb

    from sidflow_pipeline.atomic import atomic_write_bytes

    stamp = source_stamp(db_path, catalog_path, table_name)
    try:
        table = lancedb.connect(str(db_path)).open_table(table_name)
        names = set(table.schema.names)
        like = next((c for c in LIKE_COLUMNS if c in names), None)
        columns = [*_STRINGS, "song_index", *_FLOATS, *_COUNTS, "rated", "vector", "mood_vector", *([like] if like else [])]
        data = table.to_arrow().select([*columns, *(["features"] if "features" in names else [])])
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # any failure to read (a Rust panic too) is "corrupt", as in Recommender
        raise database_unreadable(db_path, exc) from exc
    arrays: dict[str, np.ndarray] = {"stamp": np.array(stamp), "like_column": np.array(like or "")}
    for name in _STRINGS:
        arrays[f"{name}_blob"], arrays[f"{name}_offsets"] = _pack_strings(data[name].to_pylist())
    arrays["song_index"] = data["song_index"].to_numpy().astype(np.int32)
    for name in _FLOATS:
        arrays[name] = data[name].to_numpy().astype(np.float32)
    for name in _COUNTS:
        arrays[name] = data[name].to_numpy().astype(np.int32)
    arrays["rated"] = data["rated"].to_numpy(zero_copy_only=False).astype(bool)
    for name in ("vector", "mood_vector", *([like] if like else [])):
        width = data.schema.field(name).type.list_size
        arrays[name] = data[name].combine_chunks().flatten().to_numpy().astype(np.float32).reshape(data.num_rows, width)
    arrays["length_ms"] = _lengths(catalog_path, data["sid_path"].to_pylist(), arrays["song_index"])
    from sidflow_pipeline.recommend.facts import catalog_years, timbre_matrix

    arrays["year"] = catalog_years(catalog_path, data["sid_path"].to_pylist(), arrays["song_index"])
    arrays["timbre"] = timbre_matrix(data["features"].to_pylist() if "features" in data.column_names else [None] * data.num_rows)
    if out_path is not None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub reads **arrays as allow_pickle
        atomic_write_bytes(out_path, buffer.getvalue())
    return arrays


def _lengths(catalog_path: Path | None, sid_paths: list[str], songs: np.ndarray) -> np.ndarray:
    """Real song lengths (ms, −1 = unknown) from the catalog, aligned with the table's rows."""
    out = np.full(len(sid_paths), -1, dtype=np.int64)
    if catalog_path is None or not catalog_path.is_file():
        return out
    import pyarrow.parquet as pq

    catalog = pq.read_table(catalog_path, columns=["sid_path", "song_index", "length_ms"])
    known = {
        (p, int(s)): ms
        for p, s, ms in zip(
            catalog["sid_path"].to_pylist(),
            catalog["song_index"].to_pylist(),
            catalog["length_ms"].to_pylist(),
            strict=True,
        )
        if ms is not None
    }
    for i, (path, song) in enumerate(zip(sid_paths, songs.tolist(), strict=True)):
        out[i] = known.get((path, song), -1)
    return out


def _filter_mask(f: Filter, values: np.ndarray) -> np.ndarray:
    """Numpy twin of :meth:`Filter.sql` (the same boundaries)."""
    if f.high is not None:
        return (values >= f.value) & (values <= f.high)
    if f.op == "=":
        return (values >= f.value - 0.5) & (values < f.value + 0.5)
    if f.op == "!=":
        return (values < f.value - 0.5) | (values >= f.value + 0.5)
    compare = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less}[f.op]
    mask: np.ndarray = compare(values, f.value)
    return mask


class SnapshotRecommender:
    """:class:`Recommender`'s read-only twin over the snapshot; the CLI's engine.

    Composer similarity is ranked here too (:func:`rank_composers`); anything else a caller
    asks of it is passed on to the LanceDB engine, opened only then.
    """

    def __init__(self, db_path: Path, cache_path: Path, catalog_path: Path | None = None, table_name: str = "songs") -> None:
        if not (db_path / f"{table_name}.lance").exists():
            raise DatabaseUnavailable(
                f"no song database at {db_path}: materialize sidflow_lance (scripts/run.sh, or "
                "`dagster asset materialize -m sidflow_pipeline.definitions --select sidflow_lance`)"
            )
        self.db_path, self.table_name = db_path, table_name
        stamp = source_stamp(db_path, catalog_path, table_name)
        arrays = self._load(cache_path, stamp)
        if arrays is None:
            try:
                arrays = write_snapshot(db_path, catalog_path, cache_path, table_name)
            except OSError:  # a read-only data folder: answer from memory, copy again next time
                arrays = write_snapshot(db_path, catalog_path, None, table_name)
        self.arrays = arrays
        self.size = int(arrays["song_index"].shape[0])
        self.like_column = str(arrays["like_column"]) or None
        self._keys: list[str] | None = None
        self._positions: dict[str, int] | None = None
        self._engine: Any = None

    @staticmethod
    def _load(path: Path, stamp: str) -> dict[str, np.ndarray] | None:
        try:
            with np.load(path) as npz:
                if str(npz["stamp"]) != stamp:
                    return None
                return {name: npz[name] for name in npz.files}
        except (OSError, ValueError, KeyError):
            return None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._engine is None:
            from sidflow_pipeline.recommend.engine import Recommender

            self._engine = Recommender(self.db_path, self.table_name)
        return getattr(self._engine, name)

    def _string(self, name: str, i: int) -> str:
        offsets = self.arrays[f"{name}_offsets"]
        return self.arrays[f"{name}_blob"][offsets[i] : offsets[i + 1]].tobytes().decode("utf-8")

    def keys(self) -> list[str]:
        if self._keys is None:
            blob = self.arrays["key_blob"].tobytes()
            offsets = self.arrays["key_offsets"].tolist()
            self._keys = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(self.size)]
        return self._keys

    def _index(self, key: str) -> int | None:
        if self._positions is None:
            self._positions = {k: i for i, k in enumerate(self.keys())}
        return self._positions.get(key)

    def song(self, sid_path: str, song_index: int) -> dict[str, Any] | None:
        i = self._index(f"{sid_path}#{song_index}")
        return None if i is None else self._row(i)

    def _row(self, i: int) -> dict[str, Any]:
        a = self.arrays
        row: dict[str, Any] = {name: self._string(name, i) for name in _STRINGS}
        row["song_index"] = int(a["song_index"][i])
        row.update({name: float(a[name][i]) for name in _FLOATS})
        row.update({name: int(a[name][i]) for name in _COUNTS})
        row["rated"] = bool(a["rated"][i])
        row["vector"] = [float(v) for v in a["vector"][i]]
        if self.like_column:
            row[self.like_column] = [float(v) for v in a[self.like_column][i]]
        length = int(a["length_ms"][i])
        row["length_ms"] = length if length >= 0 else None
        return row

    def similar_composers(self, name: str, limit: int = 20, min_songs: int = 2) -> tuple[str, list[Any]]:
        """:meth:`Recommender.similar_composers` from the snapshot (no LanceDB import: the
        composer station and ``--like-composer`` answer in numpy time)."""
        from sidflow_pipeline.recommend.engine import SIMILARITY_COLUMN, Recommender, rank_composers

        if self.like_column != SIMILARITY_COLUMN:  # an older table: the engine reads its column
            return Recommender(self.db_path, self.table_name).similar_composers(name, limit, min_songs)
        composers = np.array([self._string("composer", i) for i in range(self.size)], dtype=object)
        vectors = self.arrays[self.like_column].astype(np.float64)
        return rank_composers(composers, self.keys(), vectors, name, limit, min_songs)

    def _mask(self, request: RecommendRequest) -> np.ndarray:
        a = self.arrays
        mask = np.ones(self.size, dtype=bool)
        for f in request.filters:
            mask &= _filter_mask(f, a[f.field])
        if request.unrated:
            mask &= ~a["rated"]
        blocked: frozenset[tuple[str, int]] = getattr(request.live, "blocked", frozenset())
        if request.exclude or blocked or request.only is not None:
            keys = self.keys()
            if request.exclude or blocked:
                gone = request.exclude | blocked
                mask &= np.fromiter((k not in gone for k in keys), dtype=bool, count=self.size)
            if request.only is not None:
                mask &= np.fromiter((k in request.only for k in keys), dtype=bool, count=self.size)
        return mask

    def _search(self, query: np.ndarray, column: str, metric: str, mask: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows (indices) and float32 distances of the k-nearest pool, with the engine's tie rule."""
        rows = np.nonzero(mask)[0]
        vectors = self.arrays[column][rows]
        if metric == "l2":
            distance = np.square(vectors - query).sum(axis=1, dtype=np.float32)
        else:
            norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(query)
            # A zero vector has no direction: its cosine is undefined and LanceDB leaves it out.
            rows, vectors, norms = rows[norms > 0], vectors[norms > 0], norms[norms > 0]
            distance = (np.float32(1.0) - (vectors @ query) / norms).astype(np.float32)
        order = np.argsort(distance, kind="stable")
        if len(order) <= k or distance[order[k]] > distance[order[k - 1]]:
            chosen = order[:k]
        else:
            boundary = distance[order[k - 1]]
            inside = order[distance[order] < boundary]
            chosen = inside if len(inside) >= k // 2 else np.concatenate([inside, np.nonzero(distance == boundary)[0]])
        return rows[chosen], distance[chosen]

    def _profile(self, request: RecommendRequest) -> TasteProfile | None:
        if request.live is None or not self.like_column:
            return None
        column = self.arrays[self.like_column]

        def vector_of(keys: list[str]) -> dict[str, np.ndarray]:
            found = {k: self._index(k) for k in keys}
            return {k: column[i] for k, i in found.items() if i is not None}

        def composer_of(keys: list[str]) -> dict[str, str]:
            found = {k: self._index(k) for k in keys}
            return {k: self._string("composer", i) for k, i in found.items() if i is not None}

        return taste_profile(request.live, vector_of, composer_of)

    def _composers(self, rows: np.ndarray, profile: TasteProfile | None) -> list[str] | None:
        """The candidates' composers for the artist affinity (not decoded without one)."""
        if profile is None or not profile.artists:
            return None
        return [self._string("composer", int(i)) for i in rows]

    def recommend(self, request: RecommendRequest) -> list[Recommendation]:
        if request.only is not None and not request.only:
            return []
        mask = self._mask(request)
        k = min(max(request.k, 5 * request.limit) * (1 + round(4 * request.exploration)), max(self.size, 1))
        profile = self._profile(request)
        seedless_taste: np.ndarray | None = None
        if request.like is None and request.vector is None:
            if not self.like_column:
                raise QueryError("this song database has no similarity vectors; rebuild sidflow_lance")
            found = np.nonzero(mask)[0]
            seedless_taste = taste_scores(_unit(self.arrays[self.like_column][found]), profile, self._composers(found, profile))
            similarity = seedless_similarity(seedless_taste, profile)
        elif request.like is not None:
            seed = self._index(f"{request.like[0]}#{request.like[1]}")
            if seed is None:
                raise QueryError(f"{request.like[0]}:{request.like[1]} is not in the song database")
            if not self.like_column:
                raise QueryError("this song database has no similarity vectors; rebuild sidflow_lance")
            mask[seed] = False
            found, distance = self._search(self.arrays[self.like_column][seed], self.like_column, "cosine", mask, k)
            similarity = np.clip(1.0 - distance / 2.0, 0.0, 1.0)
        else:
            assert request.vector is not None
            column = "mood_vector" if len(request.vector) == 3 else "vector"
            found, distance = self._search(np.asarray(request.vector, dtype=np.float32), column, "l2", mask, k)
            d_max = 4.0 * float(np.sqrt(len(request.vector)))
            similarity = 1.0 - np.sqrt(distance.astype(np.float64)) / d_max
        if len(found) == 0:
            return []
        a = self.arrays
        cols: Mapping[str, np.ndarray] = {name: a[name][found] for name in ("likes", "dislikes", "skips", "plays", "p")}
        keys = [self._string("key", int(i)) for i in found]
        vectors = [tuple(float(x) for x in v) for v in a["vector"][found]]
        taste = None
        if self.like_column and profile is not None:
            taste = seedless_taste if seedless_taste is not None else taste_scores(
                _unit(a[self.like_column][found]), profile, self._composers(found, profile)
            )
        chosen, score, song_feedback, user_affinity = rank(request, dict(cols), keys, vectors, similarity, taste)
        out = []
        for position, i in enumerate(chosen, start=1):
            row = self._row(int(found[i]))
            out.append(
                Recommendation(
                    rank=position,
                    **{name: row[name] for name in (*_STRINGS, "song_index", *_FLOATS, *_COUNTS)},
                    score=float(score[i]),
                    similarity=float(similarity[i]),
                    song_feedback=float(song_feedback[i]),
                    user_affinity=float(user_affinity[i]),
                    length_ms=row["length_ms"],
                )
            )
        return with_live_counts(out, request.live)

"""Recommendations from the LanceDB ``songs`` table.

Flow (design document, phase 8): LanceDB nearest-neighbour search for the seed (with
the filters applied before the search) → re-rank by
``score = α·similarity + β·song_feedback + γ·user_affinity`` (0.6 / 0.3 / 0.1) →
diversity filter between consecutive songs.

Choices the design leaves open, and why:

* **Similarity in rating space is distance-based**, ``1 − ‖q − v‖ / ‖(4,…,4)‖``, not the
  cosine of raw 1–5 ratings: that cosine calls ``[1,1,1]`` and ``[5,5,5]`` identical, so
  "quiet" would return loud songs. "More like this" (``--like``) uses the cosine of the
  similarity vector (audio + SID register-trace features, see ``lance/build.py``),
  whose features are centred at the collection median, where the cosine is meaningful.
* **A 3-number query** (a mood) is searched in ``mood_vector`` ``[e,m,c]``; ``p`` then acts
  only through ``user_affinity = (p − 3) / 2``, instead of being guessed for the query.
* **song_feedback** is ``(likes − dislikes − 0.3·skips) / plays``, with the denominator at
  least ``likes + dislikes`` (a like from the CLI without a play must not divide by 0),
  clipped to −1..1 so one song's history cannot outweigh similarity.
* **Exploration** x ∈ 0..1 widens the candidate pool (k·(1+4x)), lowers the weight of
  the preference term (γ·(1−x)) and adds seeded noise of amplitude 0.25·x, derived
  from the song key and ``seed`` so results do not depend on the engine's row order.
* **Ties**: when the k-th candidate's distance is shared by songs past k, the pool is cut
  before that distance (or, if that leaves under k/2, the whole tie group is fetched
  with ``distance_range``), so the pool never depends on how LanceDB breaks ties; the
  final order is (score desc, key).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from sidflow_pipeline.recommend.filters import Filter, QueryError, filters_to_sql

if TYPE_CHECKING:  # pyarrow costs 0.25 s to import; the snapshot engine never needs it
    import pyarrow as pa

__all__ = [
    "ComposerMatch",
    "DatabaseUnavailable",
    "RecommendRequest",
    "Recommendation",
    "Recommender",
    "Weights",
    "parse_song_ref",
]

# What the search returns per candidate; titles and composers are fetched only for the
# songs finally chosen (strings are the costly columns to materialise).
_SEARCH_COLUMNS = ["key", "e", "m", "c", "p", "bpm", "duration", "likes", "dislikes", "skips", "plays", "vector"]
_DISPLAY_COLUMNS = ["key", "sid_path", "song_index", "title", "composer"]
_T = TypeVar("_T")
SIMILARITY_COLUMN = "similarity_vector"


class DatabaseUnavailable(RuntimeError):
    """No database (or an unreadable one); the message says how to build it."""


@dataclass(frozen=True)
class Weights:
    similarity: float = 0.6
    feedback: float = 0.3
    affinity: float = 0.1


@dataclass(frozen=True)
class RecommendRequest:
    vector: tuple[float, ...] | None = None
    like: tuple[str, int] | None = None
    filters: tuple[Filter, ...] = ()
    limit: int = 20
    exploration: float = 0.2
    diversity: float = 0.2
    seed: int = 0
    k: int = 100
    exclude: frozenset[str] = field(default_factory=frozenset)
    unrated: bool = False
    weights: Weights = field(default_factory=Weights)
    # Keys (``sid_path#song``) allowed by ``--where`` (a catalog search); None = all.
    only: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if (self.vector is None) == (self.like is None):
            raise QueryError("give exactly one seed: a mood, a vector or a song to be like")
        if self.vector is not None and len(self.vector) not in (3, 4):
            raise QueryError("a query vector has 3 (e,m,c) or 4 (e,m,c,p) numbers")
        if not 0.0 <= self.exploration <= 1.0:
            raise QueryError(f"exploration must be within 0..1, not {self.exploration:g}")
        if self.diversity < 0:
            raise QueryError(f"diversity must not be negative, not {self.diversity:g}")
        if self.limit < 1:
            raise QueryError(f"limit must be at least 1, not {self.limit}")
        if any(f.field == "duration" for f in self.filters):
            # The table's duration is the analysed excerpt (20 s), not the song; a song's
            # length lives in the catalog, so it is a catalog condition (``only``).
            raise QueryError("duration filters are song lengths from the catalog: pass them as `only` keys (the CLI does)")


@dataclass(frozen=True)
class Recommendation:
    rank: int
    key: str
    sid_path: str
    song_index: int
    title: str
    composer: str
    e: float
    m: float
    c: float
    p: float
    bpm: float
    duration: float
    likes: int
    dislikes: int
    skips: int
    plays: int
    score: float
    similarity: float
    song_feedback: float
    user_affinity: float
    length_ms: int | None = None  # the real length (Songlengths.md5), when known

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("e", "m", "c", "p", "bpm", "duration", "score", "similarity", "song_feedback", "user_affinity"):
            out[name] = round(float(out[name]), 4)
        return out


@dataclass(frozen=True)
class ComposerMatch:
    """A composer and how close their tunes are, as a body of work, to the asked one's."""

    rank: int
    composer: str
    songs: int
    similarity: float
    example: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "similarity": round(self.similarity, 4)}


def parse_song_ref(text: str) -> tuple[str, int]:
    """``SID[:song]`` → (HVSC-relative path without leading slash, 1-based song)."""
    path, sep, song = text.rpartition(":") if ":" in text else (text, "", "")
    if not sep:
        path, song = text, "1"
    try:
        index = int(song)
    except ValueError:
        raise QueryError(f"song {text!r}: expected SID[:song] with a song number after ':'") from None
    if index < 1:
        raise QueryError(f"song {text!r}: song numbers start at 1")
    return path.strip().lstrip("/"), index


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _noise(seed: int, keys: Iterable[str]) -> np.ndarray:
    values = []
    for key in keys:
        digest = hashlib.blake2b(f"{seed}\0{key}".encode(), digest_size=8).digest()
        values.append(int.from_bytes(digest, "big") / 2.0**64)
    return np.asarray(values, dtype=np.float64)


def database_unreadable(db_path: Path, exc: BaseException, failed: str = "cannot be read") -> DatabaseUnavailable:
    """One line naming the damaged database and the command that rebuilds it."""
    from sidflow_pipeline.lance.verify import fix_command

    first = (str(exc).splitlines() or [""])[0][:160]
    return DatabaseUnavailable(
        f"song database {db_path} {failed} ({type(exc).__name__}: {first}); rebuild it: "
        f"rm -rf {db_path} && {fix_command('sidflow_lance')}"
    )


class Recommender:
    """Opens the table once; :meth:`recommend` is then cheap enough for an interactive radio.

    Opening reads only the table's manifest, so a damaged data file shows up at the
    first query: every read goes through :meth:`_read`, which turns whatever LanceDB
    raises (an I/O error, a decode error, a Rust panic) into :class:`DatabaseUnavailable`.
    """

    def __init__(self, db_path: Path, table_name: str = "songs") -> None:
        import lancedb

        if not (db_path / f"{table_name}.lance").exists():
            raise DatabaseUnavailable(
                f"no song database at {db_path}: materialize sidflow_lance (scripts/run.sh, or "
                "`dagster asset materialize -m sidflow_pipeline.definitions --select sidflow_lance`)"
            )
        self.db_path = db_path
        try:
            self.table = lancedb.connect(str(db_path)).open_table(table_name)
            self.size = self.table.count_rows()
        except Exception as exc:  # any failure to open is "corrupt" to the user
            raise database_unreadable(db_path, exc, "cannot be opened") from exc

    def _read(self, query: Callable[[], _T]) -> _T:
        try:
            return query()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - pyo3 panics derive from BaseException
            raise database_unreadable(self.db_path, exc) from exc

    def song(self, sid_path: str, song_index: int) -> dict[str, Any] | None:
        key = f"{sid_path}#{song_index}"
        columns = sorted({*_SEARCH_COLUMNS, *_DISPLAY_COLUMNS, SIMILARITY_COLUMN})
        rows = self._read(lambda: self.table.search().where(f"key = {_quote(key)}").select(columns).limit(1).to_list())
        return rows[0] if rows else None

    def similar_composers(self, name: str, limit: int = 20, min_songs: int = 2) -> tuple[str, list[ComposerMatch]]:
        """Composers ranked by the cosine between their centroid and ``name``'s.

        A composer's centroid is the mean of their songs' unit-length similarity
        vectors, so a prolific composer is not "closer" for having more songs, and one
        odd tune moves the centroid only by its share. Composers are the SID header's
        author (the ``composer`` column); ``name`` matches it case-insensitively, whole
        or — when that matches nobody — as a unique part. Composers with fewer than
        ``min_songs`` songs are left out of the ranking (one song is no style).
        Returns the matched composer and the ranking (ties by name).
        """
        table = self._read(lambda: self.table.search().select(["composer", "key", SIMILARITY_COLUMN]).limit(max(self.size, 1)).to_arrow())
        composers = np.array(table["composer"].to_pylist(), dtype=object)
        keys = table["key"].to_pylist()
        vectors = np.asarray(table[SIMILARITY_COLUMN].to_pylist(), dtype=np.float64).reshape(len(keys), -1)
        wanted = _match_composer(name, sorted({c for c in composers if c}))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        order = np.argsort(composers.astype(str), kind="stable")
        names, starts, counts = np.unique(composers[order].astype(str), return_index=True, return_counts=True)
        centroids = np.add.reduceat(unit[order], starts, axis=0) / counts[:, None] if len(order) else unit[:0]
        lengths = np.linalg.norm(centroids, axis=1)
        mine = int(np.nonzero(names == wanted)[0][0])
        cosine = centroids @ centroids[mine] / np.maximum(lengths * lengths[mine], 1e-12)
        matches = []
        for i in sorted(range(len(names)), key=lambda i: (-round(float(cosine[i]), 12), names[i])):
            if i == mine or not names[i] or counts[i] < min_songs:
                continue
            members = order[starts[i] : starts[i] + counts[i]]
            # The example: that composer's song closest to the asked composer's centroid.
            closest = members[int(np.argmax(unit[members] @ centroids[mine]))]
            matches.append(ComposerMatch(len(matches) + 1, str(names[i]), int(counts[i]), float(cosine[i]), keys[closest]))
            if len(matches) >= limit:
                break
        return wanted, matches

    def _search(self, query: list[float], column: str, metric: str, where: str | None, k: int) -> pa.Table:
        import pyarrow as pa

        def base() -> Any:
            builder = self.table.search(query, vector_column_name=column).metric(metric)
            builder = builder.select([*_SEARCH_COLUMNS, "_distance"]).with_row_id(True)
            return builder.where(where, prefilter=True) if where else builder

        found = self._read(lambda: base().limit(k + 1).to_arrow())
        distances = found["_distance"].to_numpy(zero_copy_only=False)
        if found.num_rows <= k or distances[k] > distances[k - 1]:
            return found.slice(0, k)
        # The k-th distance is shared past k, and which of those songs LanceDB returned
        # is its own business. Keep only what is strictly closer — a set fixed by the
        # data — unless that leaves too small a pool; then fetch the whole tie group.
        boundary = np.float32(distances[k - 1])
        inside = found.filter(pa.array(distances < boundary))
        if inside.num_rows >= k // 2:
            return inside
        upper = float(np.nextafter(boundary, np.float32(np.inf)))
        ties = self._read(lambda: base().distance_range(float(boundary), upper).limit(self.size).to_arrow())
        return pa.concat_tables([inside, ties.select(inside.column_names)])

    def _display(self, row_ids: list[int]) -> dict[str, dict[str, Any]]:
        """Display columns of the chosen songs by row id (half the cost of a ``key IN`` query)."""
        if not row_ids:
            return {}
        rows = self._read(lambda: self.table.take_row_ids(row_ids).select(_DISPLAY_COLUMNS).to_list())
        return {row["key"]: row for row in rows}

    def recommend(self, request: RecommendRequest) -> list[Recommendation]:
        exploration = request.exploration
        clauses = [c for c in (filters_to_sql(request.filters),) if c]
        if request.unrated:
            clauses.append("NOT rated")
        if request.exclude:
            clauses.append(f"key NOT IN ({', '.join(_quote(k) for k in sorted(request.exclude))})")
        if request.only is not None:
            if not request.only:
                return []
            clauses.append(f"key IN ({', '.join(_quote(k) for k in sorted(request.only))})")
        k = min(max(request.k, 5 * request.limit) * (1 + round(4 * exploration)), max(self.size, 1))
        if request.like is not None:
            seed_row = self.song(*request.like)
            if seed_row is None:
                raise QueryError(f"{request.like[0]}:{request.like[1]} is not in the song database")
            clauses.append(f"key != {_quote(seed_row['key'])}")
            found = self._search(list(seed_row[SIMILARITY_COLUMN]), SIMILARITY_COLUMN, "cosine", " AND ".join(clauses) or None, k)
            similarity = np.clip(1.0 - found["_distance"].to_numpy(zero_copy_only=False) / 2.0, 0.0, 1.0)
        else:
            assert request.vector is not None
            column = "mood_vector" if len(request.vector) == 3 else "vector"
            found = self._search(list(request.vector), column, "l2", " AND ".join(clauses) or None, k)
            d_max = 4.0 * math.sqrt(len(request.vector))
            distance = np.sqrt(found["_distance"].to_numpy(zero_copy_only=False).astype(np.float64))
            similarity = 1.0 - distance / d_max
        if found.num_rows == 0:
            return []
        import pyarrow as pa

        cols = {name: found[name].to_numpy(zero_copy_only=False) for name in ("likes", "dislikes", "skips", "plays", "p")}
        keys = found["key"].to_pylist()
        vectors = [tuple(v) for v in found["vector"].to_pylist()]
        chosen, score, song_feedback, user_affinity = rank(request, cols, keys, vectors, similarity)
        numbers = dict(zip(chosen, found.take(pa.array(chosen, pa.int64())).select(_SEARCH_COLUMNS[:-1]).to_pylist(), strict=True))
        row_ids = found["_rowid"].to_pylist()
        display = self._display([row_ids[i] for i in chosen])
        return [
            Recommendation(
                rank=rank_,
                **{name: numbers[i][name] for name in _SEARCH_COLUMNS if name not in ("vector", "key")},
                **display[keys[i]],
                score=float(score[i]),
                similarity=float(similarity[i]),
                song_feedback=float(song_feedback[i]),
                user_affinity=float(user_affinity[i]),
            )
            for rank_, i in enumerate(chosen, start=1)
        ]


def _match_composer(name: str, known: list[str]) -> str:
    """The one composer ``name`` means: a case-insensitive whole match, else a unique part."""
    wanted = name.strip().casefold()
    if not wanted:
        raise QueryError("--like-composer needs a name")
    exact = [c for c in known if c.casefold() == wanted]
    if exact:
        return exact[0]
    partial = [c for c in known if wanted in c.casefold()]
    if len(partial) == 1:
        return partial[0]
    if not partial:
        raise QueryError(f"no composer called {name!r} in the song database (composers are the SID headers' authors)")
    shown = ", ".join(partial[:5]) + (f" and {len(partial) - 5} more" if len(partial) > 5 else "")
    raise QueryError(f"{name!r} matches {len(partial)} composers ({shown}); give more of the name")


def rank(
    request: RecommendRequest,
    cols: dict[str, np.ndarray],
    keys: list[str],
    vectors: list[tuple[float, ...]],
    similarity: np.ndarray,
) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    """Score the candidates and pick the list: ``(chosen, score, song_feedback, user_affinity)``.

    Shared by both engines (LanceDB and the snapshot), so they rank the same pool the
    same way; ``cols`` holds likes, dislikes, skips, plays and p per candidate.
    """
    exploration = request.exploration
    likes, dislikes, skips, plays = (cols[n].astype(np.float64) for n in ("likes", "dislikes", "skips", "plays"))
    denominator = np.maximum(np.maximum(plays, likes + dislikes), 1.0)
    song_feedback = np.clip((likes - dislikes - 0.3 * skips) / denominator, -1.0, 1.0)
    user_affinity = (cols["p"].astype(np.float64) - 3.0) / 2.0
    w = request.weights
    score = w.similarity * similarity + w.feedback * song_feedback + w.affinity * (1.0 - exploration) * user_affinity
    if exploration > 0:
        score = score + 0.25 * exploration * _noise(request.seed, keys)
    order = sorted(range(len(keys)), key=lambda i: (-round(float(score[i]), 12), keys[i]))
    chosen = _diverse(order, vectors, request.diversity, request.limit)
    return chosen, score, song_feedback, user_affinity


def _diverse(order: list[int], vectors: list[tuple[float, ...]], threshold: float, limit: int) -> list[int]:
    """Greedy: take the best song at least ``threshold`` away from the previous pick.

    Songs that are too close are deferred, not dropped, and fill the list at the end
    when nothing diverse is left, so ``--limit`` is honoured whenever enough songs match.
    """
    chosen: list[int] = []
    deferred: list[int] = []
    pending = list(order)
    while pending and len(chosen) < limit:
        i = pending.pop(0)
        if chosen and threshold > 0 and math.dist(vectors[i], vectors[chosen[-1]]) < threshold:
            deferred.append(i)
            continue
        chosen.append(i)
        # A newly chosen song may make a deferred one acceptable again: retry them first.
        if deferred:
            pending = deferred + pending
            deferred = []
    for i in deferred:
        if len(chosen) >= limit:
            break
        chosen.append(i)
    return chosen

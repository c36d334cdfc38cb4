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
* **Live feedback** (``request.live``, :mod:`sidflow_pipeline.recommend.live`): the
  feedback log read at query time replaces the table's counts for the songs it names, so
  a like lifts and a dislike sinks without a rebuild; a song disliked within
  ``DISLIKE_DAYS`` (7) days and not liked since is left out of the pool altogether.
* **user_affinity is personal**: ``0.5·(p − 3)/2 + 0.5·taste`` where ``p`` is the rating
  model's prediction for the song (trained on this listener's ratings and feedback) and
  ``taste = closeness(v, L) − closeness(v, D)``: ``v`` the song's unit similarity vector,
  ``L`` / ``D`` the songs the listener leaned towards / away from (like +1, play +0.1,
  skip −0.3, dislike −1, summed per song; > 0 is L, < 0 is D), and ``closeness`` the
  mean of the ``TASTE_NEIGHBOURS`` (3) highest cosines between ``v`` and those songs' unit
  vectors — a nearest-neighbour vote, because a taste is several clusters and the mean
  direction of all liked songs points between them (a missing side counts 0). Equal
  halves because neither is known to dominate: ``p`` is a trained model but sees only
  the 4 rating dimensions; ``taste`` is immediate but knows only the songs given
  feedback (bench/listener.py's ablation measures both; ``Weights.taste`` sets the
  share). Without feedback, taste is 0 and affinity is the ``p`` term alone, as before.
* **No seed = "for me"**: a request with neither a vector nor a song ranks every song
  (filters applied) with ``similarity = (1 + closeness(v, L)) / 2`` — closeness to what
  the listener liked — or 0.5 for everybody when nothing was liked yet, so the list is
  then ``p`` plus exploration noise. With a mood or ``--like`` the seed keeps the
  similarity term and taste acts through user_affinity: the two blend.
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

from sidflow_pipeline.errors import SidflowError
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
    "rank_composers",
    "score_terms",
    "taste_profile",
]

# What the search returns per candidate; titles and composers are fetched only for the
# songs finally chosen (strings are the costly columns to materialise).
_SEARCH_COLUMNS = ["key", "e", "m", "c", "p", "bpm", "duration", "likes", "dislikes", "skips", "plays", "vector"]
_DISPLAY_COLUMNS = ["key", "sid_path", "song_index", "title", "composer"]
_T = TypeVar("_T")
SIMILARITY_COLUMN = "similarity_vector"


class DatabaseUnavailable(SidflowError, RuntimeError):
    """No database (or an unreadable one); the message says how to build it."""


@dataclass(frozen=True)
class Weights:
    similarity: float = 0.6
    feedback: float = 0.3
    affinity: float = 0.1
    # user_affinity = (1 − taste)·(p − 3)/2 + taste·(cos(v, L) − cos(v, D)) once there is feedback
    taste: float = 0.5


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
    # The feedback log read at query time (recommend/live.py); None = the table's counts only.
    live: Any = None

    def __post_init__(self) -> None:
        if self.vector is not None and self.like is not None:
            raise QueryError("give at most one seed: a mood, a vector or a song to be like")
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
    from sidflow_pipeline.errors import fix_command

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
        except BaseException as exc:  # pyo3 panics derive from BaseException
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
        return rank_composers(composers, keys, vectors, name, limit, min_songs)

    def _search(self, query: list[float], column: str, metric: str, where: str | None, k: int) -> pa.Table:
        import pyarrow as pa

        def base() -> Any:
            # search() with a vector returns the vector query builder, which has metric().
            builder = self.table.search(query, vector_column_name=column).metric(metric)  # type: ignore[attr-defined]
            builder = builder.select([*_SEARCH_COLUMNS, SIMILARITY_COLUMN, "_distance"]).with_row_id(True)
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

    def _profile(self, request: RecommendRequest) -> tuple[np.ndarray | None, np.ndarray | None]:
        if request.live is None or not getattr(request.live, "taste", None):
            return None, None

        def vector_of(keys: list[str]) -> dict[str, np.ndarray]:
            where = f"key IN ({', '.join(_quote(k) for k in keys)})"
            rows = self._read(lambda: self.table.search().where(where).select(["key", SIMILARITY_COLUMN]).limit(len(keys)).to_list())
            return {r["key"]: np.asarray(r[SIMILARITY_COLUMN], dtype=np.float32) for r in rows}

        return taste_profile(request.live, vector_of)

    def recommend(self, request: RecommendRequest) -> list[Recommendation]:
        exploration = request.exploration
        clauses = [c for c in (filters_to_sql(request.filters),) if c]
        if request.unrated:
            clauses.append("NOT rated")
        gone = request.exclude | getattr(request.live, "blocked", frozenset())
        if gone:
            clauses.append(f"key NOT IN ({', '.join(_quote(k) for k in sorted(gone))})")
        if request.only is not None:
            if not request.only:
                return []
            clauses.append(f"key IN ({', '.join(_quote(k) for k in sorted(request.only))})")
        k = min(max(request.k, 5 * request.limit) * (1 + round(4 * exploration)), max(self.size, 1))
        profile = self._profile(request)
        seedless_taste: np.ndarray | None = None
        if request.like is None and request.vector is None:
            where = " AND ".join(clauses) or None

            def everything() -> Any:
                builder = self.table.search().select([*_SEARCH_COLUMNS, SIMILARITY_COLUMN]).with_row_id(True)
                return (builder.where(where) if where else builder).limit(max(self.size, 1)).to_arrow()

            found = self._read(everything)
            unit = _unit(np.asarray(found[SIMILARITY_COLUMN].to_pylist(), dtype=np.float32).reshape(found.num_rows, -1))
            seedless_taste = taste_scores(unit, profile)
            similarity = seedless_similarity(seedless_taste, profile)
        elif request.like is not None:
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
        taste = None
        if profile[0] is not None or profile[1] is not None:
            if seedless_taste is not None:
                taste = seedless_taste
            else:
                unit = _unit(np.asarray(found[SIMILARITY_COLUMN].to_pylist(), dtype=np.float32).reshape(found.num_rows, -1))
                taste = taste_scores(unit, profile)
        chosen, score, song_feedback, user_affinity = rank(request, cols, keys, vectors, similarity, taste)
        numbers = dict(zip(chosen, found.take(pa.array(chosen, pa.int64())).select(_SEARCH_COLUMNS[:-1]).to_pylist(), strict=True))
        row_ids = found["_rowid"].to_pylist()
        display = self._display([row_ids[i] for i in chosen])
        return with_live_counts([
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
        ], request.live)


def with_live_counts(results: list[Recommendation], live: Any) -> list[Recommendation]:
    """Show the counts the list was ranked with: the live ones where the log names the song."""
    from dataclasses import replace

    counts = getattr(live, "counts", None) or {}
    return [
        replace(r, **dict(zip(("likes", "dislikes", "skips", "plays"), counts[r.key], strict=True))) if r.key in counts else r
        for r in results
    ]


def rank_composers(
    composers: np.ndarray, keys: list[str], vectors: np.ndarray, name: str, limit: int = 20, min_songs: int = 2
) -> tuple[str, list[ComposerMatch]]:
    """:meth:`Recommender.similar_composers` over given rows (composer, key, similarity
    vector per song), so the snapshot engine ranks composers without opening LanceDB."""
    wanted = _match_composer(name, sorted({c for c in composers if c}))
    unit = _unit(vectors)
    labels = composers.astype(str)
    order = np.argsort(labels, kind="stable")
    names, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
    centroids = np.add.reduceat(unit[order], starts, axis=0) / counts[:, None] if len(order) else unit[:0]
    lengths = np.linalg.norm(centroids, axis=1)
    mine = int(np.nonzero(names == wanted)[0][0])
    cosine = centroids @ centroids[mine] / np.maximum(lengths * lengths[mine], 1e-12)
    matches: list[ComposerMatch] = []
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


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    unit: np.ndarray = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return unit


# How many of the listener's songs a candidate is compared with (the mean of its top
# cosines): a taste is a few clusters (several composers, several sounds), and the mean
# direction of all liked songs points between them; 3 so one odd song does not decide.
TASTE_NEIGHBOURS = 3


def taste_profile(live: Any, vector_of: Callable[[list[str]], dict[str, np.ndarray]]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(L, D)``: the unit similarity vectors of the songs the listener leaned towards /
    away from (summed weight > 0 / < 0; None for a side with no song). ``vector_of``
    maps keys to similarity vectors (songs missing from the database are ignored)."""
    taste = getattr(live, "taste", None) or {}
    if not taste:
        return None, None
    found = vector_of(sorted(taste))
    sides: list[np.ndarray | None] = []
    for sign in (1.0, -1.0):
        rows = [found[k] for k, w in sorted(taste.items()) if sign * w > 0 and k in found]
        sides.append(_unit(np.asarray(rows, dtype=np.float64)) if rows else None)
    return sides[0], sides[1]


def _closeness(unit_vectors: np.ndarray, songs: np.ndarray | None) -> np.ndarray:
    """Mean of each candidate's ``TASTE_NEIGHBOURS`` highest cosines to ``songs`` (0 without songs)."""
    if songs is None or len(songs) == 0 or len(unit_vectors) == 0:
        return np.zeros(len(unit_vectors), dtype=np.float64)
    cosines = unit_vectors @ songs.T
    m = min(TASTE_NEIGHBOURS, songs.shape[0])
    top = -np.sort(-cosines, axis=1)[:, :m]
    closeness: np.ndarray = top.mean(axis=1)
    return closeness


def taste_scores(unit_vectors: np.ndarray, profile: tuple[np.ndarray | None, np.ndarray | None]) -> np.ndarray:
    """``closeness(v, L) − closeness(v, D)`` per candidate (a missing side counts 0)."""
    scores: np.ndarray = _closeness(unit_vectors, profile[0]) - _closeness(unit_vectors, profile[1])
    return scores


def seedless_similarity(taste: np.ndarray, profile: tuple[np.ndarray | None, np.ndarray | None]) -> np.ndarray:
    """"For me": ``(1 + taste) / 2`` clipped to 0..1, ``taste`` from :func:`taste_scores` —
    near what the listener liked and away from what they turned down; 0.5 with no likes."""
    if profile[0] is None:
        return np.full(len(taste), 0.5)
    return np.clip((1.0 + taste) / 2.0, 0.0, 1.0)


def rank(
    request: RecommendRequest,
    cols: dict[str, np.ndarray],
    keys: list[str],
    vectors: list[tuple[float, ...]],
    similarity: np.ndarray,
    taste: np.ndarray | None = None,
) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    """Score the candidates and pick the list: ``(chosen, score, song_feedback, user_affinity)``.

    Shared by both engines (LanceDB and the snapshot), so they rank the same pool the
    same way; ``cols`` holds likes, dislikes, skips, plays and p per candidate; ``taste``
    is :func:`taste_scores` per candidate (None = no taste yet). Live counts in
    ``request.live`` replace the table's for the songs they name.
    """
    exploration = request.exploration
    likes, dislikes, skips, plays = (cols[n].astype(np.float64) for n in ("likes", "dislikes", "skips", "plays"))
    live_counts = getattr(request.live, "counts", None) or {}
    if live_counts:
        for i, key in enumerate(keys):
            if key in live_counts:
                likes[i], dislikes[i], skips[i], plays[i] = live_counts[key]
    denominator = np.maximum(np.maximum(plays, likes + dislikes), 1.0)
    song_feedback = np.clip((likes - dislikes - 0.3 * skips) / denominator, -1.0, 1.0)
    user_affinity = (cols["p"].astype(np.float64) - 3.0) / 2.0
    if taste is not None:
        share = request.weights.taste
        user_affinity = (1.0 - share) * user_affinity + share * np.clip(taste, -1.0, 1.0)
    w = request.weights
    score = w.similarity * similarity + w.feedback * song_feedback + w.affinity * (1.0 - exploration) * user_affinity
    if exploration > 0:
        score = score + 0.25 * exploration * _noise(request.seed, keys)
    order = sorted(range(len(keys)), key=lambda i: (-round(float(score[i]), 12), keys[i]))
    chosen = _diverse(order, vectors, request.diversity, request.limit)
    return chosen, score, song_feedback, user_affinity


def score_terms(request: RecommendRequest, keys: list[str], similarity: np.ndarray, song_feedback: np.ndarray,
                user_affinity: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """The addends of :func:`rank`'s score, by name (``sidflow explain`` shows them).

    Kept beside :func:`rank` so a change to the formula changes both; the tests require
    that the terms add up to the score ``rank`` gives.
    """
    w, x = request.weights, request.exploration
    noise = 0.25 * x * _noise(request.seed, keys) if x > 0 else np.zeros(len(keys))
    return {
        "similarity": w.similarity * np.asarray(similarity, dtype=np.float64),
        "song_feedback": w.feedback * np.asarray(song_feedback, dtype=np.float64),
        "user_affinity": w.affinity * (1.0 - x) * np.asarray(user_affinity, dtype=np.float64),
        "exploration": noise,
    }


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

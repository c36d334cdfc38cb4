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
* **user_affinity is personal**: ``(1 − t)·(p − 3)/2 + t·taste`` (``t`` =
  ``Weights.taste``, 0.5) where ``p`` is the rating model's prediction for the song
  (trained on this listener's ratings and feedback) and ``taste`` ∈ −1..1 is what the
  listener's feedback says about the song's place in the similarity space. Every song
  with feedback counts, with the design's weights summed per song (like +1, play +0.1,
  skip −0.3, dislike −1; ``recommend/live.py``). Two views of that evidence:

  - **local**: ``closeness(v, L) − closeness(v, D)``, ``L`` / ``D`` the unit vectors of the
    songs with a summed weight > 0 / < 0 and ``closeness`` the mean of the
    ``TASTE_NEIGHBOURS`` (3) highest cosines — a nearest-neighbour vote, right for a taste
    made of a few clusters (composers, a player routine), where the mean direction of the
    liked songs points between them;
  - **global**: ``2·P(like | v) − 1`` from a logistic regression on the unit vector, each
    song weighted by |its weight|, ridge penalty ``TASTE_RIDGE`` = 1 (a standard normal
    prior on the coefficients of a unit-length input; fixed a priori) — right for a taste
    along a direction of the space (bright and busy tunes), which no few neighbours show.

  Which one a listener gets is decided by their own feedback, not by a constant: with at
  least ``TASTE_MIN_SIDE`` (3) songs on each side, both views predict each feedback song
  held out (local: leave-one-out; global: 5 folds by key order), and the view with the
  higher AUC is used (ties: local). With less evidence, local alone. The profile is
  fitted once per query from the feedback only, so both engines use the same one.
  Equal halves of ``p`` and taste because neither is known to dominate: ``p`` is a trained
  model but sees only the 4 rating dimensions; taste is immediate but knows only the songs
  given feedback (bench/listener.py's ablation measures both). Without feedback, taste
  is 0 and affinity is the ``p`` term alone, as before.
* **Artist affinity** ("more from artists you like"): taste is
  ``(1 − a)·sound + a·artist`` (``a`` = ``ARTIST_SHARE``, 0.5), ``sound`` the view above and
  ``artist`` the listener's own feedback on the song's composer (the SID header's author,
  the ``composer`` column): per composer, the sum of the songs' summed weights (each
  clipped to −1..1) divided by ``n + ARTIST_PRIOR`` (``n`` their songs with feedback,
  prior 2): a composer known from one like gets 1/3, from five likes 5/7, so one song
  does not make an artist, and the result stays within −1..1. 0 for composers never
  heard and for unknown authors (``<?>``, ``?``, empty, "unknown": :func:`artist_key`),
  which must not pool into one pseudo-artist. Equal halves a priori, for the reason
  ``Weights.taste`` has: neither signal is known to dominate (the sound view knows only
  what is near the songs heard, the artist view only the composers heard). Fitted from
  the feedback only, like the sound view, so both engines share it. Like the choice
  of sound view, the listener's own feedback decides whether it is used: with at least
  ``TASTE_MIN_SIDE`` songs on each side, each feedback song is predicted held out by the
  sound view alone and by the blend (the artist view without that song's own weight);
  the artist view is dropped when the blend's AUC is lower (ties keep it) — a listener
  whose taste cuts across composers (bright and busy tunes by anyone) is not steered to
  "more of the same author".
* **No seed = "for me"**: a request with neither a vector nor a song ranks every song
  (filters applied) with ``similarity = (1 + taste) / 2`` (for the global view that is
  P(like)), or 0.5 for everybody while nothing was liked, so the first list is ``p``
  plus exploration noise; exploration stays as asked (default 0.2; shrinking it as
  feedback grows was tried on bench/listener.py's loop and moved precision by less than
  its noise, so the simpler rule stays). With
  a mood or ``--like`` the seed keeps the similarity term and taste acts only through
  user_affinity: the two blend, with the design's weights.
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
    "TasteProfile",
    "Weights",
    "artist_affinity",
    "artist_key",
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
    # user_affinity = (1 − taste)·(p − 3)/2 + taste·taste_scores(v) once there is feedback
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
            builder = builder.select([*_SEARCH_COLUMNS, SIMILARITY_COLUMN, "composer", "_distance"]).with_row_id(True)
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

    def _profile(self, request: RecommendRequest) -> TasteProfile | None:
        if request.live is None or not getattr(request.live, "taste", None):
            return None

        def vector_of(keys: list[str]) -> dict[str, np.ndarray]:
            where = f"key IN ({', '.join(_quote(k) for k in keys)})"
            rows = self._read(lambda: self.table.search().where(where).select(["key", SIMILARITY_COLUMN]).limit(len(keys)).to_list())
            return {r["key"]: np.asarray(r[SIMILARITY_COLUMN], dtype=np.float32) for r in rows}

        def composer_of(keys: list[str]) -> dict[str, str]:
            where = f"key IN ({', '.join(_quote(k) for k in keys)})"
            rows = self._read(lambda: self.table.search().where(where).select(["key", "composer"]).limit(len(keys)).to_list())
            return {r["key"]: r["composer"] or "" for r in rows}

        return taste_profile(request.live, vector_of, composer_of)

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
                builder = self.table.search().select([*_SEARCH_COLUMNS, SIMILARITY_COLUMN, "composer"]).with_row_id(True)
                return (builder.where(where) if where else builder).limit(max(self.size, 1)).to_arrow()

            found = self._read(everything)
            unit = _unit(np.asarray(found[SIMILARITY_COLUMN].to_pylist(), dtype=np.float32).reshape(found.num_rows, -1))
            seedless_taste = taste_scores(unit, profile, found["composer"].to_pylist())
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
        if profile is not None:
            if seedless_taste is not None:
                taste = seedless_taste
            else:
                unit = _unit(np.asarray(found[SIMILARITY_COLUMN].to_pylist(), dtype=np.float32).reshape(found.num_rows, -1))
                taste = taste_scores(unit, profile, found["composer"].to_pylist())
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


# How many of the listener's songs a candidate is compared with in the local view (the
# mean of its top cosines): a taste is a few clusters (several composers, several
# sounds), and the mean direction of all liked songs points between them; 3 so one odd
# song does not decide.
TASTE_NEIGHBOURS = 3
# The global view's ridge penalty on the coefficients of the unit similarity vector:
# a standard normal prior (inputs have unit length, so a coefficient of 1 is a strong
# effect). Fixed a priori, not fitted to any collection.
TASTE_RIDGE = 1.0
# Fewer songs than this on either side, and the global view is not fitted (a linear
# model on 64 dimensions from two songs is noise): the local view decides alone.
TASTE_MIN_SIDE = 3
TASTE_FOLDS = 5
# "auto" (the view that predicts the listener's own feedback better), "local" or
# "global"; bench/listener.py's ablation sets the other two.
TASTE_MODEL = "auto"


@dataclass(frozen=True)
class TasteProfile:
    """What the listener's feedback says, fitted once per query (independent of the pool,
    so both engines get the same profile from the same feedback).

    ``liked`` / ``disliked``: unit similarity vectors of the songs whose summed weight is
    > 0 / < 0 (None for an empty side); ``model``: the view used, ``local`` or ``global``;
    ``coef``: the global view's coefficients (64 + intercept) when fitted; ``local_auc`` /
    ``global_auc``: how well each view ranked the listener's own songs, held out (None
    when not measured).
    """

    liked: np.ndarray | None
    disliked: np.ndarray | None
    model: str = "local"
    coef: np.ndarray | None = None
    local_auc: float | None = None
    global_auc: float | None = None
    # artist_key(composer) → artist affinity in −1..1 (composers with feedback only)
    artists: dict[str, float] = field(default_factory=dict)


# Artist affinity = Σ weights / (n + ARTIST_PRIOR): a prior of 2 songs' worth of
# indifference, so one like gives 1/3 and it takes several songs to approach ±1 (fixed
# a priori, not fitted on the bench). ARTIST_SHARE: its share of taste (module
# docstring); bench/listener.py's --artist-share 0 measures taste without it.
ARTIST_PRIOR = 2.0
ARTIST_SHARE = 0.5
_UNKNOWN_AUTHORS = frozenset({"", "unknown", "anonymous", "n/a", "na", "none"})


def artist_key(composer: str | None) -> str:
    """The name a composer's songs pool under ("" = unknown: no pooling).

    The SID header's author as stored, compared case- and space-insensitively; names
    without a letter or digit (``<?>``, ``?``, ``---``) and "unknown"-like words are
    unknown authors, not one artist.
    """
    name = " ".join((composer or "").split()).casefold()
    if not any(ch.isalnum() for ch in name) or name.strip("<>()[]?. ") in _UNKNOWN_AUTHORS:
        return ""
    return name


def artist_affinity(taste: dict[str, float], composer_of: dict[str, str]) -> dict[str, float]:
    """Per known composer, ``Σ clip(w, −1, 1) / (n + ARTIST_PRIOR)`` over their songs
    with feedback (``taste``: key → summed weight; ``composer_of``: key → author)."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for key in sorted(taste):
        name = artist_key(composer_of.get(key))
        if not name:
            continue
        sums[name] = sums.get(name, 0.0) + max(-1.0, min(1.0, float(taste[key])))
        counts[name] = counts.get(name, 0) + 1
    return {name: sums[name] / (counts[name] + ARTIST_PRIOR) for name in sorted(sums)}


def taste_profile(
    live: Any,
    vector_of: Callable[[list[str]], dict[str, np.ndarray]],
    composer_of: Callable[[list[str]], dict[str, str]] | None = None,
) -> TasteProfile | None:
    """The listener's :class:`TasteProfile` from ``live.taste`` (key → signed weight), or
    None without feedback. ``vector_of`` maps keys to similarity vectors (songs missing
    from the database are ignored); ``composer_of`` maps keys to composers (the artist
    affinity; None = no artist signal)."""
    taste = getattr(live, "taste", None) or {}
    if not taste:
        return None
    found = vector_of(sorted(taste))
    keys = [k for k in sorted(taste) if k in found]
    if not keys:
        return None
    vectors = _unit(np.asarray([found[k] for k in keys], dtype=np.float64))
    weights = np.asarray([taste[k] for k in keys], dtype=np.float64)
    profile = _sound_profile(vectors, weights)
    if composer_of is None or ARTIST_SHARE <= 0:
        return profile
    from dataclasses import replace

    composers = composer_of(sorted(taste))
    artists = artist_affinity(taste, composers)
    if artists and not _artist_helps(profile, vectors, weights, [artist_key(composers.get(k)) for k in keys]):
        artists = {}
    return replace(profile, artists=artists)


def _artist_helps(profile: TasteProfile, vectors: np.ndarray, weights: np.ndarray, names: list[str]) -> bool:
    """Whether adding the artist view predicts the listener's own feedback better than the
    sound view alone, each song held out (the sound view as :func:`taste_profile` chose it;
    the artist view without the song's own weight; a tie keeps it). With fewer than ``TASTE_MIN_SIDE``
    songs on a side there is nothing to judge by, and the artist view is used."""
    if min(int((weights > 0).sum()), int((weights < 0).sum())) < TASTE_MIN_SIDE:
        return True
    sound = _global_held_out(vectors, weights) if profile.model == "global" else _local_held_out(vectors, weights)
    clipped = np.clip(weights, -1.0, 1.0)
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name, w in zip(names, clipped, strict=True):
        if name:
            sums[name] = sums.get(name, 0.0) + float(w)
            counts[name] = counts.get(name, 0) + 1
    artist = np.asarray(
        [(sums[n] - w) / (counts[n] - 1 + ARTIST_PRIOR) if n else 0.0 for n, w in zip(names, clipped, strict=True)]
    )
    labels = weights > 0
    # Ties keep the artist view: it is the basic radio signal, dropped only when it hurts.
    return _auc((1.0 - ARTIST_SHARE) * sound + ARTIST_SHARE * artist, labels) >= _auc(sound, labels)


def _sound_profile(vectors: np.ndarray, weights: np.ndarray) -> TasteProfile:
    liked = vectors[weights > 0] if (weights > 0).any() else None
    disliked = vectors[weights < 0] if (weights < 0).any() else None
    profile = TasteProfile(liked, disliked)
    if TASTE_MODEL == "local" or min(int((weights > 0).sum()), int((weights < 0).sum())) < TASTE_MIN_SIDE:
        return profile
    coef = _fit_logistic(vectors, weights)
    if TASTE_MODEL == "global":
        return TasteProfile(liked, disliked, "global", coef)
    labels = weights > 0
    local_auc = _auc(_local_held_out(vectors, weights), labels)
    global_auc = _auc(_global_held_out(vectors, weights), labels)
    # Ties go to the local view: it needs no fit and was the rule before.
    model = "global" if global_auc > local_auc else "local"
    return TasteProfile(liked, disliked, model, coef if model == "global" else None, local_auc, global_auc)


def _closeness(unit_vectors: np.ndarray, songs: np.ndarray | None) -> np.ndarray:
    """Mean of each candidate's ``TASTE_NEIGHBOURS`` highest cosines to ``songs`` (0 without songs)."""
    if songs is None or len(songs) == 0 or len(unit_vectors) == 0:
        return np.zeros(len(unit_vectors), dtype=np.float64)
    cosines = unit_vectors @ songs.T
    m = min(TASTE_NEIGHBOURS, songs.shape[0])
    top = -np.partition(-cosines, m - 1, axis=1)[:, :m]  # the m highest, in any order
    closeness: np.ndarray = top.mean(axis=1)
    return closeness


def _fit_logistic(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Ridge-penalised logistic regression of "leaned towards" (weight > 0) on the unit
    vectors, each song weighted by |its summed weight| (a like counts more than a play or
    a skip, as in song_feedback); Newton steps, deterministic. Returns coefficients + intercept."""
    x = np.hstack([vectors, np.ones((len(vectors), 1))])
    y = (weights > 0).astype(np.float64)
    sample = np.abs(weights)
    penalty = TASTE_RIDGE * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # the intercept (the listener's base rate) is not shrunk
    coef = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(x @ coef)))
        gradient = x.T @ (sample * (p - y)) + penalty @ coef
        hessian = (x * (sample * p * (1.0 - p))[:, None]).T @ x + penalty + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        coef = coef - step
        if float(np.abs(step).max()) < 1e-9:
            break
    return coef


def _logistic_taste(unit_vectors: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """The global view per candidate: ``2·P(like) − 1``, in −1..1 like the local view."""
    z = unit_vectors @ coef[:-1] + coef[-1]
    taste: np.ndarray = 2.0 / (1.0 + np.exp(-z)) - 1.0
    return taste


def _local_held_out(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The local view of each feedback song with that song left out (leave-one-out)."""
    out = np.zeros(len(vectors))
    for sign in (1.0, -1.0):
        side = np.nonzero(sign * weights > 0)[0]
        for start in range(0, len(vectors), 1024):  # bounded memory for a long history
            rows = np.arange(start, min(start + 1024, len(vectors)))
            cosines = vectors[rows] @ vectors[side].T
            cosines[rows[:, None] == side[None, :]] = -np.inf  # not its own neighbour
            m = min(TASTE_NEIGHBOURS, len(side))
            top = -np.partition(-cosines, m - 1, axis=1)[:, :m]
            top = np.where(np.isfinite(top), top, np.nan)
            counted = np.isfinite(top).any(axis=1)
            means = np.zeros(len(rows))
            means[counted] = np.nanmean(top[counted], axis=1)
            out[rows] += sign * means
    return out


def _global_held_out(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The global view of each feedback song from a model fitted without its fold
    (``TASTE_FOLDS`` folds by position in key order: deterministic)."""
    out = np.zeros(len(vectors))
    fold = np.arange(len(vectors)) % TASTE_FOLDS
    for f in range(TASTE_FOLDS):
        train = fold != f
        if (weights[train] > 0).any() and (weights[train] < 0).any() and (~train).any():
            out[~train] = _logistic_taste(vectors[~train], _fit_logistic(vectors[train], weights[train]))
    return out


def _auc(score: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count half): how often a liked song outranks a disliked one."""
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return 0.5
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ranks = (np.bincount(inverse, weights=ranks) / counts)[inverse]
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def taste_scores(unit_vectors: np.ndarray, profile: TasteProfile | None, composers: Iterable[str] | None = None) -> np.ndarray:
    """Taste per candidate in −1..1: ``(1 − ARTIST_SHARE)·sound + ARTIST_SHARE·artist``
    when the candidates' ``composers`` are given, else the sound view alone (0 without a
    profile)."""
    if profile is None:
        return np.zeros(len(unit_vectors), dtype=np.float64)
    sound = _sound_scores(unit_vectors, profile)
    if composers is None or not profile.artists:  # no composer heard: the sound view alone
        return sound
    artist = np.asarray([profile.artists.get(artist_key(c), 0.0) for c in composers], dtype=np.float64)
    mixed: np.ndarray = (1.0 - ARTIST_SHARE) * sound + ARTIST_SHARE * artist
    return mixed


def _sound_scores(unit_vectors: np.ndarray, profile: TasteProfile) -> np.ndarray:
    """The sound view per candidate. local: ``closeness(v, L) − closeness(v, D)`` (a
    missing side counts 0); global: ``2·P(like | v) − 1`` from the logistic model."""
    if profile.model == "global" and profile.coef is not None:
        return _logistic_taste(unit_vectors, profile.coef)
    local: np.ndarray = _closeness(unit_vectors, profile.liked) - _closeness(unit_vectors, profile.disliked)
    return local


def seedless_similarity(taste: np.ndarray, profile: TasteProfile | None) -> np.ndarray:
    """"For me": ``(1 + taste) / 2`` clipped to 0..1, ``taste`` from :func:`taste_scores` —
    near what the listener liked and away from what they turned down (for the global
    view, P(like)); 0.5 with no likes."""
    if profile is None or profile.liked is None:
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
    terms = score_terms(request, keys, similarity, song_feedback, user_affinity)
    score = terms["similarity"] + terms["song_feedback"] + terms["user_affinity"] + terms["exploration"]
    order = sorted(range(len(keys)), key=lambda i: (-round(float(score[i]), 12), keys[i]))
    chosen = _diverse(order, vectors, request.diversity, request.limit)
    return chosen, score, song_feedback, user_affinity


def score_terms(request: RecommendRequest, keys: list[str], similarity: np.ndarray, song_feedback: np.ndarray,
                user_affinity: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """The addends of :func:`rank`'s score, by name (``sidflow explain`` shows them).

    :func:`rank` sums these terms for its score, so the formula is written once and
    ``sidflow explain`` can never disagree with the ranking.
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

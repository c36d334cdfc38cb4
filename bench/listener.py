"""Does the radio learn? A seeded simulated listener, rounds of 20 songs, precision@20.

Issue 16's loop as code. On a composer-labelled collection (default
``../shared/similarity-set``, 30 composers × 8 tunes; read-only, never committed) the
pipeline's own domain functions build a temporary project: features (rendered and
analysed as ``bench/similarity.py`` does, cached in ``bench/out/similarity/``) →
``classify_rows`` (baseline predictor) → ``build_database``. Then, per round:

1. the queue is asked for exactly as ``sidflow play`` / ``sidflow recommend`` with **no
   seed** ask for it (``build_request`` with the CLI defaults, ``live_feedback`` from the
   log, the snapshot engine), excluding songs the listener has already heard;
2. the listener hears the 20 songs and reacts by its hidden taste; each reaction goes
   through ``append_event`` — what ``sidflow feedback`` and the radio's keys call;
3. retraining happens as the automation would: ``decide()`` with the default
   ``retrain`` config (50 new events, 24 h apart; one round = one day), and when it
   fires, ``run_training`` (the gate may keep the current model) and the rest of the
   ``sidflow_retrain`` job: reclassify with the published model, aggregate the log,
   rebuild the database.

Listeners (seeded; the taste is hidden from the recommender):

* **composer**: loves the songs of 6 of the 30 composers (20 %, the issue's share);
* **sound**: loves "bright and busy" songs — the top 20 % by z(spectral centroid) +
  z(onset rate), a taste over sound that no composer label carries.

Reactions: a loved song is liked (85 %) or just played to the end; any other song is
skipped (50 %), disliked (40 %) or played (10 %). So 20 events per round: 100 after 5
rounds, 200 after 10. precision@20 is the share of loved songs in a round's queue; the
random share is the share of loved songs among the songs not heard yet (what a random
pick of unheard songs gets in expectation). Results are means over ``--seeds`` listeners.

Ablation (composer listener): the same runs with one part of the score changed — no
similarity term (α = 0), no song_feedback (β = 0), no user_affinity (γ = 0), affinity
from the ``p`` model only / from taste only, taste from one view only (the local
nearest-neighbour vote / the global logistic model, instead of the one the listener's
feedback picks; engine docstring), taste without the artist affinity — and with a mood
seed (``--vector 3,3,3,5``, the issue's query) blended with taste. ``--artist-share 0``
runs both listeners without the artist affinity.

The database's ``composer`` column is each file's SID header author, as the catalog stores
it; the composer listener's hidden taste is over the collection's composer directories.
The two name the same people (with handles and variants: "Jeroen Koops" and "Jeroen Koops
(Phantom)" are two authors), so for this listener the artist affinity reads much of the
taste it is measured on; the sound listener shows what the rest of the score does.

``--half A|B`` keeps only the composers at even / odd places by name (a composer-disjoint
half, as ``bench/similarity.py`` splits): the taste rule was developed without looking at
half B, so its figures there are the "unseen composers" check this set allows. A half
has ~140 songs; ``--round-size 10`` keeps the heard share per event comparable.

    python -m bench.listener [--collection ../shared/similarity-set] [--seeds 3] [--rounds 10] [--out bench/out/listener.json]
    python -m bench.listener --half B --round-size 10 --no-ablation --out bench/out/listener-half-B.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.similarity import DEFAULT_CACHE, DEFAULT_COLLECTION, ROOT, composer_of, load_features
from sidflow_pipeline.classify.classified import classify_rows
from sidflow_pipeline.cli.recommend import build_request
from sidflow_pipeline.config import load_config
from sidflow_pipeline.features import FEATURE_SET_VERSION
from sidflow_pipeline.feedback.aggregate import aggregate_events
from sidflow_pipeline.feedback.log import append_event, read_events
from sidflow_pipeline.jsonl import write_jsonl_rows
from sidflow_pipeline.lance.build import build_database
from sidflow_pipeline.layout import DEFAULT_DATA_PATH, HVSC_TREE
from sidflow_pipeline.recommend import engine
from sidflow_pipeline.recommend.engine import Weights
from sidflow_pipeline.recommend.live import live_feedback
from sidflow_pipeline.recommend.snapshot import SnapshotRecommender
from sidflow_pipeline.sid.header import read_sid
from sidflow_pipeline.training.model import load_predictor
from sidflow_pipeline.training.retrain import covered_inputs, decide, observe
from sidflow_pipeline.training.train import last_training, run_training

DEFAULT_OUT = ROOT / "bench" / "out" / "listener.json"
ROUND = 20
LOVED_SHARE = 0.2
Key = tuple[str, int]


@dataclass(frozen=True)
class Variant:
    name: str
    weights: Weights = field(default_factory=Weights)
    vector: tuple[float, ...] | None = None
    taste_model: str = "auto"  # engine.TASTE_MODEL: auto | local | global
    artist_share: float = engine.ARTIST_SHARE  # engine.ARTIST_SHARE: 0 = no artist affinity


VARIANTS = (
    Variant("full score (0.6 / 0.3 / 0.1, taste share 0.5)"),
    Variant("α = 0 (no similarity to taste)", Weights(similarity=0.0)),
    Variant("β = 0 (no song_feedback)", Weights(feedback=0.0)),
    Variant("γ = 0 (no user_affinity)", Weights(affinity=0.0)),
    Variant("affinity from p only (taste share 0)", Weights(taste=0.0)),
    Variant("affinity from taste only (taste share 1)", Weights(taste=1.0)),
    Variant("taste: local view only (3-neighbour vote, the rule before)", taste_model="local"),
    Variant("taste: global view only (logistic model)", taste_model="global"),
    Variant("taste without artist affinity (artist share 0)", artist_share=0.0),
    Variant("mood seed --vector 3,3,3,5 + taste", vector=(3.0, 3.0, 3.0, 5.0)),
)


def composer_taste(keys: Sequence[Key], rng: random.Random) -> frozenset[Key]:
    composers = sorted({composer_of(k[0]) or "" for k in keys})
    loved = set(rng.sample(composers, max(1, round(LOVED_SHARE * len(composers)))))
    return frozenset(k for k in keys if composer_of(k[0]) in loved)


def sound_taste(keys: Sequence[Key], features: Mapping[Key, Mapping[str, Any]]) -> frozenset[Key]:
    """Bright and busy: the top 20 % by z(spectralCentroid) + z(onsetRate)."""

    def z(name: str) -> np.ndarray:
        values = np.array([float(features[k].get(name) or 0.0) for k in keys])
        return (values - values.mean()) / (values.std() or 1.0)

    score = z("spectralCentroid") + z("onsetRate")
    top = np.argsort(-score, kind="stable")[: max(1, round(LOVED_SHARE * len(keys)))]
    return frozenset(keys[i] for i in top)


def react(loved: bool, rng: random.Random) -> str:
    if loved:
        return "like" if rng.random() < 0.85 else "play"
    x = rng.random()
    return "skip" if x < 0.5 else "dislike" if x < 0.9 else "play"


class Project:
    """A temporary project (config, features, database) the pipeline's functions run on."""

    def __init__(self, folder: Path, collection: Path, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        data = folder / DEFAULT_DATA_PATH
        config_path = folder / "cfg.json"
        folder.mkdir(parents=True, exist_ok=True)
        root = collection / HVSC_TREE if (collection / HVSC_TREE).is_dir() else collection
        # The default retrain block (50 new events, 24 h), spelt out so the bench says what it assumes.
        config_path.write_text(
            json.dumps(
                {
                    "hvscPath": str(root),
                    "dataPath": str(data),
                    "retrain": {"enabled": True, "minNewFeedback": 50, "intervalHours": 24},
                }
            )
        )
        self.config = load_config(config_path)
        write_jsonl_rows(self.config.layout.features_file("similarity-set"), rows)
        self.db = self.config.layout.lance_db
        # The composer column is the SID header's author, as the catalog stores it (not the
        # bench's directory labels, which define the composer listener's hidden taste).
        authors = {path: read_sid(root / path).header.author for path in sorted({r["sid_path"] for r in rows})}
        self.names = {(r["sid_path"], int(r["song_index"])): (authors[r["sid_path"]], Path(r["sid_path"]).stem) for r in rows}
        self.sketches = {(r["sid_path"], int(r["song_index"])): r.get("traceSketch") for r in rows}
        self.rebuild()

    @property
    def feedback_root(self) -> Path:
        return self.config.layout.feedback_dir

    def rebuild(self) -> None:
        """The rest of ``sidflow_retrain`` after ``rating_model``: classified → aggregates → sidflow_lance."""
        predictor = load_predictor(self.config.layout.model_dir, FEATURE_SET_VERSION) if self.config.layout.model_dir.is_dir() else None
        classified, _ = classify_rows(self.rows, {}, predictor)
        report = read_events(self.feedback_root)
        frame = aggregate_events(report)
        aggregates = {(r["sid_path"], r["song_index"]): r for r in frame.to_dicts()}
        build_database(self.db, classified, aggregates, self.names, sources={}, feedback_events=len(report.events), sketches=self.sketches)

    def recommender(self) -> SnapshotRecommender:
        return SnapshotRecommender(self.db, self.config.layout.recommend_snapshot)


def run_listener(
    project_factory: Callable[[], Project],
    loved: frozenset[Key],
    keys: Sequence[Key],
    rounds: int,
    seed: int,
    variant: Variant,
    size: int = ROUND,
) -> list[dict[str, Any]]:
    engine.TASTE_MODEL = variant.taste_model
    engine.ARTIST_SHARE = variant.artist_share
    project = project_factory()
    rng = random.Random(seed * 7919 + 1)
    heard: set[str] = set()
    loved_keys = {f"{p}#{s}" for p, s in loved}
    all_keys = {f"{p}#{s}" for p, s in keys}
    clock = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    out = []
    for number in range(1, rounds + 1):
        now = clock + timedelta(days=number - 1)
        unheard = all_keys - heard
        random_share = len(unheard & loved_keys) / max(len(unheard), 1)
        request = build_request(
            mood=None, vector=",".join(f"{v:g}" for v in variant.vector) if variant.vector else None, blend=None, like=None,
            filters=None, limit=size, exploration=None, diversity=None, seed=seed * 1000 + number,
            exclude=frozenset(heard), live=live_feedback(project.feedback_root),
        )  # fmt: skip
        request = replace(request, weights=variant.weights)
        recommender = project.recommender()
        profile = recommender._profile(request)  # which view of taste the queue used (engine docstring)
        queue = recommender.recommend(request)
        hits = sum(1 for r in queue if r.key in loved_keys)
        for r in queue:
            action = react(r.key in loved_keys, rng)
            append_event(project.feedback_root, r.sid_path, action, song_index=r.song_index)
            heard.add(r.key)
        decision = decide(
            project.config.retrain,
            observe(project.config),
            last_training(project.config),
            now,
            covered_inputs(project.config, last_training(project.config)),
        )
        trained = None
        if decision.retrain:
            outcome = run_training(project.config, now=now, notes="bench/listener")
            trained = outcome.status
            project.rebuild()
        out.append(
            {
                "round": number,
                "events": len(heard),
                "precision": hits / max(len(queue), 1),
                "random": random_share,
                "songs": len(queue),
                "training": trained,
                "taste_view": profile.model if profile else None,
            }
        )
    return out


def summarise(runs: list[list[dict[str, Any]]], size: int = ROUND) -> list[dict[str, Any]]:
    rounds = len(runs[0])
    return [
        {
            "round": i + 1,
            "events_before": i * size,
            "precision": float(np.mean([r[i]["precision"] for r in runs])),
            "random": float(np.mean([r[i]["random"] for r in runs])),
            "trainings": [r[i]["training"] for r in runs],
            "taste_views": [r[i]["taste_view"] for r in runs],
        }
        for i in range(rounds)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collection", type=Path, default=DEFAULT_COLLECTION)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--ablation-rounds", type=int, default=6, help="rounds per ablation run (6 = the queue after 100 events)")
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument("--variants", help="ablation variants to run, by number in VARIANTS (e.g. 0,6,7); default all")
    parser.add_argument("--no-listeners", action="store_true", help="only the ablation (the per-round table is skipped)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--artist-share", type=float, default=engine.ARTIST_SHARE, help="the listeners' artist affinity share of taste (0 = without it)"
    )
    parser.add_argument("--round-size", type=int, default=ROUND, help="songs per round (the queue's --limit)")
    parser.add_argument(
        "--half",
        choices=("A", "B"),
        help="only the composers at even (A) / odd (B) places by name: a composer-disjoint half, as bench/similarity.py splits",
    )
    args = parser.parse_args(argv)
    size = args.round_size
    console = Console(width=132)
    if not args.collection.is_dir():
        console.print(f"[red]no collection at {args.collection}[/]")
        return 2
    started = time.perf_counter()
    rows = load_features(args.collection, args.cache, args.workers, console)
    if args.half:
        composers = sorted({composer_of(r["sid_path"]) or "" for r in rows})
        kept = set(composers[0 if args.half == "A" else 1 :: 2])
        rows = [r for r in rows if (composer_of(r["sid_path"]) or "") in kept]
    keys = [(r["sid_path"], int(r["song_index"])) for r in rows]
    features = {(r["sid_path"], int(r["song_index"])): r["features"] for r in rows}

    def tastes(seed: int) -> dict[str, frozenset[Key]]:
        return {"composer": composer_taste(keys, random.Random(seed)), "sound": sound_taste(keys, features)}

    with tempfile.TemporaryDirectory(prefix="sidflow-listener-") as tmp:
        counter = iter(range(10**6))

        def factory() -> Project:
            return Project(Path(tmp) / f"p{next(counter)}", args.collection, rows)

        results: dict[str, Any] = {}
        main_variant = replace(VARIANTS[0], artist_share=args.artist_share)
        for listener in () if args.no_listeners else ("composer", "sound"):
            runs = [
                run_listener(factory, tastes(seed)[listener], keys, args.rounds, seed, main_variant, size)
                for seed in range(args.seeds)
            ]
            results[listener] = {"rounds": summarise(runs, size), "runs": runs}
            console.print(f"{listener} listener: {args.seeds} seeds done ({time.perf_counter() - started:.0f} s)")
        ablation = []
        if not args.no_ablation:
            chosen = [VARIANTS[int(i)] for i in args.variants.split(",")] if args.variants else list(VARIANTS)
            for variant in chosen:
                runs = [
                    run_listener(factory, tastes(seed)["composer"], keys, args.ablation_rounds, seed, variant, size)
                    for seed in range(args.seeds)
                ]
                summary = summarise(runs, size)
                later = summary[1:]
                ablation.append(
                    {
                        "variant": variant.name,
                        "after_100_events": summary[min(100 // size, len(summary) - 1)]["precision"],
                        "random_after_100": summary[min(100 // size, len(summary) - 1)]["random"],
                        "mean_rounds_2_on": float(np.mean([r["precision"] for r in later])) if later else None,
                        "rounds": summary,
                    }
                )
                console.print(f"ablation {variant.name}: done ({time.perf_counter() - started:.0f} s)")

    if results:
        table = Table(title=f"simulated listener: precision@20 per round (mean of {args.seeds} seeded listeners; {len(keys)} songs)")
        for column in ("round", "events before", "composer P@20", "random", "×", "sound P@20", "random", "×", "trainings (composer)"):
            table.add_column(column, justify="right")
        for c, s in zip(results["composer"]["rounds"], results["sound"]["rounds"], strict=True):
            table.add_row(
                str(c["round"]), str(c["events_before"]), f"{c['precision']:.3f}", f"{c['random']:.3f}",
                f"{c['precision'] / max(c['random'], 1e-9):.1f}",
                f"{s['precision']:.3f}", f"{s['random']:.3f}", f"{s['precision'] / max(s['random'], 1e-9):.1f}",
                ",".join(t or "-" for t in c["trainings"]),
            )  # fmt: skip
        console.print(table)
        for listener in ("composer", "sound"):
            rounds = results[listener]["rounds"]
            for events in (100, 200):
                i = events // size
                if i < len(rounds):
                    r = rounds[i]
                    console.print(
                        f"{listener}: after {events} events precision@20 {r['precision']:.3f} vs random {r['random']:.3f}"
                        f" ({r['precision'] / max(r['random'], 1e-9):.1f}×)"
                    )
            worse = [r["round"] for r in rounds[1:] if r["precision"] < r["random"]]
            console.print(f"{listener}: rounds after the first worse than random: {worse or 'none'}")
    if ablation:
        abl = Table(title="ablation (composer listener): precision@20 of the queue after 100 events, and mean of rounds 2..")
        for column in ("variant", "after 100 events", "random", "×", "mean rounds 2.."):
            abl.add_column(column, justify="left" if column == "variant" else "right")
        for a in ablation:
            abl.add_row(
                a["variant"],
                f"{a['after_100_events']:.3f}",
                f"{a['random_after_100']:.3f}",
                f"{a['after_100_events'] / max(a['random_after_100'], 1e-9):.1f}",
                f"{a['mean_rounds_2_on']:.3f}",
            )
        console.print(abl)
    report = {
        "benchmark": "listener",
        "collection": str(args.collection),
        "songs": len(keys),
        "seeds": args.seeds,
        "round_size": size,
        "half": args.half,
        "artist_share": args.artist_share,
        "retrain": {"minNewFeedback": 50, "intervalHours": 24, "round": "one day"},
        "listeners": {k: v["rounds"] for k, v in results.items()},
        "ablation": ablation,
        "machine": platform.platform(),
        "python": platform.python_version(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A 60-song project whose energy, complexity, tempo, years, chips and sections are chosen.

Every value is a formula of the song's number ``i`` so a test can say what it expects:
energy ``e`` and complexity ``c`` spread over 1..5 in different orders, tempo in 3-BPM
steps over 80..257 (every song has neighbours within ±10) plus two songs far from the
rest, years 1982..2011, chips 6581 / 8580 / both, every tenth tune 2SID, and the three
HVSC sections with ``released`` texts that make a song a game or demo tune (or neither).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from sidflow_pipeline.catalog.catalog import CATALOG_SCHEMA
from sidflow_pipeline.lance.build import build_database
from sidflow_pipeline_tests.lance.synthetic import synthetic_rows

COUNT = 60
COMPOSERS = ("Alpha Ann", "Beta Bob", "Gamma Gus", "Delta Dee")


def song(i: int) -> dict[str, Any]:
    """The chosen facts of song ``i``."""
    if i % 6 == 0:
        section, composer = "GAMES", "<?>"
        path = f"GAMES/A-F/Game_{i:02d}.sid"
        released = f"{1982 + i % 30} <?>"
    elif i % 6 == 1:
        section, composer = "DEMOS", "<?>"
        path = f"DEMOS/A-F/Demo_{i:02d}.sid"
        released = f"{1982 + i % 30} Unknown Crew"
    else:
        section = "MUSICIANS"
        composer = COMPOSERS[i % 4]
        folder = composer.replace(" ", "_")
        path = f"MUSICIANS/{folder[0]}/{folder}/Tune_{i:02d}.sid"
        # a game publisher, a demo group, or the composer's own release
        released = [f"{1982 + i % 30} Thalamus", f"{1982 + i % 30} Padua", f"{1982 + i % 30} {composer}"][i % 3]
    bpm = 80.0 + 3.0 * ((i * 7) % 60)
    if i in (5, 11):
        bpm = 400.0 + 60 * (i == 11)  # two songs with no neighbour within ±10
    return {
        "sid_path": path, "song": 1, "section": section, "composer": composer, "released": released,
        "year": 1982 + i % 30, "chip": ("6581", "8580", "6581+8580")[i % 3], "sids": 2 if i % 10 == 0 else 1,
        "e": 1.0 + ((i * 7) % COUNT) * 4.0 / (COUNT - 1), "c": 1.0 + ((i * 11) % COUNT) * 4.0 / (COUNT - 1),
        "m": 1.0 + (i % 5), "p": 1.0 + ((i * 13) % COUNT) * 4.0 / (COUNT - 1), "bpm": bpm,
    }  # fmt: skip


def key(i: int) -> str:
    return f"{song(i)['sid_path']}#1"


def build_project(root: Path) -> Path:
    """Catalog, classified rows and the database under ``root/data``; returns the config file."""
    data = root / "data"
    features = synthetic_rows(COUNT, seed=21)
    catalog_rows, classified = [], []
    names = {}
    for i in range(COUNT):
        s = song(i)
        row: dict[str, Any] = {column: None for column in CATALOG_SCHEMA}
        row.update(
            sid_path=s["sid_path"], song_index=1, songs=1, start_song=1, section=s["section"], md5=f"{i:032d}", magic="PSID",
            version=3 if s["sids"] > 1 else 2, name=f"Song {i:02d}", author=s["composer"], released=s["released"],
            sid_model=s["chip"], clock="PAL", sid_count=s["sids"], length_ms=120_000,
        )  # fmt: skip
        catalog_rows.append(row)
        feats = dict(features[i]["features"], bpm=s["bpm"])
        classified.append({
            "sid_path": s["sid_path"], "song_index": 1, "ratings": {d: round(s[d], 3) for d in "emcp"},
            "sources": {d: "predicted" for d in "emcp"}, "confidence": 0.5, "predictor": "fixture", "features": feats,
        })  # fmt: skip
        names[(s["sid_path"], 1)] = (s["composer"], f"Song {i:02d}")
    catalog = data / "catalog" / "sid_catalog.parquet"
    catalog.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(catalog_rows, schema=CATALOG_SCHEMA, orient="row").write_parquet(catalog)
    folder = data / "classified"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ALL.jsonl").write_text(
        "".join(json.dumps(r, sort_keys=True) + "\n" for r in classified), encoding="utf-8"
    )
    build_database(
        data / "sidflow.lance", classified, {}, names, sources={"classified": "x", "feedback": "y"}, feedback_events=0
    )
    config = root / "cfg.json"
    config.write_text(
        json.dumps({"dataPath": "data", "hvscPath": "hvsc", "classifiedPath": "data/classified"}), encoding="utf-8"
    )
    (root / "hvsc").mkdir(exist_ok=True)
    return config

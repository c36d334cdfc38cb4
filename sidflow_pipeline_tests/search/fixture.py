"""A small catalog + classified rows with known answers for every query form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from sidflow_pipeline.catalog.catalog import CATALOG_SCHEMA

# name: (sid_path, song, songs, author, name, released, sid_model, clock, length_ms, stil)
SONGS: dict[str, tuple[Any, ...]] = {
    "commando1": ("MUSICIANS/H/Hubbard_Rob/Commando.sid", 1, 2, "Rob Hubbard", "Commando", "1985 Elite", "6581", "PAL", 245_000,
                  {"stil_comment": "The in-game tune.\nThe loader music is a second, separate line."}),
    "commando2": ("MUSICIANS/H/Hubbard_Rob/Commando.sid", 2, 2, "Rob Hubbard", "Commando", "1985 Elite", "6581", "PAL", 30_000,
                  {"stil_title": "High Score"}),
    "delta": ("MUSICIANS/H/Hubbard_Rob/Delta.sid", 1, 1, "Rob Hubbard", "Delta", "1987 Thalamus", "6581", "PAL", 150_000, {}),
    "parallax": ("MUSICIANS/G/Galway_Martin/Parallax.sid", 1, 1, "Martin Galway", "Parallax", "1986 Ocean", "6581+8580", "PAL",
                 200_000, {}),
    "cybernoid": ("MUSICIANS/T/Tel_Jeroen/Cybernoid.sid", 1, 1, "Jeroen Tel", "Cybernoid", "1988 Hewson", "8580", "NTSC", 100_000,
                  {"stil_artist": "Elvis Presley (a cover, in part)"}),
    "unknown": ("DEMOS/A-F/Anonymous_Demo_Tune_With_A_Very_Long_File_Name.sid", 1, 1,
                "A Composer Whose Name Is Longer Than Any Column Should Be", "<?>", "199?", "Unknown", "Unknown", None, {}),
}  # fmt: skip

# name: (ratings, manual dimensions, bpm)
CLASSIFIED: dict[str, tuple[dict[str, float], set[str], float]] = {
    "commando1": ({"e": 5, "m": 2.4, "c": 3.6, "p": 4.2}, {"e"}, 140.0),
    "commando2": ({"e": 4.4, "m": 3.0, "c": 2.0, "p": 3.0}, set(), 120.0),
    "delta": ({"e": 3.2, "m": 4.0, "c": 4.5, "p": 5}, {"p"}, 95.0),
    "parallax": ({"e": 1.5, "m": 1.8, "c": 2.2, "p": 2.0}, set(), 80.0),
    "cybernoid": ({"e": 4.0, "m": 4.6, "c": 5.0, "p": 3.5}, set(), 160.0),
}


def key(name: str) -> str:
    sid_path, song = SONGS[name][:2]
    return f"{sid_path}#{song}"


def write_fixture(data: Path) -> tuple[Path, Path]:
    """Write ``data/catalog/sid_catalog.parquet`` and ``data/classified/*.jsonl``."""
    rows = []
    for sid_path, song, songs, author, name, released, model, clock, length, stil in SONGS.values():
        row: dict[str, Any] = {column: None for column in CATALOG_SCHEMA}
        row.update(
            sid_path=sid_path, song_index=song, songs=songs, start_song=1, section=sid_path.split("/")[0],
            md5="0" * 32, magic="PSID", version=2, name=name, author=author, released=released,
            sid_model=model, clock=clock, sid_count=1, length_ms=length, **stil,
        )  # fmt: skip
        rows.append(row)
    catalog = data / "catalog" / "sid_catalog.parquet"
    catalog.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows, schema=CATALOG_SCHEMA, orient="row").write_parquet(catalog)
    classified = data / "classified"
    classified.mkdir(parents=True, exist_ok=True)
    by_file: dict[str, list[str]] = {}
    for name, (ratings, manual, bpm) in CLASSIFIED.items():
        sid_path, song = SONGS[name][:2]
        line = {
            "sid_path": sid_path, "song_index": song, "ratings": ratings,
            "sources": {d: "manual" if d in manual else "predicted" for d in ratings},
            "confidence": 0.5, "predictor": "baseline-1", "featureSetVersion": "x",
            "features": {"bpm": bpm, "energy": 0.1, "mfcc1": -200.0},
        }  # fmt: skip
        by_file.setdefault(sid_path.split("/")[0], []).append(json.dumps(line, sort_keys=True))
    for section, lines in by_file.items():
        (classified / f"{section}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (classified / "EMPTY.jsonl").write_text("", encoding="utf-8")  # an empty section is fine
    return catalog, classified

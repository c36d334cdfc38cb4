"""How fast does `sidflow` start?

A listener types a command and waits for the answer; most of that wait is Python
importing libraries. This times each interactive command end to end as a user runs
it (a fresh process each time, wall clock): ``--help``, ``info``, ``search``,
``recommend`` and ``play`` until it launches its first song. Each figure is the median
of ``--runs`` (default 5) after one untimed warm-up run (which also builds the
recommendation snapshot), next to the same median for ``python -c pass`` (the floor
any Python program pays) and the ratio to it. For each command, ``python -X
importtime`` names the three packages that cost the most to import (every module's
own import time, summed per top-level package).

Targets (issue 20): ``--help``, ``info``, ``search`` < 0.3 s; ``recommend`` and
``play``'s first song < 0.5 s, on a database the size of the similarity set (~240 songs).

By default it builds its own project in a temporary folder: the generated demo
collection, its files copied until the catalog holds ``--songs`` songs (default 240),
the real catalog of that tree, synthetic ratings and the LanceDB table built from
them. ``--config PATH`` times an existing project instead (its database must be built).
``play`` plays through sidplayfp into ALSA's null device (a HOME with an
``.asoundrc``), and is skipped without sidplayfp.

    .venv/bin/python -m bench.startup [--config .sidflow.json | --keep DIR] [--songs 240] [--runs 5] [--out bench/out/startup.json]

Prints a table and writes JSON (default ``bench/out/startup.json``); exits 1 when a
command misses its target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SIDFLOW = str(Path(sys.executable).with_name("sidflow"))
NULL_ALSA = "pcm.!default { type null }\nctl.!default { type hw card 0 }\n"
# The same entry point as the console script, run under -X importtime.
IMPORTTIME_MAIN = "from sidflow_pipeline.cli.main import cli; cli(prog_name='sidflow')"


@dataclass
class Command:
    name: str
    args: list[str]
    target_s: float | None
    first_song: bool = False  # time until "playing (pid" instead of until exit
    runs: list[float] = field(default_factory=list)
    imports: list[tuple[str, float]] = field(default_factory=list)
    note: str = ""


# --- a project to time ------------------------------------------------------------------


def build_project(dest: Path, songs: int) -> Path:
    """Demo collection copied up to ``songs`` songs, its catalog, synthetic ratings, the database."""
    from sidflow_pipeline.catalog.catalog import build_catalog, iter_sid_files, write_catalog
    from sidflow_pipeline.config import load_config
    from sidflow_pipeline.demo.collection import write_demo_collection
    from sidflow_pipeline.lance.build import build_database
    from sidflow_pipeline.layout import DEFAULT_DATA_PATH, DEFAULT_HVSC_PATH
    from sidflow_pipeline.sid.header import read_sid
    from sidflow_pipeline_tests.lance.synthetic import synthetic_rows

    dest.mkdir(parents=True, exist_ok=True)  # the config is written before anything else creates it
    config = dest / ".sidflow.json"
    roots = {"hvscPath": str(dest / DEFAULT_HVSC_PATH.name), "dataPath": str(dest / DEFAULT_DATA_PATH)}
    config.write_text(json.dumps(roots), encoding="utf-8")
    layout = load_config(config).layout
    root = write_demo_collection(layout.hvsc).root
    originals = list(iter_sid_files(root))
    count = sum(read_sid(p).header.songs for p in originals)
    copy = 0
    while count < songs:
        source = originals[copy % len(originals)]
        target = root / "MUSICIANS" / "Z" / f"Zz_Copy_{copy // len(originals):03d}" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)  # same md5: Songlengths.md5 knows its lengths
        count += read_sid(source).header.songs
        copy += 1
    catalog = build_catalog(root).frame
    write_catalog(catalog, layout.catalog)
    rows = synthetic_rows(catalog.height, seed=20)
    for row, song in zip(rows, catalog.select("sid_path", "song_index").iter_rows(), strict=True):
        row["sid_path"], row["song_index"] = song
    layout.classified.mkdir(parents=True)
    lines = [json.dumps(r, sort_keys=True) for r in rows]
    layout.classified_file("ALL").write_text("\n".join(lines) + "\n", encoding="utf-8")
    names = {(r["sid_path"], r["song_index"]): (r["author"] or "", r["name"] or "") for r in catalog.iter_rows(named=True)}
    result = build_database(
        layout.lance_db, rows, {}, names, sources={"classified": "bench", "feedback": "bench"}, feedback_events=0
    )
    layout.lance_manifest.write_text(json.dumps(result.manifest), encoding="utf-8")
    return config


def project_facts(config: Path) -> tuple[Path, int, str]:
    """(a SID file for `info`, songs in the catalog, a search query that finds some)."""
    import pyarrow.parquet as pq

    from sidflow_pipeline.config import load_config

    cfg = load_config(config)
    table = pq.read_table(cfg.layout.catalog, columns=["sid_path"])
    first = cfg.layout.hvsc_root / table["sid_path"][0].as_py()
    return first, table.num_rows, "chip:6581|8580 length:>30s NOT title:zzz"


# --- measuring ----------------------------------------------------------------------------


def wall(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    return elapsed


def first_song(argv: list[str], env: dict[str, str]) -> float:
    """Seconds until ``sidflow play`` launches its first song; then quit with ``q``.

    The clock stops at the now-playing line (``▶ [1/N] …``), which the radio prints
    right before it starts sidplayfp. (Watching for the sidplayfp process instead means
    polling /proc, which on two cores slows the command being timed.) The radio then
    watches the player for half a second — a player that dies at once means no audio
    device — and prints ``playing (pid N)``; that line is waited for too, so a song
    that failed to start is not counted.
    """
    started = time.perf_counter()
    process = subprocess.Popen(argv, env={**env, "PYTHONUNBUFFERED": "1"}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    assert process.stdout is not None and process.stdin is not None
    elapsed = None
    playing = False
    seen = []
    for line in process.stdout:
        seen.append(line)
        if elapsed is None and "▶ [1/" in line:
            elapsed = time.perf_counter() - started
        if "playing (pid" in line:
            playing = True
            break
    try:
        process.stdin.write("q")
        process.stdin.flush()
    except BrokenPipeError:
        pass
    process.communicate(timeout=30)
    if elapsed is None or not playing:
        raise RuntimeError(f"play never started a song: {''.join(seen)[-300:]}")
    return elapsed


def import_offenders(args: list[str], env: dict[str, str], top: int = 3) -> list[tuple[str, float]]:
    """The ``top`` packages by import time: every module's own time, summed per top-level package
    (so numpy imported by our code counts as numpy, not as ours, and nothing twice)."""
    argv = [sys.executable, "-X", "importtime", "-c", IMPORTTIME_MAIN, *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _cumulative, raw = line[len("import time:") :].split("|", 2)
        package = raw.strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(self_us) / 1000.0
    ignored = {"site", "encodings", "_frozen_importlib_external", "zipimport", "io", "_signal"}
    ranked = sorted(((p, ms) for p, ms in totals.items() if p not in ignored), key=lambda kv: -kv[1])
    return ranked[:top]


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sidflow-startup-") as tmp_name:
        tmp = Path(tmp_name)
        if args.config:
            config = Path(args.config).resolve()
        elif args.keep is not None and (args.keep / ".sidflow.json").is_file():
            config = (args.keep / ".sidflow.json").resolve()  # built by an earlier run
        else:
            config = build_project(args.keep or tmp / "project", args.songs)
        home = tmp / "home"
        home.mkdir()
        (home / ".asoundrc").write_text(NULL_ALSA)
        env = {**os.environ, "HOME": str(home), "COLUMNS": "120", "TERM": "dumb"}
        sid, songs, query = project_facts(config)
        base = ["--config", str(config)]
        commands = [
            Command("--help", ["--help"], 0.3),
            Command("info", ["info", str(sid)], 0.3),
            Command("search", [*base, "search", query], 0.3),
            Command("recommend", [*base, "recommend", "--mood", "quiet"], 0.5),
            Command("play (first song)", [*base, "play", "--mood", "quiet", "--limit", "5"], 0.5, first_song=True),
        ]
        have_player = shutil.which("sidplayfp") is not None
        floor = Command("python -c pass", [], None)
        for _ in range(args.runs + 1):
            floor.runs.append(wall([sys.executable, "-c", "pass"], env))
        floor.runs = floor.runs[1:]
        for command in commands:
            if command.first_song and not have_player:
                command.note = "skipped: no sidplayfp"
                continue
            argv = [SIDFLOW, *command.args]
            measure = first_song if command.first_song else wall
            measure(argv, env)  # warm-up: disk cache, and the recommendation snapshot
            command.runs = [measure(argv, env) for _ in range(args.runs)]
            command.imports = import_offenders(command.args, env)
    floor_s = statistics.median(floor.runs)
    rows = []
    for command in [floor, *commands]:
        median = statistics.median(command.runs) if command.runs else None
        rows.append(
            {
                "command": command.name,
                "argv": ["sidflow", *command.args] if command.args else [sys.executable, "-c", "pass"],
                "runs_s": [round(r, 4) for r in command.runs],
                "median_s": round(median, 4) if median is not None else None,
                "ratio_to_python": round(median / floor_s, 2) if median is not None else None,
                "target_s": command.target_s,
                "ok": (median < command.target_s) if (median is not None and command.target_s) else None,
                "top_imports": [{"package": p, "ms": round(ms, 1)} for p, ms in command.imports],
                "note": command.note,
            }
        )
    return {
        "benchmark": "startup",
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average": list(os.getloadavg())},
        "project": {"config": args.config or f"generated ({songs} songs)", "songs": songs},
        "runs": args.runs,
        "commands": rows,
    }


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sidflow start-up — median of {result['runs']} (s), {result['project']['songs']} songs, "
                        f"load {result['machine']['load_average'][0]:.2f}")  # fmt: skip
    for column, justify in (
        ("command", "left"),
        ("median s", "right"),
        ("× python", "right"),
        ("target", "right"),
        ("ok", "left"),
        ("top imports (ms)", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in result["commands"]:
        ok = "" if row["ok"] is None else ("yes" if row["ok"] else "NO")
        imports = ", ".join(f"{i['package']} {i['ms']:.0f}" for i in row["top_imports"]) or row["note"]
        median = f"{row['median_s']:.3f}" if row["median_s"] is not None else "—"
        ratio = f"{row['ratio_to_python']:.1f}" if row["ratio_to_python"] is not None else "—"
        target = f"< {row['target_s']}" if row["target_s"] else ""
        table.add_row(row["command"], median, ratio, target, ok, imports)
    Console(width=max(132, shutil.get_terminal_size().columns)).print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="Time this project (.sidflow.json) instead of a generated one.")
    parser.add_argument("--songs", type=int, default=240, help="Songs in the generated project (default 240).")
    parser.add_argument("--keep", type=Path, help="Build the generated project here and keep it (reused when it exists).")
    parser.add_argument("--runs", type=int, default=5, help="Timed runs per command (median; default 5).")
    parser.add_argument("--out", type=Path, default=OUT / "startup.json", help="JSON output (default bench/out/startup.json).")
    args = parser.parse_args()
    result = run(args)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if all(row["ok"] is not False for row in result["commands"]) else 1  # 1: a target was missed


if __name__ == "__main__":
    raise SystemExit(main())

"""Every benchmark of the project in one go: a table in the README and bench/results.json.

Runs each benchmark script (classify, features, hvsc_extract, db, similarity when
``../shared/similarity-set`` is present, mastering, startup) as a
child process (so its peak memory is its own, read from ``wait4``), collects the JSON each one writes, and prints one table in which
every figure stands beside its baseline *measured in the same run*:

| measure | baseline |
|---|---|
| classification CPU-s/song by stage (render, features, predict) | whole-song renders (the naive window) |
| feature extraction CPU-s per excerpt (steady state) | a fresh worker's one-time import + JIT cost |
| core scaling: songs/s with all cores | songs/s with 1 worker |
| no-op re-run ms/song | the full run's ms/song |
| HVSC extraction MiB/s (py7zr) | the 7z command-line tool |
| LanceDB build s | the same rows written to Parquet (no indexes) |
| recommend p50/p95 ms | numpy brute force over the same rows |
| ``--like`` same-composer nDCG@10 | the audio-only vector used before (and a random ranking) |
| mastering s per minute of audio | loudness normalisation alone |
| CLI start-up s per command (median of 5) | ``python -c pass`` |
| peak memory per benchmark | — |

    .venv/bin/python -m bench.run_all [--quick] [--no-readme]

``--quick`` uses smaller inputs (for a smoke test); the README table is rewritten
between the ``bench:start`` / ``bench:end`` markers unless ``--no-readme``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "results.json"
README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def run(name: str, args: list[str]) -> tuple[float, float]:
    """Run one benchmark; (wall seconds, peak RSS MiB of its process tree's largest member)."""
    console = Console(stderr=True)
    console.print(f"[bold]→ {name}[/]: {' '.join(args)}", highlight=False)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, *args], cwd=ROOT)
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode not in (0, 1):  # 1 = ran, but a target was missed: still a result
        raise SystemExit(f"{name} failed with exit status {process.returncode}")
    return wall, usage.ru_maxrss / 1024


def _load(name: str) -> dict[str, Any]:
    return json.loads((OUT / name).read_text())


def collect(quick: bool) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    peaks: dict[str, float] = {}
    walls: dict[str, float] = {}

    walls["classify"], peaks["classify"] = run("classification", ["-m", "bench.classify", "--compare", "--out", str(OUT / "classify.json")])
    classify = _load("classify.json")
    by_label = {r["label"]: r for r in classify["results"]}
    cores = classify["machine"]["cpus"]
    # The default backend (in-process engine); the program backend and a bare 30-s
    # sidplayfp render are measured in the same run as its yardsticks.
    one, many = by_label["libsidplayfp, 1 worker"], by_label[f"libsidplayfp, {cores} workers"]
    program = by_label["sidplayfp, 1 worker"]
    stick = classify["yardstick"]
    whole = next(r for label, r in by_label.items() if label.startswith("whole songs"))
    accurate = next(r for label, r in by_label.items() if label.startswith("accurate engine"))
    songs = one["songs"]
    for stage in ("render", "features", "predict", "total"):
        rows.append(
            {
                "measure": f"classification {stage} (CPU-s/song, {songs} songs)",
                "value": one["cpu_per_song"][stage],
                "baseline": whole["cpu_per_song"][stage],
                "baseline_is": "whole-song renders",
            }
        )
    rows.append(
        {
            "measure": "classification render, in-process engine (CPU-s/song)",
            "value": round(one["cpu_per_song"]["render"], 4),
            "baseline": round(program["cpu_per_song"]["render"], 4),
            "baseline_is": f"one sidplayfp run per song (a bare 30-s render: {stick['cpu_per_song']:.3f})",
        }
    )
    rows.append(
        {
            "measure": "classification total, accurate engine (CPU-s/song)",
            "value": round(accurate["cpu_per_song"]["total"], 4),
            "baseline": round(one["cpu_per_song"]["total"], 4),
            "baseline_is": "fast engine (default)",
        }
    )
    rows.append(
        {
            "measure": f"core scaling (songs/s, {cores} workers)",
            "value": round(many["songs_per_second"], 2),
            "baseline": round(one["songs_per_second"], 2),
            "baseline_is": f"1 worker ({many['songs_per_second'] / one['songs_per_second']:.2f}× speed-up)",
        }
    )
    rows.append(
        {
            "measure": "no-op re-run (ms/song)",
            "value": round(many["noop_ms_per_song"], 3),
            "baseline": round(1000 * many["wall_s"] / many["songs"], 1),
            "baseline_is": "the full run (ms/song)",
        }
    )

    features_args = ["-m", "bench.features", "--count", "6" if quick else "20", "--repeat", "1" if quick else "3", "--no-compare-tempo"]
    walls["features"], peaks["features"] = run("feature extraction", features_args)
    features = _load("features.json")
    warmup = features["warmup_s"]
    steady = next(v for k, v in warmup.items() if k.startswith("second"))
    rows.append(
        {
            "measure": f"feature extraction (CPU-s per {features['settings']['seconds']} s excerpt,"
            f" median of {features['summary']['songs']})",
            "value": features["summary"]["median_s"],
            "baseline": round(sum(warmup.values()) - steady, 2),
            "baseline_is": "one-time cost of a fresh worker (imports, numba)",
        }
    )

    extract_args = ["-m", "bench.hvsc_extract", "--size-mb", "16" if quick else "64", "--repeat", "1" if quick else "3"]
    walls["hvsc_extract"], peaks["hvsc_extract"] = run("HVSC extraction", extract_args)
    extract = {r["tool"]: r for r in _load("hvsc_extract.json")["results"] if r.get("installed")}
    cli = extract.get("7z x") or extract.get("7zz x")
    rows.append(
        {
            "measure": "HVSC extraction, py7zr (MiB/s)",
            "value": extract["py7zr safe_extract"]["mib_per_s"],
            "baseline": cli["mib_per_s"] if cli else None,
            "baseline_is": "7z x (p7zip)" if cli else "7z not installed",
        }
    )

    db_args = ["-m", "bench.db", "--songs", "20000" if quick else "100000", "--queries", "100" if quick else "300"]
    walls["db"], peaks["db"] = run("LanceDB build + recommend", db_args)
    db = _load("db.json")
    rows.append(
        {
            "measure": f"LanceDB build ({db['songs']:,} songs, s; target ≤ 30)",
            "value": db["build_s"],
            "baseline": db.get("baseline_parquet_build_s"),
            "baseline_is": "same rows written to Parquet (pyarrow, no indexes)",
        }
    )
    for q in ("p50", "p95"):
        rows.append(
            {
                "measure": f"recommend latency {q} (ms, in-process)",
                "value": db["recommend_ms"][q],
                "baseline": db["baseline_numpy_ms"][q],
                "baseline_is": "numpy brute force, same rows",
            }
        )

    similarity_set = (ROOT / ".." / "shared" / "similarity-set").resolve()
    if similarity_set.is_dir():  # read-only, beside the project; skipped where it is absent
        walls["similarity"], peaks["similarity"] = run(
            "--like same-composer ranking", ["-m", "bench.similarity", "--out", str(OUT / "similarity.json")]
        )
        similarity = _load("similarity.json")
        by_name = {r["name"]: r for r in similarity["results"]}
        chosen = next(r for r in similarity["results"] if r["kind"] == "chosen")
        rows.append(
            {
                "measure": f"--like same-composer nDCG@10 ({similarity['composers']} composers; target ≥ 0.45)",
                "value": round(chosen["ndcg@10"], 3),
                "baseline": round(by_name["audio_vector (before: 12 audio features, flat)"]["ndcg@10"], 3),
                "baseline_is": "the audio-only vector --like used before (random ranking "
                f"{by_name['random']['ndcg@10']:.3f})",
            }
        )

    mastering_script = ROOT / "bench" / "mastering.py"
    if mastering_script.is_file():
        walls["mastering"], peaks["mastering"] = run("mastering", ["-m", "bench.mastering", *(["--minutes", "1"] if quick else [])])
        mastering = _load("mastering.json")
        rows.append(
            {
                "measure": "mastering (s per minute of 44.1 kHz stereo)",
                "value": mastering["master_s_per_minute"],
                "baseline": mastering["normalise_only_s_per_minute"],
                "baseline_is": "loudness normalisation alone",
            }
        )
    startup_script = ROOT / "bench" / "startup.py"
    if startup_script.is_file():
        walls["startup"], peaks["startup"] = run("CLI start-up", ["-m", "bench.startup", "--out", str(OUT / "startup.json")])
        startup = _load("startup.json")
        floor = next(c for c in startup["commands"] if c["command"] == "python -c pass")
        for command in startup["commands"]:
            if command is floor or command["median_s"] is None:
                continue
            rows.append(
                {
                    "measure": f"start-up: sidflow {command['command']} (s; target < {command['target_s']})",
                    "value": command["median_s"],
                    "baseline": floor["median_s"],
                    "baseline_is": "python -c pass",
                }
            )
    for name, peak in peaks.items():
        rows.append({"measure": f"peak memory: {name} (MiB)", "value": round(peak, 1), "baseline": None, "baseline_is": ""})
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "quick": quick,
        "wall_s": {k: round(v, 1) for k, v in walls.items()},
        "rows": rows,
    }


def _fmt(value: Any) -> str:
    """Three significant digits: 0.000031 s of prediction must not print as 0.0."""
    if not isinstance(value, float):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Measured {report['when']} on {report['machine']['cpus']} cores, Python {report['machine']['python']}"
        f" (`.venv/bin/python -m bench.run_all`{' --quick' if report['quick'] else ''}):",
        "",
        "| measure | value | baseline (same run) |",
        "|---|---:|---|",
    ]
    for row in report["rows"]:
        baseline = "" if row["baseline"] is None else f"{_fmt(row['baseline'])} — "
        lines.append(f"| {row['measure']} | {_fmt(row['value'])} | {baseline}{row['baseline_is']} |")
    return "\n".join(lines)


def update_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md has no {START} … {END} markers")
    head, rest = readme.split(START, 1)
    _old, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs (smoke test)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the README table")
    parser.add_argument("--table-only", action="store_true", help="re-render the table from bench/results.json, run nothing")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.table_only:
        report = json.loads(RESULTS.read_text(encoding="utf-8"))
    else:
        report = collect(args.quick)
        RESULTS.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    table = Table(title="SIDFlow benchmarks")
    for column in ("measure", "value", "baseline (same run)"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for row in report["rows"]:
        baseline = "" if row["baseline"] is None else f"{_fmt(row['baseline'])} — "
        table.add_row(row["measure"], _fmt(row["value"]), f"{baseline}{row['baseline_is']}")
    Console().print(table)
    if not args.no_readme:
        update_readme(markdown(report))
    print(f"wrote {RESULTS}" + ("" if args.no_readme else " and the README table"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

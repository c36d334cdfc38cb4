"""How fast does an HVSC-sized 7z unpack with py7zr (via safe_extract) versus 7-Zip?

A full HVSC sync is dominated by unpacking ~60k small SID files, so this builds a
deterministic archive of the same shape — many 1–8 KB files of partly compressible
bytes in a MUSICIANS/GAMES/DEMOS tree — once into ``bench/out/`` and then times
extraction with each available tool.

    .venv/bin/python -m bench.hvsc_extract [--size-mb 64] [--repeat 3] [--out bench/out/hvsc_extract.json]

Figures: uncompressed MiB per wall second, wall and CPU seconds (median of the runs).
CPU above wall means more than one core was busy. The "decode only" rows decompress
and CRC-check without writing files, separating codec cost from filesystem cost.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import py7zr
from rich.console import Console
from rich.table import Table

from sidflow_pipeline.hvsc.archive import safe_extract
from sidflow_pipeline.hvsc.download import sha256_file
from sidflow_pipeline.layout import HVSC_TREE

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SEED = 6502
# Share of each file that is incompressible (code, samples); the rest repeats earlier
# blocks (tables, note data, zero padding) the way SID data does.
RANDOM_SHARE = 0.8
MIB = 2**20


def _composer_paths(rng: random.Random, count: int) -> list[str]:
    """HVSC-like relative paths: MUSICIANS/<L>/<Composer>/<Tune>.sid, GAMES/<range>/, DEMOS/<range>/."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    composers = [
        f"{rng.choice(letters)}{rng.randbytes(3).hex()}_{rng.choice(letters)}{rng.randbytes(2).hex()}"
        for _ in range(max(1, count // 12))
    ]
    paths = []
    for index in range(count):
        kind = rng.random()
        if kind < 0.7:
            composer = rng.choice(composers)
            paths.append(f"{HVSC_TREE}/MUSICIANS/{composer[0]}/{composer}/Tune_{index:05d}.sid")
        elif kind < 0.9:
            paths.append(f"{HVSC_TREE}/GAMES/{rng.choice(['0-9', 'A-F', 'G-L', 'M-R', 'S-Z'])}/Game_{index:05d}.sid")
        else:
            paths.append(f"{HVSC_TREE}/DEMOS/{rng.choice(['0-9', 'A-F', 'G-L', 'M-R', 'S-Z'])}/Demo_{index:05d}.sid")
    return paths


def _tune_bytes(rng: random.Random, size: int) -> bytes:
    header = b"PSID\x00\x02\x00\x7c" + bytes(rng.randrange(256) for _ in range(8)) + b"Some Title".ljust(32, b"\x00")
    header = header.ljust(124, b"\x00")
    body = bytearray()
    blocks: list[bytes] = []
    while len(header) + len(body) < size:
        if not blocks or rng.random() < RANDOM_SHARE:
            block = rng.randbytes(64)
            blocks.append(block)
        else:
            block = rng.choice(blocks)
        body += block
    return (header + bytes(body))[:size]


def build_archive(size_mb: int, console: Console) -> tuple[Path, dict[str, Any]]:
    """Build (or reuse) the benchmark archive; deterministic for a given size."""
    OUT.mkdir(parents=True, exist_ok=True)
    archive = OUT / f"hvsc_bench_{size_mb}mb.7z"
    meta_path = archive.with_suffix(".json")
    if archive.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("seed") == SEED and meta.get("bytes") == archive.stat().st_size:
            console.print(f"reusing {archive.relative_to(ROOT)}")
            return archive, meta
    rng = random.Random(SEED)
    target = size_mb * MIB
    sizes: list[int] = []
    while sum(sizes) < target:
        sizes.append(rng.randint(1024, 8192))
    paths = _composer_paths(rng, len(sizes))
    source = OUT / "hvsc_bench_src"
    shutil.rmtree(source, ignore_errors=True)
    started = time.perf_counter()
    for rel, size in zip(paths, sizes, strict=True):
        target_path = source / rel
        target_path.parent.mkdir(parents=True, exist_ok=True)
        target_path.write_bytes(_tune_bytes(rng, size))
    console.print(f"generated {len(sizes)} files, {sum(sizes) / MIB:.1f} MiB in {time.perf_counter() - started:.1f}s")
    archive.unlink(missing_ok=True)
    started = time.perf_counter()
    seven = shutil.which("7zz") or shutil.which("7z")
    if seven:
        # 7-Zip builds the real HVSC archives: LZMA2, solid, like a release.
        subprocess.run(
            [seven, "a", "-t7z", "-m0=lzma2", "-mx=7", "-bd", "-y", str(archive), HVSC_TREE],
            cwd=source,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        builder = Path(seven).name
    else:
        with py7zr.SevenZipFile(archive, "w") as out:
            out.writeall(source / HVSC_TREE, HVSC_TREE)
        builder = f"py7zr {py7zr.__version__}"
    console.print(f"built {archive.relative_to(ROOT)} with {builder} in {time.perf_counter() - started:.1f}s")
    shutil.rmtree(source, ignore_errors=True)
    meta = {
        "seed": SEED,
        "size_mb": size_mb,
        "files": len(sizes),
        "uncompressed_bytes": sum(sizes),
        "bytes": archive.stat().st_size,
        "sha256": sha256_file(archive),
        "builder": builder,
        "random_share": RANDOM_SHARE,
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return archive, meta


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _count_files(root: Path) -> int:
    return sum(len(files) for _dirs, _sub, files in os.walk(root))


def run_py7zr(archive: Path, dest: Path) -> tuple[float, float, int]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = safe_extract(archive, dest)
    return time.perf_counter() - wall0, time.process_time() - cpu0, result.files


def run_py7zr_decode(archive: Path, _dest: Path) -> tuple[float, float, int]:
    """Decompress and CRC-check without writing files: the codec's share of the time."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with py7zr.SevenZipFile(archive) as source:
        bad = source.testzip()
        files = sum(1 for f in source.files if not f.is_directory)
    if bad is not None:
        raise SystemExit(f"py7zr testzip: CRC error in {bad}")
    return time.perf_counter() - wall0, time.process_time() - cpu0, files


def run_cli(tool: str, archive: Path, dest: Path) -> tuple[float, float, int]:
    cpu0, wall0 = _children_cpu(), time.perf_counter()
    subprocess.run([tool, "x", "-y", "-bd", f"-o{dest}", str(archive)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - wall0, _children_cpu() - cpu0, _count_files(dest)


def run_cli_decode(tool: str, archive: Path, _dest: Path, files: int) -> tuple[float, float, int]:
    cpu0, wall0 = _children_cpu(), time.perf_counter()
    subprocess.run([tool, "t", "-bd", str(archive)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - wall0, _children_cpu() - cpu0, files


def _tool_version(tool: str) -> str:
    try:
        text = subprocess.run([tool], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    for line in text.splitlines():
        if "7-Zip" in line:
            return line.split(" : ")[0].strip()  # "7-Zip [64] 16.02 : Copyright ..."
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=64, help="uncompressed payload in MiB (default 64)")
    parser.add_argument("--repeat", type=int, default=3, help="extractions per tool; the median is reported")
    parser.add_argument("--out", type=Path, default=OUT / "hvsc_extract.json")
    args = parser.parse_args(argv)
    console = Console()

    archive, meta = build_archive(args.size_mb, console)
    uncompressed = int(meta["uncompressed_bytes"])
    expected_files = int(meta["files"])
    # (label, version, runner or None when the tool is missing, writes files?)
    tools: list[tuple[str, str, Callable[[Path], tuple[float, float, int]] | None, bool]] = [
        ("py7zr safe_extract", f"py7zr {py7zr.__version__}", lambda d: run_py7zr(archive, d), True),
        ("py7zr testzip (decode only)", f"py7zr {py7zr.__version__}", lambda d: run_py7zr_decode(archive, d), False),
    ]
    for name in ("7z", "7zz"):
        path = shutil.which(name)
        version = _tool_version(path) if path else "not installed"
        tools.append((f"{name} x", version, functools.partial(run_cli, path, archive) if path else None, True))
        if path:
            tools.append(
                (
                    f"{name} t (decode only)",
                    version,
                    functools.partial(run_cli_decode, path, archive, files=expected_files),
                    False,
                )
            )

    results: list[dict[str, Any]] = []
    scratch = OUT / "extract_tmp"
    for label, version, runner, writes in tools:
        if runner is None:
            results.append({"tool": label, "version": version, "installed": False})
            continue
        runs = []
        for _ in range(max(1, args.repeat)):
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            wall, cpu, files = runner(scratch)
            if files != expected_files:
                raise SystemExit(f"{label}: extracted {files} files, expected {expected_files}")
            runs.append({"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)})
        wall = statistics.median(r["wall_s"] for r in runs)
        cpu = statistics.median(r["cpu_s"] for r in runs)
        results.append(
            {
                "tool": label,
                "version": version,
                "installed": True,
                "writes_files": writes,
                "runs": runs,
                "wall_s": wall,
                "cpu_s": cpu,
                "mib_per_s": round(uncompressed / MIB / wall, 1),
                "files_per_s": round(expected_files / wall),
            }
        )
    shutil.rmtree(scratch, ignore_errors=True)

    report = {
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "py7zr": py7zr.__version__,
            "platform": platform.platform(),
            "machine": platform.machine(),
        },
        "archive": {"path": str(archive.relative_to(ROOT)), **meta},
        "repeat": args.repeat,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    table = Table(
        title=(
            f"{meta['files']} files, {uncompressed / MIB:.1f} MiB from a {int(meta['bytes']) / MIB:.1f} MiB 7z\n"
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}, median of {args.repeat}"
        )
    )
    for column in ("tool", "version", "wall s", "CPU s", "MiB/s", "files/s"):
        table.add_column(column, justify="left" if column in ("tool", "version") else "right")
    for row in results:
        if not row["installed"]:
            table.add_row(str(row["tool"]), "not installed", "-", "-", "-", "-")
            continue
        table.add_row(
            str(row["tool"]),
            str(row["version"]),
            f"{row['wall_s']:.2f}",
            f"{row['cpu_s']:.2f}",
            f"{row['mib_per_s']:.1f}",
            f"{row['files_per_s']}",
        )
    console.print(table)
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

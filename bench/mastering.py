"""Seconds of CPU to master one minute of 44.1 kHz stereo audio, and where it goes.

Masters generated signals (pink noise, a SID-like square-wave tune, a sine sweep) of
``--minutes`` minutes with the shipped ``sid_8580`` and ``studio`` profiles, after one
warm-up, and reports wall seconds per minute of audio (median over signals):

* ``apply_profile`` — EQ, width, loudness normalisation, 4x true-peak limiter;
* ``fingerprint`` — without and with tempo;
* baseline, in the same run: loudness normalisation alone (measure with pyloudnorm,
  apply one gain) — what a player without mastering would do at the least.

    .venv/bin/python -m bench.mastering [--minutes 3]

Prints a table and writes ``bench/out/mastering.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from sidflow_pipeline.mastering.dsp import apply_profile
from sidflow_pipeline.mastering.fingerprint import fingerprint, integrated_loudness_lufs
from sidflow_pipeline.mastering.profiles import ensure_profiles, load_profile
from sidflow_pipeline.mastering.signals import make_signal

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SR = 44100


def _normalise_only(audio: np.ndarray, target: float) -> np.ndarray:
    gain_db = target - integrated_loudness_lufs(audio, SR)
    return audio * 10 ** (gain_db / 20)


def _timed(func, *args) -> float:
    started = time.perf_counter()
    func(*args)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    profiles_dir = Path(tempfile.mkdtemp(prefix="sidflow-bench-profiles-"))
    ensure_profiles(profiles_dir)
    seconds = args.minutes * 60
    signals = {name: make_signal(name, SR, seconds, seed=1) for name in ("pink_noise", "sid_like", "sine_sweep")}
    profiles = {kind: load_profile(profiles_dir, kind) for kind in ("sid_8580", "studio")}
    warm = make_signal("sid_like", SR, 5.0)
    apply_profile(warm, SR, profiles["sid_8580"])
    fingerprint(warm, SR, tempo=True)

    rows: dict[str, list[float]] = {"apply_profile": [], "normalise_only": [], "fingerprint": [], "fingerprint+tempo": []}
    for audio in signals.values():
        for profile in profiles.values():
            rows["apply_profile"].append(_timed(apply_profile, audio, SR, profile) / args.minutes)
            rows["normalise_only"].append(_timed(_normalise_only, audio, profile.target_lufs) / args.minutes)
        rows["fingerprint"].append(_timed(lambda a: fingerprint(a, SR, tempo=False), audio) / args.minutes)
        rows["fingerprint+tempo"].append(_timed(lambda a: fingerprint(a, SR, tempo=True), audio) / args.minutes)
    medians = {name: round(statistics.median(values), 3) for name, values in rows.items()}
    report = {
        "benchmark": "mastering",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "minutes_per_signal": args.minutes,
        "signals": list(signals),
        "profiles": list(profiles),
        "s_per_minute": medians,
        "master_s_per_minute": medians["apply_profile"],
        "normalise_only_s_per_minute": medians["normalise_only"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "mastering.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    table = Table(title=f"mastering — seconds per minute of 44.1 kHz stereo ({args.minutes:g} min × {len(signals)} signals)")
    table.add_column("stage")
    table.add_column("s / minute", justify="right")
    table.add_column("× real time", justify="right")
    for name, value in medians.items():
        table.add_row(name, f"{value:.3f}", f"{60 / value:.0f}×" if value else "—")
    Console().print(table)
    print(f"wrote {OUT / 'mastering.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

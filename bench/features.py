"""What does feature extraction cost per song, and where does the time go?

The pipeline budget is about 1 CPU-second per song end to end, and rendering with
sidplayfp takes 0.6–0.75 s of it, so ``extract_features`` gets ~0.2 CPU-s for a
30 s mono 22,050 Hz excerpt. This renders (or reuses) 30 s excerpts of real HVSC
sample tunes into ``bench/out/features-wav/`` and measures, single-threaded like a
pipeline worker (one process per core):

* per-song CPU seconds of ``extract_features`` after warm-up (median, p95, max),
  with the split by stage (STFT, spectral, MFCC, tempo, key, loudness, dynamics);
* the one-time cost a fresh worker process pays (imports, numba JIT), measured in a
  clean subprocess;
* with ``--compare-tempo`` (default on), the tempo estimators that were considered,
  on the same excerpts and on a 120 BPM click track.

    .venv/bin/python -m bench.features [--count 20] [--repeat 5] [--seconds 30] [--no-compare-tempo]

Figures are ``time.process_time`` CPU seconds; results go to ``bench/out/features.json``.
"""

from __future__ import annotations

import os

# Before numpy loads: a pipeline worker owns one core, so BLAS must not spread out.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from sidflow_pipeline.features import FEATURE_SET_VERSION, extract_features
from sidflow_pipeline.features.extract import STAGES
from sidflow_pipeline.layout import HVSC_TREE

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
WAV_DIR = OUT / "features-wav"
SAMPLE = (ROOT / ".." / "shared" / "hvsc-sample" / HVSC_TREE).resolve()
SR = 22050
BUDGET_S = 0.2
# Some RSID tunes never stop or loop over subtunes without the C64 ROMs; one wrote
# 1.9 GB for a "-t30" render here. Kill a render that outgrows its excerpt or stalls.
RENDER_WALL_LIMIT_S = 20.0

WARMUP_SCRIPT = r"""
import json, sys, time
from pathlib import Path
marks = {}
def mark(name, start):
    marks[name] = round(time.process_time() - start, 4)
    return time.process_time()
t = time.process_time()
import numpy, soundfile
t = mark("import numpy + soundfile", t)
from sidflow_pipeline.features import extract_features_from_wav
t = mark("import sidflow_pipeline.features", t)
import librosa, librosa.feature, librosa.onset
t = mark("import librosa (+ numba compile of its kernels)", t)
import essentia.standard
t = mark("import essentia", t)
import pyloudnorm, scipy.stats
t = mark("import pyloudnorm + scipy.stats", t)
extract_features_from_wav(Path(sys.argv[1]))
t = mark("first extract_features_from_wav (lazy submodules, caches)", t)
extract_features_from_wav(Path(sys.argv[1]))
t = mark("second extract_features_from_wav (steady state)", t)
print(json.dumps(marks))
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def render_excerpt(sid: Path, wav: Path, seconds: int) -> tuple[str, float | None]:
    """Render one excerpt with a wall-clock watchdog and a size cap; returns (status, CPU s)."""
    wav.parent.mkdir(parents=True, exist_ok=True)
    cap = int(seconds * SR * 2 * 1.05) + 4096
    command = ["sidplayfp", "--resid", "-rif", f"-f{SR}", "-m", "-os1", f"-t{seconds}", f"-w{wav}", str(sid)]
    cpu0, started = _children_cpu(), time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status = "ok"
    while process.poll() is None:
        time.sleep(0.05)
        if time.perf_counter() - started > RENDER_WALL_LIMIT_S:
            status = "timeout"
        elif wav.exists() and wav.stat().st_size > cap:
            status = "oversize"
        if status != "ok":
            process.kill()
            process.wait()
            break
    cpu = _children_cpu() - cpu0
    if status == "ok" and process.returncode != 0:
        status = f"exit {process.returncode}"
    if status == "ok":
        info = sf.info(str(wav))
        if abs(info.duration - seconds) > 0.1:
            status = f"short ({info.duration:.1f}s)"
    if status != "ok":
        wav.unlink(missing_ok=True)
        return status, None
    return status, cpu


def collect_excerpts(count: int, seconds: int, console: Console) -> list[dict[str, Any]]:
    """The first ``count`` sample tunes (sorted by path) that render cleanly, cached by name.

    Without the HVSC sample (a clean clone), the generated demo collection stands in,
    so the benchmark still runs; its tunes are simpler, so the figures are lower.
    """
    source = SAMPLE
    if not SAMPLE.is_dir():
        from sidflow_pipeline.demo.collection import write_demo_collection

        source = write_demo_collection(WAV_DIR / "demo-collection").root
        console.print(f"HVSC sample not found at {SAMPLE}: using the generated demo collection")
    manifest_path = WAV_DIR / "renders.json"
    manifest: dict[str, Any] = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    excerpts: list[dict[str, Any]] = []
    for sid in sorted(source.rglob("*.sid")):
        if len(excerpts) >= count:
            break
        relative = sid.relative_to(source).as_posix()
        key = f"{relative}@{seconds}s"
        wav = WAV_DIR / f"{relative.replace('/', '__')[:-4]}.{seconds}s.wav"
        entry = manifest.get(key)
        if entry is None or (entry["status"] == "ok" and not wav.is_file()):
            status, cpu = render_excerpt(sid, wav, seconds)
            entry = {"status": status, "render_cpu_s": cpu}
            manifest[key] = entry
            console.print(f"rendered {relative}: {status}" + (f", {cpu:.2f} CPU-s" if cpu is not None else ""))
        if entry["status"] == "ok":
            excerpts.append({"sid": relative, "wav": wav, "render_cpu_s": entry["render_cpu_s"]})
    WAV_DIR.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    skipped = sorted(k for k, v in manifest.items() if v["status"] != "ok")
    if skipped:
        console.print(f"not renderable (skipped): {', '.join(skipped)}")
    return excerpts


def measure_warmup(wav: Path) -> dict[str, float]:
    """One-time costs of a fresh worker process, measured in a clean interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", WARMUP_SCRIPT, str(wav)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def measure_extraction(excerpts: list[dict[str, Any]], repeat: int) -> list[dict[str, Any]]:
    """Per-song steady-state CPU seconds (median of ``repeat`` calls) and stage split."""
    rows = []
    for excerpt in excerpts:
        read_started = time.process_time()
        samples, sr = sf.read(str(excerpt["wav"]), dtype="float32")
        read_cpu = time.process_time() - read_started
        totals: list[float] = []
        stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
        features: dict[str, float] = {}
        for _ in range(repeat):
            timings: dict[str, float] = {}
            started = time.process_time()
            features = extract_features(samples, sr, timings=timings)
            totals.append(time.process_time() - started)
            for stage in STAGES:
                stages[stage].append(timings[stage])
        rows.append(
            {
                "sid": excerpt["sid"],
                "render_cpu_s": excerpt["render_cpu_s"],
                "read_cpu_s": round(read_cpu, 5),
                "cpu_s": round(statistics.median(totals), 5),
                "stages_s": {stage: round(statistics.median(values), 5) for stage, values in stages.items()},
                "features": features,
            }
        )
    return rows


def _clicks(bpm: float, seconds: float, sr: int) -> np.ndarray:
    signal = np.zeros(int(seconds * sr), dtype=np.float32)
    for beat in range(int(seconds * bpm / 60)):
        start = int(round(beat * 60 / bpm * sr))
        signal[start : start + 100] = 0.5 * np.hanning(100)[: len(signal) - start]
    return signal


def _agrees(bpm: float, reference: float, octaves: bool) -> bool:
    if bpm <= 0 or reference <= 0:
        return False
    candidates = (reference, reference / 2, reference * 2) if octaves else (reference,)
    return any(abs(bpm / candidate - 1) < 0.04 for candidate in candidates)


def compare_tempo(excerpts: list[dict[str, Any]], rows: list[dict[str, Any]], seconds: int) -> list[dict[str, Any]]:
    """Cost and answers of the tempo estimators considered, on the same excerpts.

    The chosen method's figures come from ``extract_features`` itself (its ``tempo``
    stage and ``bpm``). The others are timed on the audio they need, excluding work
    shared with the rest of extraction (librosa beat_track gets a precomputed onset
    envelope). RhythmExtractor2013 only supports 44.1 kHz, so its time includes an
    Essentia resample. multifeature is the reference for agreement.
    """
    import essentia.standard as es
    import librosa

    clicks = _clicks(120.0, seconds, SR)
    resample = es.Resample(inputSampleRate=SR, outputSampleRate=44100, quality=4)

    def beat_track(signal: np.ndarray, envelope: np.ndarray) -> float:
        return float(np.atleast_1d(librosa.beat.beat_track(onset_envelope=envelope, sr=SR)[0])[0])

    percival = es.PercivalBpmEstimator(sampleRate=SR)

    def percival_bpm(signal: np.ndarray, _envelope: np.ndarray) -> float:
        percival.reset()  # the binding returns the previous answer unless reset
        return float(percival(signal))

    degara = es.RhythmExtractor2013(method="degara")
    multifeature = es.RhythmExtractor2013(method="multifeature")

    def degara_bpm(signal: np.ndarray, _envelope: np.ndarray) -> float:
        return float(degara(resample(signal))[0])

    def multifeature_bpm(signal: np.ndarray, _envelope: np.ndarray) -> float:
        return float(multifeature(resample(signal))[0])

    methods: list[tuple[str, Callable[[np.ndarray, np.ndarray], float]]] = [
        ("librosa beat_track (onset env given)", beat_track),
        ("Essentia PercivalBpmEstimator", percival_bpm),
        ("Essentia RhythmExtractor2013 degara @44.1k", degara_bpm),
        ("Essentia RhythmExtractor2013 multifeature @44.1k", multifeature_bpm),
    ]
    audio = [sf.read(str(excerpt["wav"]), dtype="float32")[0] for excerpt in excerpts]
    envelopes = [librosa.onset.onset_strength(y=signal, sr=SR) for signal in audio]
    click_envelope = librosa.onset.onset_strength(y=clicks, sr=SR)
    answers: dict[str, list[float]] = {}
    results: list[dict[str, Any]] = []
    for name, method in methods:
        first_started = time.process_time()
        method(audio[0], envelopes[0])
        first_call = time.process_time() - first_started
        times, bpms = [], []
        for signal, envelope in zip(audio, envelopes, strict=True):
            started = time.process_time()
            bpms.append(method(signal, envelope))
            times.append(time.process_time() - started)
        answers[name] = bpms
        results.append(
            {
                "method": name,
                "first_call_s": round(first_call, 4),
                "median_s": round(statistics.median(times), 5),
                "p95_s": round(_percentile(times, 95), 5),
                "click_120": round(method(clicks, click_envelope), 2),
                "bpms": [round(b, 2) for b in bpms],
            }
        )
    chosen_click = extract_features(clicks, SR)["bpm"]
    chosen_times = [row["stages_s"]["tempo"] for row in rows]
    results.insert(
        0,
        {
            "method": "librosa tempogram+tempo, parabolic peak (chosen)",
            "first_call_s": None,
            "median_s": round(statistics.median(chosen_times), 5),
            "p95_s": round(_percentile(chosen_times, 95), 5),
            "click_120": chosen_click,
            "bpms": [row["features"]["bpm"] for row in rows],
        },
    )
    reference = answers["Essentia RhythmExtractor2013 multifeature @44.1k"]
    for result in results:
        pairs = list(zip(result["bpms"], reference, strict=False))
        result["agree_with_multifeature"] = round(sum(_agrees(b, r, False) for b, r in pairs) / len(pairs), 3)
        result["agree_up_to_octave"] = round(sum(_agrees(b, r, True) for b, r in pairs) / len(pairs), 3)
    return results


def _machine() -> dict[str, Any]:
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import essentia
    import librosa

    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "librosa": librosa.__version__,  # type: ignore[attr-defined]  # set by its lazy loader
        "essentia": essentia.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="number of sample tunes (default 20)")
    parser.add_argument("--repeat", type=int, default=5, help="extractions per song; the median is reported")
    parser.add_argument("--seconds", type=int, default=30, help="excerpt length (default 30)")
    parser.add_argument("--compare-tempo", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", type=Path, default=OUT / "features.json")
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 120))

    excerpts = collect_excerpts(args.count, args.seconds, console)
    if not excerpts:
        raise SystemExit("no excerpt rendered")
    warmup = measure_warmup(excerpts[0]["wav"])
    with threadpool_limits(limits=1):
        extract_features(sf.read(str(excerpts[0]["wav"]), dtype="float32")[0], SR)  # warm-up
        rows = measure_extraction(excerpts, args.repeat)
        tempo = compare_tempo(excerpts, rows, args.seconds) if args.compare_tempo else []

    per_song = [row["cpu_s"] for row in rows]
    stage_medians = {stage: statistics.median(row["stages_s"][stage] for row in rows) for stage in STAGES}
    renders = [row["render_cpu_s"] for row in rows if row["render_cpu_s"] is not None]
    summary = {
        "songs": len(rows),
        "median_s": round(statistics.median(per_song), 4),
        "p95_s": round(_percentile(per_song, 95), 4),
        "max_s": round(max(per_song), 4),
        "budget_s": BUDGET_S,
        "within_budget": max(per_song) <= BUDGET_S,
        "wav_read_median_s": round(statistics.median(row["read_cpu_s"] for row in rows), 4),
        "render_median_s": round(statistics.median(renders), 3) if renders else None,
        "stage_median_s": {stage: round(value, 4) for stage, value in stage_medians.items()},
    }
    report: dict[str, Any] = {
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "feature_set_version": FEATURE_SET_VERSION,
        "machine": _machine(),
        "settings": {"seconds": args.seconds, "sample_rate": SR, "repeat": args.repeat, "threads": 1},
        "summary": summary,
        "warmup_s": warmup,
        "tempo_methods": tempo,
        "songs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    machine = report["machine"]
    table = Table(
        title=(
            f"extract_features on {len(rows)} × {args.seconds} s HVSC excerpts, mono {SR} Hz, 1 thread\n"
            f"{machine['cpu_model']}, Python {machine['python']}, median of {args.repeat} calls per song"
        )
    )
    table.add_column("stage")
    table.add_column("median CPU ms", justify="right")
    table.add_column("share", justify="right")
    total_of_stages = sum(stage_medians.values())
    for stage, value in stage_medians.items():
        table.add_row(stage, f"{value * 1000:.1f}", f"{value / total_of_stages:.0%}")
    table.add_section()
    table.add_row("per song, median", f"{summary['median_s'] * 1000:.1f}", "")
    table.add_row("per song, p95", f"{summary['p95_s'] * 1000:.1f}", "")
    table.add_row("per song, max", f"{summary['max_s'] * 1000:.1f}", "")
    table.add_row("budget", f"{BUDGET_S * 1000:.0f}", "✓" if summary["within_budget"] else "✗")
    table.add_row("WAV read (extra, median)", f"{summary['wav_read_median_s'] * 1000:.1f}", "")
    if summary["render_median_s"] is not None:
        table.add_row("sidplayfp render (for scale)", f"{summary['render_median_s'] * 1000:.0f}", "")
    console.print(table)

    warm = Table(title="one-time cost per worker process (fresh interpreter)")
    warm.add_column("step")
    warm.add_column("CPU s", justify="right")
    for step, value in warmup.items():
        warm.add_row(step, f"{value:.3f}")
    console.print(warm)

    if tempo:
        tempo_table = Table(title=f"tempo estimators on the same {len(rows)} excerpts (reference: multifeature)")
        for column in ("method", "median ms", "p95 ms", "first call s", "120 BPM clicks", "= multifeature", "= up to octave"):
            tempo_table.add_column(column, justify="left" if column == "method" else "right")
        for result in tempo:
            first = "-" if result["first_call_s"] is None else f"{result['first_call_s']:.2f}"
            tempo_table.add_row(
                result["method"],
                f"{result['median_s'] * 1000:.1f}",
                f"{result['p95_s'] * 1000:.1f}",
                first,
                f"{result['click_120']:.1f}",
                f"{result['agree_with_multifeature']:.0%}",
                f"{result['agree_up_to_octave']:.0%}",
            )
        console.print(tempo_table)
    console.print(f"wrote {args.out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

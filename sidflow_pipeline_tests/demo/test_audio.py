"""The demo tunes are real music: sidplayfp renders every song to audible sound, the
notes have the designed pitch, and measured features follow the design.

Each song's design classes (tempo, loudness, brightness, density) are compared with
what librosa measures on an 8-second excerpt rendered by the real sidplayfp: class
means must be ordered, and the "study" files, whose subtunes differ in exactly one
parameter, must move the matching feature in the designed direction.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sidflow_pipeline.demo.collection import build_release_tree, release
from sidflow_pipeline.demo.player_routine import build_sid, note_frequency
from sidflow_pipeline.demo.spec import DemoSong, TuneSpec
from sidflow_pipeline.demo.tunes import PITCH_REFERENCE_NOTES, PITCH_REFERENCE_PATH, base_tunes
from sidflow_pipeline.numba_lock import load_librosa
from sidflow_pipeline.sid.sidplayfp import RenderSettings, render_excerpt

pytestmark = pytest.mark.skipif(shutil.which("sidplayfp") is None, reason="sidplayfp is not installed")

EXCERPT_S = 8.0
SETTINGS = RenderSettings(sample_rate=22050, engine="fast", mono=True, duration_s=EXCERPT_S)
AUDIBLE_DBFS = -50.0


@dataclass(frozen=True)
class Measured:
    rms_dbfs: float  # DC removed: the 6581's offset is inaudible
    onset_rate: float  # librosa onsets per second
    centroid_hz: float  # spectral centroid, frames weighted by their RMS (rests don't count)


def measure(wav: Path) -> Measured:
    librosa = load_librosa()
    y, sr = sf.read(wav, dtype="float32")
    y = y - float(np.mean(y))
    rms = float(np.sqrt(np.mean(y * y)))
    onsets = librosa.onset.onset_detect(y=y, sr=sr)
    centroid = librosa.feature.spectral_centroid(y=y, sr=sr)[0]
    weights = librosa.feature.rms(y=y)[0]
    n = min(len(centroid), len(weights))
    return Measured(
        rms_dbfs=float(20 * np.log10(max(rms, 1e-12))),
        onset_rate=float(len(onsets) / (len(y) / sr)),
        centroid_hz=float(np.sum(centroid[:n] * weights[:n]) / max(np.sum(weights[:n]), 1e-12)),
    )


def _song_key(song: DemoSong) -> tuple[object, ...]:
    # Same notes on the same chip and clock sound the same, wherever the file moved.
    return (song.song, song.tune.clock, song.tune.sid_model)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], tuple[DemoSong, Measured]]:
    """Every distinct song of releases 1 and 2 (the default mirror), rendered once."""
    tmp = tmp_path_factory.mktemp("demo-audio")
    jobs: dict[tuple[object, ...], tuple[DemoSong, Path]] = {}
    for version in (1, 2):
        root = build_release_tree(tmp / f"r{version}", version).root
        for song in release(version).songs():
            jobs.setdefault(_song_key(song), (song, root / song.path))

    def run(job: tuple[DemoSong, Path]) -> tuple[DemoSong, Measured]:
        song, sid = job
        wav = tmp / "wav" / f"{song.path.replace('/', '_')}.{song.song_index}.wav"
        result = render_excerpt(sid, song.song_index, wav, SETTINGS)
        assert result.status == "ok", (song.path, song.song_index, result.message)
        return song, measure(wav)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, jobs.values()))
    return {(s.path, s.song_index): (s, m) for s, m in results}


def test_every_song_is_audible(rendered: dict[tuple[str, int], tuple[DemoSong, Measured]]) -> None:
    assert len(rendered) >= 60
    quiet = {key: round(m.rms_dbfs, 1) for key, (_, m) in rendered.items() if m.rms_dbfs <= AUDIBLE_DBFS}
    assert quiet == {}
    assert all(m.onset_rate > 0 for _, m in rendered.values())


def _class_means(
    rendered: dict[tuple[str, int], tuple[DemoSong, Measured]], attr: str, feature: str
) -> dict[str, float]:
    groups: dict[str, list[float]] = defaultdict(list)
    for song, m in rendered.values():
        groups[getattr(song, attr)].append(getattr(m, feature))
    return {cls: float(np.mean(values)) for cls, values in groups.items()}


def test_class_means_follow_the_design(rendered: dict[tuple[str, int], tuple[DemoSong, Measured]]) -> None:
    tempo = _class_means(rendered, "tempo_class", "onset_rate")
    loud = _class_means(rendered, "loudness_class", "rms_dbfs")
    bright = _class_means(rendered, "brightness_class", "centroid_hz")
    density = _class_means(rendered, "density_class", "onset_rate")
    print({"onset_rate": tempo, "rms_dbfs": loud, "centroid_hz": bright, "density_onset_rate": density})
    assert tempo["fast"] > tempo["medium"] > tempo["slow"]
    assert tempo["fast"] > 2 * tempo["slow"]
    assert loud["loud"] > loud["medium"] > loud["quiet"]
    assert loud["loud"] - loud["quiet"] > 6.0
    assert bright["bright"] > bright["medium"] > bright["dark"]
    assert bright["bright"] > 2 * bright["dark"]
    assert density["dense"] > density["sparse"]


def _study(rendered: dict[tuple[str, int], tuple[DemoSong, Measured]], name: str, feature: str) -> list[float]:
    path = f"MUSICIANS/D/Demo_Composer/{name}.sid"
    count = len(base_tunes()[path].songs)
    return [getattr(rendered[(path, i)][1], feature) for i in range(1, count + 1)]


def test_one_parameter_pairs_move_the_matching_feature(
    rendered: dict[tuple[str, int], tuple[DemoSong, Measured]],
) -> None:
    slow, medium, fast = _study(rendered, "Tempo_Study", "onset_rate")
    assert slow < medium < fast and fast > 1.8 * slow
    loud, mid, quiet = _study(rendered, "Volume_Study", "rms_dbfs")
    assert loud - mid > 3.0 and mid - quiet > 6.0
    open_, lp1400, lp160, hp = _study(rendered, "Filter_Study", "centroid_hz")
    assert open_ > 2.5 * lp160 and lp1400 > 2 * lp160 and hp > open_
    sparse, half, dense = _study(rendered, "Density_Study", "onset_rate")
    assert sparse < half < dense and dense > 2.5 * sparse
    triangle, saw, pulse, noise = _study(rendered, "Waveform_Study", "centroid_hz")
    assert triangle < 0.5 * min(saw, pulse, noise)


def _pitches(wav: Path, notes: int, step_s: float) -> list[float]:
    """Strongest FFT peak (parabolically interpolated) inside each note's middle."""
    y, sr = sf.read(wav, dtype="float64")
    found = []
    for i in range(notes):
        segment = y[int((i + 0.2) * step_s * sr) : int((i + 0.8) * step_s * sr)]
        segment = (segment - segment.mean()) * np.hanning(len(segment))
        spectrum = np.abs(np.fft.rfft(segment, n=8 * len(segment)))
        k = int(np.argmax(spectrum[1:])) + 1
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        offset = 0.5 * (a - c) / (a - 2 * b + c)
        found.append((k + offset) * sr / (8 * len(segment)))
    return found


@pytest.mark.parametrize("clock", ["PAL", "NTSC"])
def test_known_notes_play_at_their_frequency(tmp_path: Path, clock: str) -> None:
    reference = base_tunes()[PITCH_REFERENCE_PATH]
    tune = reference if clock == "PAL" else TuneSpec("Pitch NTSC", "t", "t", reference.songs, clock="NTSC")
    sid = tmp_path / "pitch.sid"
    sid.write_bytes(build_sid(tune))
    wav = tmp_path / "pitch.wav"
    result = render_excerpt(sid, 1, wav, SETTINGS)
    assert result.status == "ok", result.message
    frame_rate = 985_248 / (312 * 63) if clock == "PAL" else 1_022_727 / (263 * 65)
    step_s = tune.songs[0].tempo_frames / frame_rate
    measured = _pitches(wav, len(PITCH_REFERENCE_NOTES), step_s)
    expected = [note_frequency(n) for n in PITCH_REFERENCE_NOTES]
    for got, want in zip(measured, expected, strict=True):
        assert got == pytest.approx(want, rel=0.02), (
            clock,
            [round(f, 1) for f in measured],
            [round(f, 1) for f in expected],
        )
    # librosa's pYIN agrees on the first note (A4 = 440 Hz)
    librosa = load_librosa()
    y, sr = sf.read(wav, dtype="float32")
    f0, voiced, _ = librosa.pyin(y[int(0.2 * step_s * sr) : int(0.8 * step_s * sr)], fmin=100, fmax=1000, sr=sr)
    assert float(np.nanmedian(f0[voiced])) == pytest.approx(440.0, rel=0.02)

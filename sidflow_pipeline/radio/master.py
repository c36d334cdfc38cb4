"""Mastered playback and export: render a song, master it with its type's profile.

sidplayfp plays straight to the sound card, so a mastered song has to be rendered
first (stereo, 44.1 kHz, its whole length), mastered with the current profile of its
detected type — the SID header says which chip, so the detector gets that hint — and
then played by a plain WAV player (``aplay``) or written to FLAC. Every song of a
playlist then sits at its profile's loudness target under the same true-peak ceiling.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.radio.queue import QueueItem

__all__ = ["MASTER_SAMPLE_RATE", "MasteredSong", "WavPlayerNotFound", "find_wav_player", "master_song", "render_song"]

MASTER_SAMPLE_RATE = 44100


class WavPlayerNotFound(SidflowError, RuntimeError):
    """No ``aplay`` to play mastered WAV files."""


def find_wav_player() -> Path:
    found = shutil.which("aplay")
    if found is None:
        raise WavPlayerNotFound("aplay not found: install alsa-utils (apt-get install alsa-utils) to play mastered audio")
    return Path(found)


@dataclass(frozen=True)
class MasteredSong:
    wav: Path
    detected_type: str
    confidence: float
    profile_version: str
    lufs_before: float
    lufs_after: float
    true_peak_after: float

    def describe(self) -> str:
        return (
            f"mastered as {self.detected_type} ({self.confidence:.0%}) with profile v{self.profile_version}: "
            f"{self.lufs_before:.1f} → {self.lufs_after:.1f} LUFS, true peak {self.true_peak_after:.1f} dBTP"
        )


def render_song(item: QueueItem, binary: Path, dest: Path, seconds: int) -> Path:
    """The whole song (or ``seconds`` of it) as stereo 44.1 kHz WAV; RuntimeError on failure."""
    from sidflow_pipeline.sid.sidplayfp import RenderSettings, render_excerpt

    settings = RenderSettings(sample_rate=MASTER_SAMPLE_RATE, mono=False, duration_s=float(seconds))
    result = render_excerpt(item.file, item.song_index, dest, settings, binary)
    if result.wav_path is None:
        raise RuntimeError(f"cannot render {item.sid_path}:{item.song_index}: {result.status}: {result.message}")
    return result.wav_path


def _hints(item: QueueItem) -> Any:
    from sidflow_pipeline.mastering.detect import DetectionHints
    from sidflow_pipeline.sid.header import SidFormatError, read_sid

    try:
        return DetectionHints.from_sid_header(read_sid(Path(item.file)).header)
    except (OSError, SidFormatError):
        return DetectionHints(is_sid_render=True)


def master_song(
    item: QueueItem, binary: Path, workdir: Path, profiles_dir: Path, seconds: int, suffix: str = ".wav",
    tags: Mapping[str, str] | None = None,
) -> MasteredSong:
    """Render, detect (with the header's chip as a hint), master; the result is in ``workdir``.

    ``tags`` go into the written file (see :func:`sidflow_pipeline.radio.queue.song_tags`).
    """
    from sidflow_pipeline.mastering.audio import read_audio, write_audio
    from sidflow_pipeline.mastering.loop import master_audio
    from sidflow_pipeline.mastering.profiles import ensure_profiles

    ensure_profiles(profiles_dir)
    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"{item.sid_path.replace('/', '_')}-{item.song_index}"
    raw = render_song(item, binary, workdir / f"{stem}.raw.wav", seconds)
    audio, sr = read_audio(raw)
    out, report, detection, _fp = master_audio(audio, sr, profiles_dir, hints=_hints(item))
    target = write_audio(workdir / f"{stem}.mastered{suffix}", out, sr, tags=tags)
    raw.unlink(missing_ok=True)
    return MasteredSong(
        wav=target,
        detected_type=detection.type,
        confidence=float(detection.confidence),
        profile_version=str(report.profile_version),
        lufs_before=float(report.loudness_in_lufs),
        lufs_after=float(report.loudness_out_lufs),
        true_peak_after=float(report.true_peak_out_dbtp),
    )

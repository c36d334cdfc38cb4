"""Reading, shaping and writing audio for the mastering chain.

One array layout everywhere: ``float64`` of shape ``(frames, channels)`` with one or
two channels — soundfile's own layout, so a file read and an in-memory SID render
(mono ``(frames,)`` or stereo ``(frames, 2)``) need no transposing. A 1-D array is
mono. More than two channels is refused: stereo width and the mid/side stage are
only defined for two.

Files are written through :func:`~sidflow_pipeline.atomic.atomic_write_bytes`, so a
crash never leaves half a mastered file that a player would pick up. Lossless
formats get 24-bit PCM: 16-bit dither noise would be audible after a loudness boost
of a quiet SID tune, and the quantisation error of 24 bits (−144 dBFS) cannot push a
true peak over its ceiling.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from sidflow_pipeline.atomic import atomic_write_bytes
from sidflow_pipeline.mastering.errors import AudioReadError, MasteringError

__all__ = ["AUDIO_EXTENSIONS", "AUDIO_TAGS", "as_frames", "read_audio", "write_audio"]

# What ``master test --files`` picks up (libsndfile reads all of these here; MP3 needs
# libsndfile ≥ 1.1, which soundfile's wheels bundle).
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")

# 24-bit PCM where the container supports it; lossy containers use their default.
_PCM24_FORMATS = frozenset({"WAV", "WAVEX", "FLAC", "AIFF", "W64", "RF64", "CAF"})


def as_frames(audio: Any) -> np.ndarray:
    """``(frames, channels)`` float64, or :class:`MasteringError` saying what is wrong.

    A ``(2, frames)`` array (librosa's layout) is refused rather than guessed at: a
    two-frame stereo clip has that shape too.
    """
    array = np.asarray(audio)
    if array.dtype.kind not in "fi":
        raise MasteringError(f"audio must be numeric samples, got dtype {array.dtype}")
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2:
        raise MasteringError(f"audio must be (frames,) or (frames, channels), got shape {array.shape}")
    if array.shape[1] not in (1, 2):
        raise MasteringError(f"audio must have 1 or 2 channels in shape (frames, channels), got shape {array.shape}")
    if array.dtype.kind == "i":
        # Integer PCM: scale to ±1.0 full scale as soundfile would.
        array = array.astype(np.float64) / float(np.iinfo(array.dtype).max + 1)
    out = np.ascontiguousarray(array, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        raise MasteringError("audio contains NaN or infinite samples")
    return out


def read_audio(path: Path | str) -> tuple[np.ndarray, int]:
    """Any file libsndfile reads → ``(frames, channels)`` float64 and its sample rate."""
    file = Path(path)
    if not file.is_file():
        raise AudioReadError(f"{file}: no such audio file")
    try:
        data, sr = sf.read(str(file), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise AudioReadError(f"{file}: cannot read audio ({reason})") from None
    if data.shape[1] not in (1, 2):
        raise AudioReadError(f"{file}: {data.shape[1]} channels; only mono and stereo are supported")
    if not np.all(np.isfinite(data)):
        raise AudioReadError(f"{file}: contains NaN or infinite samples")
    return np.ascontiguousarray(data), int(sr)


# Tag names soundfile can write (libsndfile's string fields: Vorbis comments in FLAC/OGG).
AUDIO_TAGS = ("title", "artist", "album", "date", "tracknumber", "comment", "genre")


def write_audio(path: Path | str, audio: Any, sr: int, tags: Mapping[str, str] | None = None) -> Path:
    """Write atomically in the format the extension names (24-bit PCM when lossless).

    ``tags`` (keys of :data:`AUDIO_TAGS`) are written into the file's own metadata, so
    a player shows the song's artist and title instead of a file name.
    """
    file = Path(path)
    frames = as_frames(audio)
    fmt = _format_for(file)
    subtype = "PCM_24" if fmt in _PCM24_FORMATS else None
    buffer = io.BytesIO()
    try:
        with sf.SoundFile(buffer, "w", samplerate=sr, channels=frames.shape[1], format=fmt, subtype=subtype) as out:
            for name, value in (tags or {}).items():
                if name not in AUDIO_TAGS:
                    raise ValueError(f"unknown tag {name!r} (known: {', '.join(AUDIO_TAGS)})")
                if value:
                    setattr(out, name, str(value))  # before the first frame: FLAC writes its comments first
            out.write(frames)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise MasteringError(f"{file}: cannot encode {fmt} audio ({' '.join(str(exc).split())})") from None
    atomic_write_bytes(file, buffer.getvalue())
    return file


def _format_for(file: Path) -> str:
    ext = file.suffix.lower().lstrip(".")
    formats: dict[str, str] = {name.lower(): name for name in sf.available_formats()}
    aliases = {"aif": "aiff", "mp3": "mp3"}
    name = formats.get(aliases.get(ext, ext))
    if name is None:
        raise MasteringError(f"{file}: unknown audio format '.{ext}' (use .wav, .flac, .ogg, …)")
    return name

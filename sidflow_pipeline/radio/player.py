"""Playing one queue item through ``sidplayfp`` (or, mastered, through ``aplay``): start, pause (SIGSTOP), resume
(SIGCONT), stop, and tell "ended" from "failed".

The player runs in its own process group so pausing and stopping reach it whatever
it spawns, and a quit never leaves it behind. Elapsed time excludes pauses. When
sidplayfp cannot open an audio device every song would fail the same way, so that is
reported as :class:`NoAudioDevice` (the radio stops and points at ``--export``),
while a song that fails on its own is skipped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, cast

from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.radio.queue import QueueItem
from sidflow_pipeline.sid.player import stop_with_parent

__all__ = ["NoAudioDevice", "RadioPlayer"]

_DEVICE_HINTS = ("audio device", "alsa", "pcm", "/dev/dsp", "pulse", "oss error", "audio open error")


class NoAudioDevice(SidflowError, RuntimeError):
    """sidplayfp found no usable audio output."""


class RadioPlayer:
    def __init__(self, binary: Path, startup_grace: float = 0.5, wav_player: Path | None = None) -> None:
        self.binary = binary
        self.wav_player = wav_player
        self.startup_grace = startup_grace
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False
        self._started = 0.0
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._failed: tuple[str, str] | None = None
        self._stderr: IO[bytes] | None = None

    def start(self, item: QueueItem, seconds: int | None = None, wav: Path | None = None) -> str | None:
        """Start ``item`` (or its mastered ``wav`` through the WAV player); a message when
        this song cannot be played, else None.

        Raises :class:`NoAudioDevice` when the failure is the audio output's.
        """
        self.stop()
        length = seconds if seconds is not None else item.length_s
        if wav is not None and self.wav_player is not None:
            command = [str(self.wav_player), "-q", str(wav)]
        else:
            command = [str(self.binary), f"-os{item.song_index}", f"-t{max(1, length)}", "-q", item.file]
        # stderr goes to a file, not a pipe: sidplayfp writes a status line many times
        # a second, and a pipe nobody reads fills up (64 KiB) and then blocks it mid-song.
        self._stderr = tempfile.TemporaryFile(prefix="sidflow-player-")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
            preexec_fn=stop_with_parent(),  # even a SIGKILLed CLI leaves no player behind
        )
        self.paused, self._paused_at, self._paused_total, self._failed = False, None, 0.0, None
        self._started = time.monotonic()
        deadline = self._started + self.startup_grace
        while time.monotonic() < deadline and self.process.poll() is None:
            time.sleep(0.02)
        if self.process.poll() not in (None, 0):
            err, last = self._failure()
            self.process = None
            if any(hint in err.lower() for hint in _DEVICE_HINTS):
                raise NoAudioDevice(last)
            return last
        return None

    def _failure(self) -> tuple[str, str]:
        """(the end of stderr, the line to show) for an exited player; the same answer
        however often it is asked."""
        assert self.process is not None
        if self._failed is None:
            err = _tail(self._stderr).decode(errors="replace").strip()
            program = Path(str(cast("list[str]", self.process.args)[0])).name
            self._failed = (err, err.splitlines()[-1] if err else f"{program} exited with status {self.process.returncode}")
        return self._failed

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def elapsed(self) -> float:
        if self.process is None:
            return 0.0
        now = self._paused_at if self._paused_at is not None else time.monotonic()
        return max(0.0, now - self._started - self._paused_total)

    def finished(self) -> str | None:
        """``"played"`` once the song ended by itself (sidplayfp exits 0 after ``-t``),
        a failure message if the player died mid-song, None while it plays."""
        if self.process is None or self.paused or self.process.poll() is None:
            return None
        if self.process.returncode == 0:
            return "played"
        return self._failure()[1]

    def pause(self) -> None:
        if self.process is not None and not self.paused and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGSTOP)
            self.paused, self._paused_at = True, time.monotonic()

    def resume(self) -> None:
        if self.process is not None and self.paused:
            os.killpg(self.process.pid, signal.SIGCONT)
            if self._paused_at is not None:
                self._paused_total += time.monotonic() - self._paused_at
            self.paused, self._paused_at = False, None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=2)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        else:
            process.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self.paused = False


def _tail(handle: IO[bytes] | None, limit: int = 16384) -> bytes:
    """The last ``limit`` bytes written to a player's stderr file (its error is at the end)."""
    if handle is None or handle.closed:
        return b""
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - limit))
    return handle.read()

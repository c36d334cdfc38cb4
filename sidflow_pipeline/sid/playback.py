"""Playing one song out loud in the background: the one player of ``rate`` and ``play``.

``sidplayfp`` (or, for a mastered WAV, ``aplay``) runs as a child the listener controls
while the CLI keeps reading keys: start, pause (SIGSTOP), resume (SIGCONT), stop, and
tell "ended by itself" from "failed". Rendering excerpts to files is another job with
other rules (watchdogs, size caps): :mod:`sidflow_pipeline.sid.sidplayfp`.

The child runs in its own session so pausing and stopping reach whatever it spawns,
and the kernel kills it when the CLI dies (:func:`stop_with_parent`), so a quit, a
signal or a crash never leaves a tune playing. Its stderr goes to a temporary file,
not a pipe: sidplayfp writes a status line many times a second, and a pipe nobody
reads fills up (64 KiB) and then blocks it mid-song. Elapsed time excludes pauses.
When the failure is the audio output's every song would fail the same way, so that is
raised as :class:`NoAudioDevice`; a song that fails on its own is a message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sidflow_pipeline.errors import SidflowError

__all__ = ["BackgroundPlayer", "NoAudioDevice", "stop_with_parent"]

_DEVICE_HINTS = ("audio device", "alsa", "pcm", "/dev/dsp", "pulse", "oss error", "audio open error")


class NoAudioDevice(SidflowError, RuntimeError):
    """sidplayfp (or aplay) found no usable audio output."""


def _load_prctl() -> Any:
    """libc's ``prctl`` looked up once, before any fork (nothing to load in the child)."""
    if not sys.platform.startswith("linux"):  # pragma: no cover - Linux is the target
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def stop_with_parent(parent_pid: int | None = None) -> Callable[[], None]:
    """A ``preexec_fn`` that has the kernel SIGKILL the child when its parent dies.

    The player runs in a session of its own, so that pausing reaches everything it
    spawns; that also means no terminal or group signal reaches it. A signal the CLI
    cannot catch (SIGKILL, a crash, the OOM killer) would leave the tune playing with
    nobody to stop it; the parent-death signal covers those. It fires when the
    *thread* that started the child ends: start players from a thread that lives as
    long as they play (the CLI's main thread). SIGKILL, not SIGTERM: a paused player
    is stopped (SIGSTOP) and would never act on a SIGTERM.
    """
    parent = parent_pid if parent_pid is not None else os.getpid()

    def preexec() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


class BackgroundPlayer:
    """One song at a time through ``binary`` (sidplayfp), or a WAV through ``wav_player``.

    ``startup_grace`` is how long :meth:`start` waits to see whether the player dies at
    once (no audio device, an unreadable tune), so that is reported before the song is
    announced as playing.
    """

    def __init__(self, binary: Path, startup_grace: float = 0.5, wav_player: Path | None = None) -> None:
        self.binary = binary
        self.wav_player = wav_player
        self.startup_grace = startup_grace
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False
        self._program = "sidplayfp"
        self._started = 0.0
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._failed: tuple[str, str] | None = None
        self._stderr: IO[bytes] | None = None

    def start(self, file: Path | str, song_index: int, seconds: int, wav: Path | None = None) -> str | None:
        """Play song ``song_index`` of ``file`` for ``seconds`` (or the mastered ``wav``
        through the WAV player); a message when this song cannot be played, else None.

        Stops whatever was playing. Raises :class:`NoAudioDevice` when the failure is
        the audio output's.
        """
        self.stop()
        if wav is not None and self.wav_player is not None:
            command = [str(self.wav_player), "-q", str(wav)]
            self._program = Path(self.wav_player).name
        else:
            command = [str(self.binary), f"-os{song_index}", f"-t{max(1, seconds)}", "-q", str(file)]
            self._program = "sidplayfp"
        # Open while the song plays (the child writes into it; closed by stop()).
        self._stderr = tempfile.TemporaryFile(prefix="sidflow-player-")  # noqa: SIM115
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
            self.stop()
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
            self._failed = (err, err.splitlines()[-1] if err else f"{self._program} exited with status {self.process.returncode}")
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
        """Stop the player and reap it: SIGTERM, then SIGKILL after 2 s (a player that
        ignores SIGTERM); a paused one is continued first, or it could not act on it."""
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGCONT)
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

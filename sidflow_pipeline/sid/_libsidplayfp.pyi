"""Type stub of the native module built from ``_libsidplayfp.cpp`` (see that file)."""

from typing import Any

import numpy as np

LIBSIDPLAYFP_VERSION: str
TRACE_REGISTERS: int

class Engine:
    def __init__(self, emulation: str, frequency: int, fast: bool, stereo: bool = False) -> None: ...
    def load(self, data: bytes, song: int) -> dict[str, Any]: ...
    def play(
        self, frames: int, step: int
    ) -> tuple[
        np.ndarray[Any, np.dtype[np.int16]],
        np.ndarray[Any, np.dtype[np.uint8]],
        np.ndarray[Any, np.dtype[np.uint32]],
        np.ndarray[Any, np.dtype[np.uint16]],
    ]: ...

"""Shared fixtures: the real HVSC sample (when present) and generated collections."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HVSC_SAMPLE = (PROJECT_ROOT / ".." / "shared" / "hvsc-sample" / "C64Music").resolve()


@pytest.fixture(scope="session")
def hvsc_sample() -> Path:
    """The 60 real HVSC tunes beside the project; tests using it skip without it."""
    if not (HVSC_SAMPLE / "DOCUMENTS").is_dir():
        pytest.skip(f"real HVSC sample not present at {HVSC_SAMPLE}")
    return HVSC_SAMPLE


def sample_sid_files() -> list[Path]:
    """For parametrisation at collection time (empty when the sample is absent)."""
    if not HVSC_SAMPLE.is_dir():
        return []
    return sorted(HVSC_SAMPLE.rglob("*.sid"))

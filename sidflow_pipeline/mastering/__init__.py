"""Mastering with versioned profiles, tuned by your own ratings (issue 9).

The loop: **apply** (fingerprint → detect the recording type → master with that
type's current profile) → listen and **rate** (one JSON line per rating) →
**analyze** (patterns in the comments, with negation, → concrete suggestions) →
**update** (a new minor profile version, validated on generated signals, committed
with git when the profiles live in a repository). ``docs/mastering.md`` walks
through it; the CLI is ``sidflow master``.

No Dagster here: the CLI and the (future) asset call these functions. The
functions named like their modules — ``fingerprint.fingerprint`` and
``detect.detect`` — are not re-exported here, so ``sidflow_pipeline.mastering.detect``
stays the module.
"""

from __future__ import annotations

from sidflow_pipeline.mastering.audio import read_audio, write_audio
from sidflow_pipeline.mastering.detect import DETECTABLE_TYPES, Detection, DetectionHints, detect_audio
from sidflow_pipeline.mastering.dsp import MasteringReport, apply_profile
from sidflow_pipeline.mastering.errors import (
    AudioReadError,
    MasteringError,
    ProfileError,
    RatingsError,
    UpdateRejected,
)
from sidflow_pipeline.mastering.fingerprint import (
    Fingerprint,
    fingerprint_file,
    integrated_loudness_lufs,
    true_peak_dbtp,
)
from sidflow_pipeline.mastering.profiles import (
    Profile,
    ProfileVersion,
    ensure_profiles,
    load_profile,
)

__all__ = [
    "DETECTABLE_TYPES",
    "AudioReadError",
    "Detection",
    "DetectionHints",
    "Fingerprint",
    "MasteringError",
    "MasteringReport",
    "Profile",
    "ProfileError",
    "ProfileVersion",
    "RatingsError",
    "UpdateRejected",
    "apply_profile",
    "detect_audio",
    "ensure_profiles",
    "fingerprint_file",
    "integrated_loudness_lufs",
    "load_profile",
    "read_audio",
    "true_peak_dbtp",
    "write_audio",
]

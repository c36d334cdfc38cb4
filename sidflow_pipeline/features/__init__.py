"""Audio features of rendered excerpts and SID register-trace features (domain code
behind the ``audio_features`` asset).

Importing this package is cheap: librosa and Essentia load on the first extraction.
A feature row holds :data:`ROW_FEATURE_NAMES` (audio, then trace) plus header facts.
"""

from sidflow_pipeline.features.extract import (
    FEATURE_NAMES,
    FEATURE_SET_VERSION,
    extract_features,
    extract_features_from_wav,
)
from sidflow_pipeline.features.trace import TRACE_FEATURE_NAMES, missing_trace_features, trace_features

ROW_FEATURE_NAMES: tuple[str, ...] = (*FEATURE_NAMES, *TRACE_FEATURE_NAMES)

__all__ = [
    "FEATURE_NAMES",
    "FEATURE_SET_VERSION",
    "ROW_FEATURE_NAMES",
    "TRACE_FEATURE_NAMES",
    "extract_features",
    "extract_features_from_wav",
    "missing_trace_features",
    "trace_features",
]

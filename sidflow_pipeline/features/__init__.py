"""Audio features of rendered excerpts (domain code behind the ``audio_features`` asset).

Importing this package is cheap: librosa and Essentia load on the first extraction.
"""

from sidflow_pipeline.features.extract import (
    FEATURE_NAMES,
    FEATURE_SET_VERSION,
    extract_features,
    extract_features_from_wav,
)

__all__ = ["FEATURE_NAMES", "FEATURE_SET_VERSION", "extract_features", "extract_features_from_wav"]

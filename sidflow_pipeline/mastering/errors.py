"""The mastering domain's own error types.

Every one of them is an *expected* failure a user can fix (an unreadable file, a
profile with a typo, an update the validation suite rejected), so each carries one
line that names the file or field and says what is wrong; the CLI prints it and
exits 2. They subclass :class:`ValueError` so callers that do not know this package
still treat them as bad input rather than as bugs.
"""

from __future__ import annotations

from sidflow_pipeline.errors import SidflowError

__all__ = ["AudioReadError", "MasteringError", "ProfileError", "RatingsError", "UpdateRejected"]


class MasteringError(SidflowError, ValueError):
    """Base class: a mastering problem already phrased as one line for the user."""


class AudioReadError(MasteringError):
    """An audio file that is missing, corrupt or in a format libsndfile cannot read."""


class ProfileError(MasteringError):
    """A missing, unparsable or out-of-range profile, or a bad ``versions.json``."""


class RatingsError(MasteringError):
    """A bad rating (out of range) or an unusable ratings log."""


class UpdateRejected(MasteringError):
    """A profile update that failed validation; nothing was written."""

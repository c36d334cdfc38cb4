"""The one place where a domain error becomes a Dagster failure.

Domain code raises :class:`~sidflow_pipeline.errors.SidflowError` subclasses whose
message is one line for the user; an asset that can meet one runs that code inside
:func:`domain_failure`, so the run fails with that line as its description (no
traceback for an expected problem) and the assets need not know the domain's types.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from sidflow_pipeline.errors import SidflowError

__all__ = ["domain_failure"]


@contextmanager
def domain_failure() -> Iterator[None]:
    """Re-raise a :class:`SidflowError` as ``dg.Failure`` with its one-line message."""
    try:
        yield
    except SidflowError as exc:
        raise dg.Failure(description=exc.user_message) from exc

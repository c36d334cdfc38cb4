"""The one base of SIDFlow's expected errors.

An expected error is one the user can act on: a bad config, a corrupt SID, a missing
``sidplayfp``, a full disk. Every domain package raises its own subclass (keeping
its name and, where callers rely on it, a builtin base such as ``ValueError`` or
``OSError``), and its ``str()`` is already the one line the user should read. Because
they share this base, the CLI turns all of them into ``error: …`` and exit status 2
in one place (``cli/common.user_errors``) and the assets into ``dg.Failure`` in one
place (``defs/_errors.py``); neither has to know the domain's types. Anything that is
not a :class:`SidflowError` is a bug and keeps its traceback.

This module imports nothing, so every layer may use it.
"""

from __future__ import annotations

__all__ = ["SidflowError", "fix_command"]


class SidflowError(Exception):
    """An expected failure whose ``str()`` is one line for the user.

    Subclasses that build their message from fields override ``__str__``; the user
    sees :attr:`user_message`, which is that line.
    """

    @property
    def user_message(self) -> str:
        """The one line the CLI prints after ``error:`` and an asset puts in its failure."""
        return str(self)


def fix_command(*assets: str) -> str:
    """The shell command that rematerializes ``assets`` (in dependency order): the
    ``fix:`` hint of an error about a derived artifact, whichever layer raises it."""
    return f"dagster asset materialize -m sidflow_pipeline.definitions --select {','.join(assets)}"

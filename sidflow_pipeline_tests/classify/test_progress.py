"""Progress reporting: a bar on a terminal, periodic log lines elsewhere, nothing when empty."""

from __future__ import annotations

import io

import pytest

from sidflow_pipeline.classify import progress as progress_module
from sidflow_pipeline.classify.progress import SongProgress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_that_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module.sys, "stderr", _Terminal())
    logged: list[str] = []
    with SongProgress(3, "rendering", log=logged.append, every=0.0) as bar:
        assert bar._bar is not None
        bar.advance()
        bar.advance(2)
    assert bar.done == 3 and logged == []  # the bar replaces the log lines


def test_elsewhere_it_logs_at_most_every_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module.sys, "stderr", io.StringIO())
    logged: list[str] = []
    with SongProgress(4, "features", log=logged.append, every=0.0) as bar:
        bar.advance()
        bar.advance(3)
    assert logged == ["features: 1/4 songs", "features: 4/4 songs"]
    with SongProgress(4, "features", log=logged.append, every=3600.0) as quiet:
        quiet.advance(4)
    assert len(logged) == 2


def test_nothing_to_do_shows_no_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module.sys, "stderr", _Terminal())
    with SongProgress(0, "nothing") as bar:
        assert bar._bar is None

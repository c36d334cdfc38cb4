"""One base for the expected errors: every domain error type is a SidflowError, the CLI
turns any of them into one line and exit 2, the assets into a ``dg.Failure``."""

from __future__ import annotations

import ast
import builtins
import importlib
from pathlib import Path

import click
import dagster as dg
import pytest
from click.testing import CliRunner

from sidflow_pipeline.errors import SidflowError

PACKAGE = Path(__file__).resolve().parents[1] / "sidflow_pipeline"
BUILTIN_BASES = {"Exception", "RuntimeError", "ValueError", "OSError", "LookupError", "KeyError", "IOError"}


def _exception_classes() -> list[tuple[str, str, list[str]]]:
    """(module, class, base names) of every public class deriving directly from a builtin exception."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and node.name != "SidflowError":
                bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
                if BUILTIN_BASES & set(bases):
                    found.append((module, node.name, bases))
    return found


def test_every_public_error_type_derives_from_sidflow_error() -> None:
    classes = _exception_classes()
    assert len(classes) >= 25  # the scan sees the domain's error types at all
    missing = [f"{module}.{name}" for module, name, bases in classes if "SidflowError" not in bases]
    assert missing == []
    for module, name, bases in classes:  # the builtin base is kept for callers that catch it
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, SidflowError)
        for base in set(bases) & BUILTIN_BASES:
            assert issubclass(cls, getattr(builtins, base))


def test_subclass_relationships_are_kept() -> None:
    from sidflow_pipeline.atomic import DiskWriteError
    from sidflow_pipeline.hvsc.download import ChecksumMismatch, DownloadError
    from sidflow_pipeline.mastering.errors import MasteringError, ProfileError

    assert issubclass(ChecksumMismatch, DownloadError) and issubclass(ProfileError, MasteringError)
    error = DiskWriteError(28, "x: disk full; the previous file is intact")
    assert isinstance(error, OSError) and error.errno == 28
    assert error.user_message == "x: disk full; the previous file is intact"


def test_the_cli_turns_any_sidflow_error_into_one_line_and_exit_2() -> None:
    from sidflow_pipeline.cli.common import user_errors
    from sidflow_pipeline.ratings.tags import TagsError

    @click.command()
    @user_errors
    def broken() -> None:
        raise TagsError("tags/x.sid.tags.json: not JSON")

    result = CliRunner().invoke(broken, [])
    assert result.exit_code == 2
    assert result.output.strip() == "error: tags/x.sid.tags.json: not JSON"


def test_the_cli_keeps_the_traceback_of_a_bug() -> None:
    from sidflow_pipeline.cli.common import user_errors

    @click.command()
    @user_errors
    def buggy() -> None:
        raise ValueError("a bug, not a user error")

    result = CliRunner().invoke(buggy, [])
    assert result.exit_code == 1 and isinstance(result.exception, ValueError)


def test_an_asset_turns_a_sidflow_error_into_a_failure_with_its_line() -> None:
    from sidflow_pipeline.defs._errors import domain_failure
    from sidflow_pipeline.hvsc.sync import SyncError

    with pytest.raises(dg.Failure) as failure, domain_failure():
        raise SyncError("mirror unreachable; release 83 is still installed")
    assert failure.value.description == "mirror unreachable; release 83 is still installed"
    with pytest.raises(KeyError), domain_failure():  # not expected: not hidden
        raise KeyError("bug")

"""Numbers that must be finite are refused when they are not (`--blend quiet:nan`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline_tests.faults.helpers import assert_one_line_error, collection


@pytest.mark.parametrize("blend", ["quiet:nan", "quiet:inf", "quiet:1,complex:-inf", "quiet:NaN"])
def test_nan_blend_weights_are_refused(tmp_path: Path, blend: str) -> None:
    """Was: accepted, and every similarity became NaN."""
    config = collection(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(config), "recommend", "--blend", blend])
    assert result.exit_code == 2
    assert_one_line_error(result.output, "is not a finite number")


@pytest.mark.parametrize(
    "args",
    [
        ["recommend", "--mood", "quiet", "--exploration", "nan"],
        ["recommend", "--mood", "quiet", "--diversity", "inf"],
        ["train", "--learning-rate", "nan"],
    ],
)
def test_non_finite_options_are_refused(tmp_path: Path, args: list[str]) -> None:
    config = collection(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == 2
    assert "not a finite number" in result.output and "Traceback" not in result.output


def test_non_finite_config_numbers_are_refused(tmp_path: Path) -> None:
    """Python's json reads NaN and Infinity; the config must not accept them."""
    config = tmp_path / "cfg.json"
    config.write_text('{"render": {"excerptSeconds": Infinity}}')
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "validate"])
    assert result.exit_code == 2
    assert_one_line_error(result.output, "render.excerptSeconds", "finite")

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sidflow_pipeline.config import ConfigError, load_config, resolve_config_path


def _write(tmp_path: Path, data: object, name: str = ".sidflow.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIDFLOW_CONFIG", raising=False)
    cfg = load_config()
    assert cfg.hvsc_path == tmp_path / "data" / "hvsc"
    assert cfg.render.engine == "fast" and cfg.render.sample_rate == 22050
    assert cfg.retrain.enabled and cfg.retrain.interval_hours == 24 and cfg.retrain.min_new_feedback == 50
    assert cfg.worker_count >= 1 and cfg.source_file is None


def test_paths_resolve_relative_to_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    path = _write(sub, {"hvscPath": "../music", "hvscSource": "https://example.invalid/hvsc/", "threads": 3})
    cfg = load_config(path)
    assert cfg.hvsc_path == sub / ".." / "music"
    assert cfg.hvsc_source == "https://example.invalid/hvsc/"
    assert cfg.worker_count == 3
    assert cfg.source_file == path
    assert cfg.to_json_dict()["threads"] == 3


def test_precedence_explicit_env_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env_file = _write(tmp_path, {"threads": 5}, "env.json")
    cwd_file = _write(tmp_path, {"threads": 6})
    explicit = _write(tmp_path, {"threads": 7}, "explicit.json")
    monkeypatch.delenv("SIDFLOW_CONFIG", raising=False)
    assert resolve_config_path() == tmp_path / ".sidflow.json" and load_config().threads == 6
    monkeypatch.setenv("SIDFLOW_CONFIG", str(env_file))
    assert load_config().threads == 5
    assert load_config(explicit).threads == 7
    assert cwd_file.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"hvscPth": "x"}, "unknown key 'hvscPth'"),
        ({"threads": "4"}, "field 'threads': Input should be a valid integer"),
        ({"threads": -1}, "field 'threads'"),
        ({"retrain": {"enabled": "yes"}}, "field 'retrain.enabled'"),
        ({"retrain": {"minNewFeedback": 1, "extra": 2}}, "unknown key 'retrain.extra'"),
        ({"render": {"engine": "turbo"}}, "field 'render.engine'"),
        ({"hvscPath": 3}, "field 'hvscPath': expected a path string"),
        ({"sidplayPath": "./no/such/sidplayfp"}, "field 'sidplayPath'"),
        ("[1, 2]", "top level must be a JSON object"),
        ("{bad json", "invalid JSON at line 1"),
    ],
)
def test_bad_config_is_one_line_naming_field_and_file(tmp_path: Path, content: object, message: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert message in text
    assert str(path) in text
    assert "\n" not in text


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.json")


def test_hvsc_root_accepts_parent_or_c64music(tmp_path: Path) -> None:
    (tmp_path / "a" / "C64Music" / "DOCUMENTS").mkdir(parents=True)
    (tmp_path / "b" / "DOCUMENTS").mkdir(parents=True)
    assert load_config(_write(tmp_path, {"hvscPath": "a"}, "a.json")).layout.hvsc_root == tmp_path / "a" / "C64Music"
    assert load_config(_write(tmp_path, {"hvscPath": "b"}, "b.json")).layout.hvsc_root == tmp_path / "b"
    fresh = load_config(_write(tmp_path, {"hvscPath": "c"}, "c.json"))
    assert fresh.layout.hvsc_root == tmp_path / "c" / "C64Music"

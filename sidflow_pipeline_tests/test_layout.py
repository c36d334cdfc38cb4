"""The layout owner agrees with docs/artifacts.md: every artifact listed there is a path it spells."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sidflow_pipeline.config import SidflowConfig
from sidflow_pipeline.layout import DEFAULT_TAGS_PATH, DEFAULT_WAV_CACHE_PATH, Layout

DOC = Path(__file__).resolve().parents[1] / "docs" / "artifacts.md"


def _layout_paths(layout: Layout) -> set[str]:
    paths: set[str] = set()
    for name in dir(Layout):
        value = getattr(layout, name)
        if isinstance(value, Path):
            paths.add(value.as_posix())
    paths.add(layout.features_file("x").parent.as_posix())
    paths.add(layout.classified_file("x").parent.as_posix())
    return paths


def test_every_documented_artifact_has_its_place_in_the_layout(tmp_path: Path) -> None:
    layout = SidflowConfig().layout
    known = _layout_paths(layout) | {str(layout.tags), str(layout.wav_cache)}
    documented = re.findall(r"^\| `(data/[^`]*)`", DOC.read_text(encoding="utf-8"), flags=re.M)
    assert len(documented) >= 20
    for artifact in documented:
        # The artifact itself or the folder that holds it (patterns like <id>, *, YYYY are below it).
        parts = artifact.rstrip("/").split("/")
        prefixes = {"/".join(parts[: n + 1]) for n in range(len(parts))}
        assert prefixes & known, f"{artifact} is not spelled by sidflow_pipeline/layout.py"


def test_layout_follows_the_configured_roots(tmp_path: Path) -> None:
    config = SidflowConfig.model_validate({"dataPath": tmp_path / "d", "hvscPath": tmp_path / "h"})
    layout = config.layout
    assert layout.lance_db == tmp_path / "d" / "sidflow.lance"
    assert layout.path_moves == tmp_path / "h" / "path-moves.jsonl"
    assert layout.hvsc_root == tmp_path / "h" / "C64Music"  # where a sync will put it
    (tmp_path / "h" / "DOCUMENTS").mkdir(parents=True)
    assert layout.hvsc_root == tmp_path / "h"  # hvscPath names C64Music itself
    assert layout.features_file("MUSICIANS_A") == tmp_path / "d" / "features" / "MUSICIANS_A.jsonl"
    assert layout.training_inputs.name == "training-inputs.jsonl"


# --- nothing else spells a data path ------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
SCANNED = [ROOT / "sidflow_pipeline", ROOT / "bench"]
_PATH_CALLS = {"Path", "PurePath", "PurePosixPath", "joinpath", "with_name", "glob", "rglob", "join"}
# (file relative to the repository, literal): why it is not a data path.
ALLOWED: dict[tuple[str, str], str] = {
    ("sidflow_pipeline/defs/hvsc.py", "hvsc/release"): "a Dagster run tag name, not a path",
}


def _protected_names() -> set[str]:
    """Every folder and file name layout.py owns (its constants and the default layout's
    paths, split at ``/``); each fixed component of docs/artifacts.md must be one."""
    import sidflow_pipeline.layout as layout_module

    names = set(_layout_paths(SidflowConfig().layout)) | {str(DEFAULT_TAGS_PATH), str(DEFAULT_WAV_CACHE_PATH)}
    for name, value in vars(layout_module).items():
        if name.isupper() and isinstance(value, str | Path):
            names.add(str(value))
    names = {part for value in names for part in Path(value).as_posix().split("/") if part}
    documented = re.findall(r"^\| `(data/[^`]*)`", DOC.read_text(encoding="utf-8"), flags=re.M)
    for artifact in documented:
        for part in artifact.split("/"):
            if part and not re.search(r"[<>*]|YYYY|MM|DD", part):
                assert part in names, f"{part} (from {artifact} in docs/artifacts.md) is not a name in layout.py"
    return names


def _docstrings(tree: ast.AST) -> set[int]:
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }


def _in_path_context(node: ast.Constant, parents: dict[int, ast.AST]) -> bool:
    parent = parents.get(id(node))
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div):
        return True
    if isinstance(parent, ast.Call) and node in parent.args:
        func = parent.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        return name in _PATH_CALLS
    return False


def _path_literals(path: Path, names: set[str]) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docs:
            continue
        value = node.value
        if not value or any(c.isspace() for c in value):
            continue  # a message or help text that mentions a name, not a path
        parts = value.split("/")
        file_names = {p for p in parts if "." in p.strip(".")}
        if file_names & names or ("/" in value and set(parts) & names) or (value in names and _in_path_context(node, parents)):
            found.append((node.lineno, value))
    return found


def test_no_data_path_is_spelled_outside_layout() -> None:
    """A folder or file name of the data layout joined anywhere but layout.py is a second
    owner of that path: ask ``config.layout`` (or import the name) instead."""
    names = _protected_names()
    offenders = []
    for folder in SCANNED:
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "sidflow_pipeline/layout.py":
                continue
            for line, value in sorted(_path_literals(path, names)):
                if (rel, value) not in ALLOWED:
                    offenders.append(f"{rel}:{line}: {value!r}")
    assert not offenders, "data paths spelled outside sidflow_pipeline/layout.py:\n" + "\n".join(offenders)


def test_the_path_scan_sees_the_ways_a_path_is_spelled(tmp_path: Path) -> None:
    """The scan above is only as good as what it recognises: each of these must be found,
    and messages, dictionary keys and docstrings must not."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Docstring naming feedback/ and sidflow.lance is fine."""\n'
        'a = data / "feedback"\n'
        'b = Path("model")\n'
        'c = "data/catalog/sid_catalog.parquet"\n'
        'd = f"C64Music/{x}"\n'
        'NAME = "versions.json"\n'
        'e = {"features": 1, "model": 2}\n'
        'f = "no sidflow.lance manifest: rebuild"\n',
        encoding="utf-8",
    )
    found = sorted(line for line, _ in _path_literals(sample, _protected_names()))
    assert found == [2, 3, 4, 5, 6]

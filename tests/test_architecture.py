"""The package's layers (docs/architecture.md) hold: ``lint-imports`` with the repository's
``.importlinter`` passes, and fails when a module imports a layer above it or closes a cycle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    cmd = [str(LINT_IMPORTS), "--config", str(root / ".importlinter"), "--no-cache"]
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "d2s", tmp_path / "d2s", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def add_import(root: Path, module: str, statement: str) -> None:
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n{statement}\n")


def test_the_package_keeps_its_layers_and_has_no_cycle():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "statement", "named"),
    [
        # the method layer reaching up into training
        ("d2s.method.losses", "import d2s.train.engine", "d2s.method is not allowed to import"),
        # core reaching the command line
        ("d2s.core.io", "from d2s.cli import main", "d2s.core is not allowed to import"),
        # two training modules importing each other
        ("d2s.train.checks", "import d2s.train.engine", "No cycles are allowed in d2s.train"),
    ],
)
def test_a_back_pointing_import_breaks_the_contract(package_copy, module, statement, named):
    add_import(package_copy, module, statement)
    result = lint_imports(package_copy)
    assert result.returncode != 0
    assert named in result.stdout, result.stdout

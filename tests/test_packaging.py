"""The set-up files agree with each other: Makefile pins, environment.yml, pyproject.toml."""

import re
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _makefile_pins():
    text = (ROOT / "Makefile").read_text()
    # the x86_64 branch (the reference machine): the `else` arm of the arch switch
    block = text.split("else", 1)[1].split("endif", 1)[0]
    return sorted(re.search(r"TORCH_PINS \?= (.+)", block).group(1).split())


def test_environment_yml_matches_makefile_pins_and_installs_the_project():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(p for p in pip if p.startswith("torch")) == _makefile_pins()
    assert "-e .[dev]" in pip
    assert "setuptools<81" in pip


def test_pyproject_bounds_admit_the_pins_and_cap_setuptools():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = meta["project"]["dependencies"]
    assert "setuptools<81" in deps
    for pin in _makefile_pins():
        name, version = pin.split("==")
        bound = next(d for d in deps if re.match(rf"{name}\b", d) and not d.startswith(f"{name}v"))
        lower = bound.split(">=")[1]
        as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
        assert as_tuple(version) >= as_tuple(lower), (pin, bound)
    assert meta["project"]["scripts"] == {"d2s": "d2s.cli:main"}


def test_console_command_is_installed():
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("d2s") == "d2s.cli:main"


def test_packages_import():
    import d2s
    import d2s.baselines

    assert d2s.__version__ and d2s.baselines.__doc__


def test_atomic_write_leaves_no_partial_file_and_normal_permissions(tmp_path):
    import os

    from d2s.core.io import atomic_path, atomic_write_text

    target = tmp_path / "out.csv"
    atomic_write_text("a,b\n", target)
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_text() == "a,b\n"
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    try:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert target.read_text() == "a,b\n"  # the old complete file survives the interruption
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]

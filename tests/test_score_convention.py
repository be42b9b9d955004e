"""Score range, direction and preprocessing are one text (``SCORE_CONVENTION``), stated as is in
the README's scoring section, docs/scoring.md, ``d2s score --help``, every pyiqa metric's
description and every torch.hub entry point."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from d2s.cli import main
from d2s.inference.hub import entry_point
from d2s.inference.outputs import SCORE_CONVENTION
from d2s.inference.pyiqa import metric_config, metric_names

ROOT = Path(__file__).resolve().parents[1]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("> ", " "))


def test_readme_scoring_section_and_docs_state_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Score your own images") :]
    section = section[: section.index("\n## ", 1)]
    assert SCORE_CONVENTION in flat(section)
    assert SCORE_CONVENTION in flat((ROOT / "docs" / "scoring.md").read_text(encoding="utf-8"))


def test_cli_help_states_it(capsys):
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    assert SCORE_CONVENTION in flat(capsys.readouterr().out)


@pytest.mark.parametrize("name", metric_names())
def test_each_metric_and_hub_entry_states_it(name):
    assert metric_config(name)["description"] == SCORE_CONVENTION
    assert SCORE_CONVENTION in entry_point(name).__doc__

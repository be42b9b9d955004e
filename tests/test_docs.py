"""Every ``docs/design.md §N`` reference in the repository points at a section that exists."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_design_reference_resolves_inside_the_repository():
    headings = set(
        re.findall(r"^#{2,3} §([0-9]+(?:\.[0-9]+)?) ", (ROOT / "docs/design.md").read_text(), re.M)
    )
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    refs = {}
    for name in files:
        path = ROOT / name
        if path.suffix not in (".py", ".smk", ".md", ".yaml", "") or path == Path(__file__):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "DESIGN §" not in text and "DESIGN.md" not in text, (
            f"{name}: points outside the repository"
        )
        for section in re.findall(r"design\.md`{0,2} §([0-9]+(?:\.[0-9]+)?)", text):
            refs.setdefault(section, name)
    assert refs, "no references found: the pattern is wrong"
    missing = {s: n for s, n in refs.items() if s not in headings}
    assert not missing, f"references to sections docs/design.md lacks: {missing}"

"""docs/workflow.md lists every key of the workflow config with its default and meaning, as the
schema (workflow/schemas/config.schema.yaml) and the paper config (workflow/config/config.yaml)
have them: the table between its ``config-keys`` markers is rendered from those two files.

After changing a key, its description or a default: ``python tests/test_workflow_docs.py``
rewrites the table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "workflow.md"
START, END = "<!-- config-keys:start -->", "<!-- config-keys:end -->"


def _flow(value) -> str:
    """A value as YAML flow style on one line."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return "null" if value is None else json.dumps(value) if isinstance(value, bool) else str(value)


def _shape(schema: dict, node: dict) -> dict:
    """The shared shape (``$defs``) a key refers to, if any."""
    ref = node.get("$ref", "")
    return schema["$defs"][ref.rsplit("/", 1)[1]] if ref else {}


def _meaning(schema: dict, node: dict) -> str:
    return node.get("description") or _shape(schema, node).get("description", "")


def _rows(schema: dict, node: dict, paper: dict | None, path: str) -> list[tuple[str, str, str]]:
    shape = _shape(schema, node)
    described = _meaning(schema, node)
    props = node.get("properties")
    keys = ", ".join(f"`{k}`" for k in shape.get("properties", {}))
    if keys:
        described = f"{described} (keys: {keys}; see below)".lstrip()
    if isinstance(paper, dict) and props:
        # an open mapping (training: any d2s train key) shows the keys the schema does not list
        extra = {k: v for k, v in paper.items() if k not in props}
        default = f"`{_flow(extra)}`" if node.get("additionalProperties", True) and extra else ""
    elif paper is not None:
        default = f"`{_flow(paper)}`"
    elif "default" in node:
        default = f"`{_flow(node['default'])}` (schema)"
    else:
        default = "unset"
    rows = [(path, default, described)] if path else []
    for key, child in (props or {}).items():
        sub = (paper or {}).get(key) if isinstance(paper, dict) else None
        rows += _rows(schema, child, sub, f"{path}.{key}" if path else key)
    return rows


def render() -> str:
    """The config-keys table of docs/workflow.md, from the schema and the paper config."""
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    paper = yaml.safe_load((ROOT / "workflow/config/config.yaml").read_text())
    lines = ["| key | default | meaning |", "|---|---|---|"]
    for key, default, meaning in _rows(schema, schema, paper, ""):
        lines.append(f"| `{key}` | {default} | {meaning.replace('|', '/')} |")
    lines += ["", "Shared shapes (`$defs` of the schema):", ""]
    lines += ["| shape | key | schema default | meaning |", "|---|---|---|---|"]
    for name, shape in schema["$defs"].items():
        for key, child in (shape.get("properties") or {"": shape}).items():
            default = f"`{_flow(child['default'])}`" if "default" in child else ""
            meaning = _meaning(schema, child).replace("|", "/")
            lines.append(f"| `{name}` | {f'`{key}`' if key else ''} | {default} | {meaning} |")
    return "\n".join(lines)


def _block(text: str) -> str:
    match = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    assert match, f"{DOC} lacks the {START} … {END} markers"
    return match[1]


def test_every_config_key_is_documented_with_its_default():
    assert _block(DOC.read_text()) == render(), (
        "docs/workflow.md's config table is stale: run `python tests/test_workflow_docs.py`"
    )


def test_every_schema_key_has_a_meaning():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    missing = [key for key, _, meaning in _rows(schema, schema, None, "") if not meaning]
    for name, shape in schema["$defs"].items():
        for key, child in (shape.get("properties") or {}).items():
            if not _meaning(schema, child):
                missing.append(f"$defs.{name}.{key}")
    assert not missing, f"schema keys without a description: {missing}"


if __name__ == "__main__":
    text = DOC.read_text()
    head, rest = text.split(START, 1)
    DOC.write_text(f"{head}{START}\n{render()}\n{END}{rest.split(END, 1)[1]}")
    print(f"wrote the config table of {DOC}")

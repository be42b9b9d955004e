"""The index page of the figures: every figure with its caption and the runs that produced it."""

from __future__ import annotations

import json
from pathlib import Path

from d2s.paper.figures import FIGURES, ORDER


def _sources(record: dict) -> list[str]:
    lines = []
    for source in record.get("sources", []):
        if "run" in source:
            bits = [f"`{source['run']}`"]
            extra = [
                f"{k} {source[k]}"
                for k in ("model", "seed", "eal_mode", "select")
                if source.get(k) is not None
            ]
            if extra:
                bits.append("(" + ", ".join(extra) + ")")
            lines.append(f"{source.get('label', '')}: " + " ".join(bits))
        else:
            lines.append(
                f"`{source.get('file', '')}`"
                + (f" — {source['what']}" if source.get("what") else "")
            )
    return lines


def render_gallery(records: list[dict], config_name: str = "", run_label: str = "") -> str:
    """Markdown gallery: one section per figure (paper order) with the image, links to the PDF,
    the plotted data and the record, the paper's caption, and what produced it."""
    by_name = {r["figure"]: r for r in records}
    lines = [f"# D2S figures ({config_name or 'paper'} config)", ""]
    if run_label == "demo":
        lines += [
            "> **DEMO FIGURES** — drawn from the demo runs (procedurally generated data, "
            "random-weight backbones and text encoder, few epochs). They show that every figure "
            "is regenerated from the suite's own results; they are not the paper's numbers.",
            "",
        ]
    lines += [
        f"Config `{config_name}` · run label `{run_label}` · "
        f"{len(by_name)} of {len(ORDER)} figures. Each figure: PNG (300 dpi), PDF, the "
        "exact data plotted (CSV) and a JSON record of its inputs.",
        "",
    ]
    for name in ORDER:
        title, caption, drawn_from = FIGURES[name]
        lines.append(f"## {title}")
        lines.append("")
        record = by_name.get(name)
        if record is None:
            lines += ["*(not rendered)*", ""]
            continue
        files = record.get("files", {})
        png = Path(files.get("png", f"{name}.png")).name
        lines.append(f"![{title}]({png})")
        lines.append("")
        links = [f"[{k.upper()}]({Path(v).name})" for k, v in files.items() if k != "png"]
        lines.append(f"*{caption}*  ")
        lines.append("Files: " + " · ".join(links))
        lines.append("")
        lines.append(f"Drawn from: {drawn_from}.")
        for note in record.get("notes", []):
            lines.append(f"Note: {note}")
        lines.append("")
        for source in _sources(record):
            lines.append(f"- {source}")
        lines.append("")
    return "\n".join(lines)


def read_records(paths: list[str | Path]) -> list[dict]:
    return [json.loads(Path(p).read_text()) for p in paths]

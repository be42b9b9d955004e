"""The paper's tables from the suite's runs: mean ± std over seeds beside the paper's value.

Each table is written twice: a long CSV (one line per row × group × metric, with ``mean``,
``std`` (sample std, ddof 1), ``n`` seeds, the paper's ``paper`` value, ``diff`` = mean − paper,
and the ``config``, ``run_label``, ``eal_mode`` and ``select`` that produced it) and a Markdown
rendering for reading. Rows the suite does not reproduce (literature rows) are carried from
``results/paper`` and marked ``cited``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import d2s.paper.significance as significance
from d2s.core.io import atomic_write_text
from d2s.paper.models import is_baseline, table1_param_models, table8_models
from d2s.paper.runs import Cell, table_cells

METRICS = ("srcc", "plcc", "rmse", "rmae")
#: The options that produced a number, carried from every run's metrics.json into every table row.
PROTOCOL_LABELS = (
    "eal_mode",
    "select",
    "precision",
    "momentum_precision",
    "recipe",
    "caption_control",
)
#: How a caption control's verdict against the real-caption run reads (docs/design.md §1.4).
CONTROL_READINGS = {
    "worse": "the gain needs the real pairing (these captions score lower)",
    "not distinguishable": "the gain survives losing the pairing: not shown to be semantic",
    "better": "the gain survives losing the pairing: not semantic",
    "not computed": "no verdict (no predictions to compare)",
}
CONTROL_NOTE = "caption control: "
TITLES = {
    "table1": "Table 1: IC9600 comparison (mean ± std over seeds)",
    "table2": "Table 2: small-sample training (SST@X, short protocol)",
    "table3": "Table 3: cross-dataset generalisation (trained on IC9600, short protocol)",
    "table4": "Table 4: NR-IQA transfer (6:2:2 splits, 384 px, short protocol)",
    "table5": "Table 5: ablation of AttnPool, EAL and FAL (D2S-R18)",
    "table6": "Table 6: EAL hyper-parameters (D2S-R18)",
    "table7": "Table 7: caption generators, caption only and image ⊕ caption",
    "table8": "Table 8: modalities (text-only, vision-only, fusion)",
    "fig10": "Fig. 10 data: EAL coefficient sweep",
    "fig11": "Fig. 11 data: FAL coefficient sweep",
}


class TableError(ValueError):
    """A run result a table needs is missing or malformed; the message names the file."""


def _read_metrics(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise TableError(f"{path}: run result missing (the run has not finished)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise TableError(f"{path}: not valid JSON ({err})") from None
    missing = [m for m in METRICS if m not in data]
    if missing:
        raise TableError(f"{path}: lacks metric(s) {missing}")
    return data


def collect(cells: list[Cell], results: str) -> pd.DataFrame:
    """One line per run: row, group, seed, the four metrics and the run's protocol labels."""
    lines = []
    for cell in cells:
        path = Path(cell.spec.folder(results)) / "metrics.json"
        data = _read_metrics(path)
        lines.append(
            {
                "row": cell.row,
                "group": cell.group,
                "model": cell.model,
                "seed": data.get("seed"),
                "reference": cell.reference,
                **{m: data[m] for m in METRICS},
                **{key: data.get(key) or "" for key in PROTOCOL_LABELS},
                "run_label": data.get("run_label") or "",
                "source": str(path),
            }
        )
    return pd.DataFrame(lines)


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample std (ddof 1; NaN for one seed) and count per row × group × metric."""
    long = runs.melt(
        id_vars=["row", "group"], value_vars=list(METRICS), var_name="metric", value_name="v"
    )
    keys = ["row", "group", "metric"]
    stats = long.groupby(keys, sort=False)["v"].agg(
        mean="mean", std=lambda v: v.std(ddof=1) if len(v) > 1 else np.nan, n="count"
    )
    labels = runs.groupby(["row", "group"], sort=False)[[*PROTOCOL_LABELS, "run_label"]].agg(
        lambda v: "/".join(sorted({str(x) for x in v if str(x)}))
    )
    return stats.reset_index().merge(labels.reset_index(), on=["row", "group"], how="left")


def read_paper(path: str | Path) -> pd.DataFrame:
    paper = pd.read_csv(path, keep_default_na=False, dtype={"group": str})
    paper["value"] = pd.to_numeric(paper["value"])
    paper["std"] = pd.to_numeric(paper["std"].replace("", np.nan))
    return paper.rename(columns={"value": "paper", "std": "paper_std"})


def with_paper(summary: pd.DataFrame, paper: pd.DataFrame | None) -> pd.DataFrame:
    """Reproduced rows beside the paper's; paper-only rows appended as ``cited``."""
    summary = summary.copy()
    summary["status"] = "reproduced"
    if paper is None:
        summary[["paper", "paper_std", "note"]] = [np.nan, np.nan, ""]
        summary["diff"] = np.nan
        return summary
    keys = ["row", "group", "metric"]
    merged = summary.merge(paper, on=keys, how="outer", indicator=True)
    merged.loc[merged["_merge"] == "right_only", "status"] = "cited"
    merged["diff"] = merged["mean"] - merged["paper"]
    merged["note"] = merged["note"].fillna("")
    return _in_paper_order(merged.drop(columns="_merge"), paper, summary)


def _in_paper_order(frame: pd.DataFrame, *sources: pd.DataFrame) -> pd.DataFrame:
    """Rows and groups in the order the paper prints them (then the suite's own), metrics in
    the order SRCC, PLCC, RMSE, RMAE, Params, Latency."""
    order = {}
    for key in ("row", "group"):
        seen = list(dict.fromkeys(v for source in sources for v in source[key]))
        order[key] = {v: i for i, v in enumerate(seen)}
    metrics = {m: i for i, m in enumerate((*METRICS, "params_m", "latency_ms"))}
    sort_key = pd.DataFrame(
        {
            "row": frame["row"].map(order["row"]),
            "group": frame["group"].map(order["group"]),
            "metric": frame["metric"].map(metrics).fillna(len(metrics)),
        }
    )
    return frame.loc[sort_key.sort_values(["group", "row", "metric"], kind="stable").index]


def finish(table: str, frame: pd.DataFrame, meta: dict[str, str]) -> pd.DataFrame:
    frame = frame.copy()
    frame.insert(0, "table", table)
    for key in ("config", "run_label"):
        frame[key] = meta.get(key, "")
    columns = ["table", "row", "group", "metric", "mean", "std", "n", "paper", "paper_std", "diff"]
    columns += [*significance.COLUMNS, "status", *PROTOCOL_LABELS, "run_label", "config", "note"]
    for column in columns:
        if column not in frame:
            frame[column] = np.nan
    for column in (
        "group",
        "vs",
        "verdict",
        "status",
        *PROTOCOL_LABELS,
        "run_label",
        "config",
        "note",
    ):
        frame[column] = frame[column].astype(object).fillna("").astype(str)
    return frame[columns]


def _fmt(value: float, digits: int = 4) -> str:
    return "" if pd.isna(value) else f"{value:.{digits}f}"


def render_markdown(table: str, frame: pd.DataFrame, meta: dict[str, str]) -> str:
    """A readable wide rendering: one line per row, ``mean ± std (paper)`` per group × metric."""
    title = TITLES.get(table, table)
    label = meta.get("run_label", "")
    lines = [f"# {title}", ""]
    if label == "demo":
        lines += [
            "> **DEMO RESULTS** — procedurally generated demo data, random-weight backbones and "
            "text encoder, few epochs. They show the machinery working end to end and are not "
            "comparable with the paper's numbers (shown in parentheses).",
            "",
        ]
    protocol = " · ".join(
        f"{key}: {', '.join(sorted({p for p in frame[key].astype(str) if p})) or 'n/a'}"
        for key in PROTOCOL_LABELS
    )
    lines += [
        f"Config: `{meta.get('config', '')}` · run label: `{label}` · {protocol} · "
        "cells: reproduced mean ± std over seeds (paper value); `cited` rows are the paper's.",
        "",
    ]
    columns = [(g, m) for g, m in dict.fromkeys(zip(frame["group"], frame["metric"], strict=True))]
    header = ["row"] + [f"{g} {m}".strip() for g, m in columns]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, part in frame.groupby("row", sort=False):
        cells = [str(row)]
        for group, metric in columns:
            hit = part[(part["group"] == group) & (part["metric"] == metric)]
            if hit.empty:
                cells.append("")
                continue
            rec = hit.iloc[0]
            digits = 2 if metric == "params_m" else 3 if metric == "latency_ms" else 4
            text = _fmt(rec["mean"], digits)
            if text and not pd.isna(rec["std"]):
                text += f" ± {_fmt(rec['std'], digits)}"
            paper = _fmt(rec["paper"], digits)
            if paper:
                text = f"{text} ({paper})" if text else f"({paper}) cited"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    lines += significance.render_markdown(frame)
    lines += _control_markdown(frame)
    return "\n".join(lines) + "\n"


def read_controls(frame: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Each caption control's verdict against its real-caption row, read in words in ``note``
    (the groups whose reference row is named: Table 5's caption controls)."""
    if "reference" not in runs or not runs["reference"].any():
        return frame
    groups = set(runs.loc[runs["reference"].astype(bool), "group"])
    frame = frame.copy()
    hit = frame["group"].isin(groups) & frame["verdict"].isin(list(CONTROL_READINGS))
    frame.loc[hit, "note"] = CONTROL_NOTE + frame.loc[hit, "verdict"].map(CONTROL_READINGS)
    return frame


def _control_markdown(frame: pd.DataFrame) -> list[str]:
    """The caption controls' readings (empty when the table has none)."""
    notes = frame["note"].astype(str)
    picked = frame[notes.str.startswith(CONTROL_NOTE) & (frame["metric"] == "srcc")]
    if picked.empty:
        return []
    lines = [
        "",
        "## Is the gain semantic? (caption controls vs the real-caption run of the same seeds)",
        "",
        "A gain that survives shuffled captions (or one caption for all) does not come from "
        "what the captions say about their images.",
        "",
        "| row | group | SRCC verdict | reading |",
        "|---|---|---|---|",
    ]
    for _, rec in picked.iterrows():
        reading = str(rec["note"])[len(CONTROL_NOTE) :]
        lines.append(f"| {rec['row']} | {rec['group']} | {rec['verdict']} | {reading} |")
    return lines


def write_table(table: str, frame: pd.DataFrame, out_csv: str | Path, meta: dict[str, str]) -> None:
    """Write the CSV and, beside it, the Markdown rendering (``.md``)."""
    out_csv = Path(out_csv)
    atomic_write_text(frame.to_csv(index=False), out_csv)
    atomic_write_text(render_markdown(table, frame, meta), out_csv.with_suffix(".md"))


def model_rows(models: list[str], latency_csv: str | Path | None) -> pd.DataFrame:
    """Table 1's Params (counted from the built models) and Latency (benchmark output) rows."""
    from d2s.registry import build, count_parameters

    lines = []
    latency = None
    if latency_csv and Path(latency_csv).is_file():
        latency = pd.read_csv(latency_csv).set_index("model")
    for model in models:
        lines.append(
            {
                "row": model,
                "group": "",
                "metric": "params_m",
                "mean": count_parameters(build(model)) / 1e6,
                "n": 1,
            }
        )
        if latency is not None and model in latency.index:
            lines.append(
                {
                    "row": model,
                    "group": "",
                    "metric": "latency_ms",
                    "mean": float(latency.loc[model, "latency_ms"]),
                    "n": 1,
                }
            )
    return pd.DataFrame(lines)


def build_table(
    table: str,
    cells: list[Cell],
    results: str,
    paper_csv: str | Path | None,
    out_csv: str | Path,
    meta: dict[str, str],
    extra_rows: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Collect the runs of ``cells``, summarise, join the paper's values and write the table."""
    runs = collect(cells, results)
    summary = summarize(runs).merge(
        significance.compare(runs, is_baseline), on=["row", "group", "metric"], how="left"
    )
    if extra_rows is not None and not extra_rows.empty:
        labels = summary[["row", *PROTOCOL_LABELS, "run_label"]].drop_duplicates("row")
        summary = pd.concat([summary, extra_rows.merge(labels, on="row", how="left")])
    paper = read_paper(paper_csv) if paper_csv and Path(paper_csv).is_file() else None
    frame = finish(table, read_controls(with_paper(summary, paper), runs), meta)
    write_table(table, frame, out_csv, meta)
    return frame


def build_table8(
    table1_csv: str | Path,
    table7_csv: str | Path,
    paper_csv: str | Path,
    out_csv: str | Path,
    meta: dict[str, str],
) -> pd.DataFrame:
    """Table 8 from the reproduced Tables 1 and 7: text-only (caption-only runs), vision-only
    (ICNet, ICCORN) and fusion (D2S); literature rows are cited from the paper."""
    t1 = pd.read_csv(table1_csv, keep_default_na=False)
    t7 = pd.read_csv(table7_csv, keep_default_na=False)
    picks = []
    for frame, rows, group, source_group in (
        (t7, ("florence-cap1", "blip"), "text-only", "caption only"),
        (t1, table8_models("vision-only"), "vision-only", ""),
        (t1, table8_models("vision-text fusion"), "vision-text fusion", ""),
    ):
        part = frame[
            (frame["status"] == "reproduced")
            & frame["row"].isin(rows)
            & (frame["group"].astype(str) == source_group)
            & frame["metric"].isin(METRICS)
        ].copy()
        part["group"] = group
        picks.append(part)
    # reindex: a table written before a protocol label existed simply lacks that column
    columns = ["row", "group", "metric", "mean", "std", "n", *PROTOCOL_LABELS]
    summary = pd.concat(picks).reindex(columns=columns)
    summary = summary.replace("", np.nan).astype({"mean": float, "std": float})
    summary[list(PROTOCOL_LABELS)] = summary[list(PROTOCOL_LABELS)].astype(object).fillna("")
    summary["run_label"] = meta.get("run_label", "")
    frame = finish("table8", with_paper(summary, read_paper(paper_csv)), meta)
    write_table("table8", frame, out_csv, meta)
    return frame


def build_for_config(
    table: str,
    config: dict[str, Any],
    inputs: dict[str, Any],
    paper_csv: str | Path,
    out_csv: str | Path,
) -> pd.DataFrame:
    """One table of a workflow config (the workflow's ``table`` rule): Table 8 from the
    reproduced Tables 1 and 7 (``inputs`` ``table1``, ``table7``), every other table from its
    runs, Table 1 with the Params / Latency rows of its models (``inputs`` ``latency``: the
    latency benchmark's CSV, when the config runs it)."""
    meta = {"config": config.get("config_name", ""), "run_label": config.get("run_label", "")}
    if table == "table8":
        return build_table8(inputs["table1"], inputs["table7"], paper_csv, out_csv, meta)
    extra = None
    if table == "table1":
        models = table1_param_models(config["experiments"]["table1"]["models"])
        extra = model_rows(models, inputs.get("latency"))
    cells = table_cells(table, config)
    return build_table(table, cells, config["results"], paper_csv, out_csv, meta, extra_rows=extra)

"""Proof that a rehearsal took the paper path (docs/rehearsal.md).

1. The rules of the paper DAG: Snakemake's dry run of ``results/all figures/all`` under
   ``workflow/config/config.yaml`` alone (the user-supplied sets pointed at the rehearsal's copies,
   the only thing a dry run needs from them).
2. The rules the rehearsal ran: Snakemake's own records of the rehearsal's outputs
   (``snakemake --summary``: the rule that made each file, from ``.snakemake/metadata``).
   Every rule of (1) must appear in (2).
3. What each run loaded (``metrics.json`` ``loaded``): trunk weights from the hub ids (never
   ``random``), the paper's text encoder, captions by BLIP (Florence-2 for Table 7's variants),
   fp32 weights, and the device asked for.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import yaml

from d2s.ops.rehearsal import RehearsalError

PAPER_CONFIG = "workflow/config/config.yaml"
PAPER_TARGETS = ("results/all", "figures/all")


def _snakemake(args: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", *args], capture_output=True, text=True, check=False
    )
    if done.returncode:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RehearsalError(f"snakemake {' '.join(args[:3])} … failed: {' | '.join(tail)}")
    return done.stdout + done.stderr


def job_stats(output: str) -> dict[str, int]:
    """The ``Job stats`` table of a Snakemake dry run: rule -> job count."""
    counts: dict[str, int] = {}
    lines = iter(output.splitlines())
    for line in lines:
        if line.strip() == "Job stats:":
            break
    for line in lines:
        parts = line.split()
        if not parts or parts[0] in ("job", "total") or set(parts[0]) == {"-"}:
            if parts and parts[0] == "total":
                break
            continue
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def paper_rules(overlays: Iterable[str]) -> dict[str, int]:
    """Rules (and job counts) of the paper DAG, with the user sets at the rehearsal's paths."""
    datasets = {}
    for overlay in overlays:
        for name, entry in (
            yaml.safe_load(Path(overlay).read_text()).get("datasets") or {}
        ).items():
            if isinstance(entry, dict) and entry.get("path"):
                datasets[name] = {"path": entry["path"]}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as tmp:
        yaml.safe_dump({"datasets": datasets}, tmp)
    try:
        out = _snakemake(
            ["-n", "--quiet", "rules", "--configfile", PAPER_CONFIG, tmp.name, "--", *PAPER_TARGETS]
        )
    finally:
        Path(tmp.name).unlink()
    rules = job_stats(out)
    if not rules:
        raise RehearsalError(f"no job stats in the paper dry run ({PAPER_CONFIG})")
    return rules


def summary_rules(summary: str) -> dict[str, int]:
    """Rule -> files it made, from ``snakemake --summary`` (files with no record are skipped)."""
    counts: dict[str, int] = {}
    rows = [line.split("\t") for line in summary.splitlines() if "\t" in line]
    if not rows or rows[0][:3] != ["output_file", "date", "rule"]:
        raise RehearsalError("snakemake --summary gave no table")
    for row in rows[1:]:
        if len(row) > 2 and row[2] not in ("-", "") and row[1] != "-":
            counts[row[2]] = counts.get(row[2], 0) + 1
    return counts


def rehearsal_rules(overlays: Iterable[str], targets: Iterable[str]) -> dict[str, int]:
    # one --configfile with every file: repeated, the last flag would replace the others
    args = ["--summary", "--configfile", *overlays]
    return summary_rules(_snakemake([*args, "--", *targets]))


def expected_captioner(variant: str) -> str:
    """Table 7's ``cap-<captioner>`` variants read that captioner's features; all others BLIP's."""
    return variant.removeprefix("cap-") if variant.startswith("cap-") else "blip"


def check_run(path: Path, text_encoder: str, device: str | None) -> dict:
    """One run's ``loaded`` record against the paper path; returns it."""
    from d2s.registry.models import model_spec

    record = json.loads(path.read_text())
    loaded = record.get("loaded")
    if not loaded:
        raise RehearsalError(f"{path}: no 'loaded' record (what the run loaded is unknown)")
    spec = model_spec(record["model"])
    sources = loaded.get("weights", [])
    if "random" in sources or (spec.trainable and spec.reads_images and not sources):
        raise RehearsalError(f"{path}: trunk weights {sources} are not the pretrained hub files")
    if loaded.get("weights_dtype") != "float32":
        raise RehearsalError(f"{path}: weights in {loaded.get('weights_dtype')}, not float32")
    if device and not str(loaded.get("device", "")).startswith(device):
        raise RehearsalError(f"{path}: ran on {loaded.get('device')}, not {device}")
    if "text_encoder" in loaded:
        if loaded["text_encoder"] != text_encoder:
            raise RehearsalError(
                f"{path}: text encoder {loaded['text_encoder']}, not {text_encoder}"
            )
        variant = path.parent.parent.name
        wanted = expected_captioner(variant)
        if "captioner" in loaded and loaded["captioner"] != wanted:
            raise RehearsalError(f"{path}: captions by {loaded['captioner']}, not {wanted}")
    return loaded


def check_runs(results: Path, device: str | None) -> dict[str, int]:
    from d2s.text.clip import CLIP_MODEL, CLIP_PRETRAINED, encoder_id

    text_encoder = encoder_id(CLIP_MODEL, CLIP_PRETRAINED)
    paths = sorted((results / "runs").glob("**/metrics.json"))
    if not paths:
        raise RehearsalError(f"{results / 'runs'}: no runs")
    seen: dict[str, int] = {}
    for path in paths:
        loaded = check_run(path, text_encoder, device)
        for key in ("device", "captioner"):
            if loaded.get(key):
                seen[f"{key}={loaded[key]}"] = seen.get(f"{key}={loaded[key]}", 0) + 1
        for source in loaded.get("weights", []):
            seen[source] = seen.get(source, 0) + 1
    seen["runs"] = len(paths)
    return seen


def check(results: Path, overlays: list[str], device: str | None = None) -> dict[str, object]:
    """Rule coverage and load records of the rehearsal whose overlays are ``overlays``."""
    config = {}
    for overlay in overlays:
        config.update(yaml.safe_load(Path(overlay).read_text()) or {})
    figures = "figures/" + Path(config.get("results", str(results))).name
    paper = paper_rules(overlays)
    ran = rehearsal_rules(overlays, [f"{results}/all", f"{figures}/all"])
    missing = sorted(set(paper) - set(ran))
    if missing:
        raise RehearsalError(
            f"{len(missing)} rule(s) of the paper DAG never ran in the rehearsal: {', '.join(missing)}"
        )
    return {"paper_rules": paper, "rehearsal_rules": ran, "runs": check_runs(results, device)}

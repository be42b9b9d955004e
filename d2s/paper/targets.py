"""What the workflow builds for a config: the names its wildcards take, where each dataset, run and
table lives, what each job reads, and the targets of a config.

The Snakemake rules (workflow/rules/*.smk) only ask this module, :mod:`d2s.paper.runs` (the run
matrix) and :mod:`d2s.paper.figure_inputs` (the figures' inputs), so the workflow and the table
and figure builders can never disagree. ``config`` is the workflow config as validated (the
schema's defaults filled in); every path is relative to the workflow's working directory.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from d2s.data.registry import DATASETS
from d2s.paper.figures import INPUTS as FIGURE_INPUTS
from d2s.paper.runs import (
    DEMO_DATASETS,
    RELEASED_BLIP,
    CrossSpec,
    RunSpec,
    key_value_words,
    run_overrides,
    split_folder,
    table_cells,
    text_features_file,
)
from d2s.paper.tables import TITLES
from d2s.text.prompts import DEFAULT_MODELS

# --- names the wildcards take -------------------------------------------------------------------
#: Datasets ``d2s data fetch`` downloads, and those a user places (``d2s data place``).
PUBLIC_SETS = [name for name, spec in DATASETS.items() if spec.fetch]
USER_SETS = [name for name, spec in DATASETS.items() if not spec.fetch]
REAL_SETS = PUBLIC_SETS + USER_SETS
#: The demo's stand-ins (for IC9600, the cross-dataset targets and KADID-10K).
DEMO_SETS = list(DEMO_DATASETS)
#: The demo's sets that come with scene descriptions (its captions); the cross set has none.
DEMO_CAPTION_SETS = ["demo", "demo-distortion"]
#: The captioning models the suite runs: BLIP, then Florence-2's three caption tasks.
CAPTIONERS = list(DEFAULT_MODELS)
#: Where caption features come from: a captioner, or the authors' own BLIP captions (imported).
CAPTION_SOURCES = [*CAPTIONERS, RELEASED_BLIP]
#: Every table the workflow writes: table1 … table8 and the data of Figs. 10-11.
TABLES = list(TITLES)
#: Figure names by what they are drawn from (:data:`d2s.paper.figures.INPUTS`).
FIGURE_NAMES = {
    kind: [name for name, drawn_from in FIGURE_INPUTS.items() if drawn_from == kind]
    for kind in ("table", "runs", "probe", "alignment", "captions")
}
#: The files of one figure: the image twice, the plotted data and the record of its inputs.
FIGURE_FILES = (".png", ".pdf", ".csv", ".json")


def one_of(names: list[str]) -> str:
    """A wildcard constraint matching exactly one of ``names`` (longest first)."""
    return "|".join(sorted(names, key=len, reverse=True))


# --- where things live --------------------------------------------------------------------------
def figures_folder(config: dict[str, Any]) -> str:
    """``figures`` for the paper config (results in ``results``), else ``figures/<last part of the
    results folder>`` (the demo: results/demo -> figures/demo)."""
    results = config["results"]
    return "figures" if results.rstrip("/") == "results" else f"figures/{Path(results).name}"


def bench_folder(config: dict[str, Any]) -> str:
    return f"{config['results']}/benchmarks"


def verified(name: str, resources: str) -> str:
    """The file ``d2s data fetch/place`` write last, once every image and label is verified."""
    return f"{resources}/datasets/{name}/.d2s-verified.json"


def ready_marker(dataset: str, resources: str) -> str:
    """The file that says a dataset is complete (the demo's record for every demo set)."""
    if dataset in DEMO_DATASETS:
        return f"{resources}/demo/demo.json"
    return verified(dataset, resources)


def split_record(dataset: str, kind: str, resources: str) -> str:
    """The record ``d2s data splits`` writes last beside a kind's split files."""
    return f"{split_folder(dataset, kind, resources)}/splits.json"


def split_file(dataset: str, split: str, resources: str) -> str | None:
    """The split record a split comes from (``None`` for the dataset's official split)."""
    if split == "official":
        return None
    return split_record(dataset, "sst" if split.startswith("sst") else split, resources)


# --- what a job reads ---------------------------------------------------------------------------
def user_copy(name: str, config: dict[str, Any]) -> str | list[str]:
    """The user's copy of a dataset (``datasets.<name>.path``); none once it is placed by hand
    (``d2s data place``). :class:`FileNotFoundError` saying what to do when it is absent."""
    path = (config["datasets"].get(name) or {}).get("path")
    if path and Path(path).exists():
        return path
    if Path(verified(name, config["resources"])).exists():
        return []
    from d2s.data.place import missing_message

    dest = f"{config['resources']}/datasets/{name}"
    why = f"the configured path {path!r} does not exist. " if path else ""
    raise FileNotFoundError(why + missing_message(name, dest))


def count_flag(name: str, config: dict[str, Any]) -> str:
    """``--any-count`` where the config accepts fewer images than official (``subset: true``)."""
    return "--any-count" if (config["datasets"].get(name) or {}).get("subset") else ""


def caption_model(captioner: str, config: dict[str, Any]) -> str:
    """The weights a captioner runs: BLIP's, or Florence-2's for its three caption tasks."""
    captions = config["captions"]
    return captions["blip_model"] if captioner == "blip" else captions["florence_model"]


def clip_weights(dataset: str, config: dict[str, Any]) -> str:
    """The CLIP text encoder's weights: random for the demo's sets (offline), else the config's."""
    return "random" if dataset in DEMO_DATASETS else config["captions"]["clip_weights"]


def run_inputs(spec: RunSpec, config: dict[str, Any]) -> dict[str, str]:
    """The files a training run reads: its dataset, its split file, its caption features."""
    resources = config["resources"]
    inputs = {"ready": ready_marker(spec.dataset, resources)}
    splits = split_file(spec.dataset, spec.split, resources)
    if splits:
        inputs["splits"] = splits
    overrides = run_overrides(spec, config)
    if "text_features" in overrides:
        inputs["text"] = overrides["text_features"]
    return inputs


def run_args(spec: RunSpec, config: dict[str, Any]) -> str:
    """The run's ``d2s train`` overrides as shell-quoted key=value words."""
    return shlex.join(key_value_words(run_overrides(spec, config)))


def cross_source(model: str, variant: str, seed: int, config: dict[str, Any]) -> RunSpec:
    """The run a Table 3 evaluation scores: trained on the config's IC9600 stand-in."""
    return RunSpec(config["experiments"]["ic9600"], "official", model, variant, seed)


def cross_folder(source: RunSpec, target: str, config: dict[str, Any]) -> str:
    return CrossSpec(source, target).folder(config["results"])


def table_inputs(table: str, config: dict[str, Any]) -> dict[str, Any]:
    """What a table is built from: Table 8 from Tables 1 and 7, every other table from the
    metrics.json of its runs; Table 1 also from the latency benchmark when the config runs it."""
    results = config["results"]
    if table == "table8":
        return {"table1": f"{results}/table1.csv", "table7": f"{results}/table7.csv"}
    cells = table_cells(table, config)
    inputs: dict[str, Any] = {
        "runs": sorted({f"{cell.spec.folder(results)}/metrics.json" for cell in cells})
    }
    if table == "table1" and config["latency"]["enabled"]:
        inputs["latency"] = f"{bench_folder(config)}/latency.csv"
    return inputs


def paper_table(table: str) -> str:
    """The paper's own numbers of a table, shown beside the reproduced ones."""
    return f"results/paper/{table}.csv"


# --- what a config builds -----------------------------------------------------------------------
def all_tables(config: dict[str, Any]) -> list[str]:
    """Every table of the config: those under ``experiments``, and Table 8 when it has both of
    the tables it is built from."""
    experiments = config["experiments"]
    wanted = [t for t in TABLES if t in experiments or t == "table8"]
    if "table8" in wanted and not {"table1", "table7"} <= set(wanted):
        wanted.remove("table8")
    return [f"{config['results']}/{t}.csv" for t in wanted]


def all_downloads(config: dict[str, Any]) -> list[str]:
    """The ready markers of every dataset ``d2s data fetch`` downloads."""
    return [verified(name, config["resources"]) for name in PUBLIC_SETS]


def all_user_sets(config: dict[str, Any]) -> list[str]:
    """The ready markers of every dataset you supply (``d2s data place``)."""
    return [verified(name, config["resources"]) for name in USER_SETS]


def all_text_features(config: dict[str, Any]) -> list[str]:
    """Every caption-feature file of the config: the demo's, BLIP's of ``captions.datasets`` and
    Florence-2's of ``captions.florence_datasets``."""
    captions = config["captions"]
    wanted = [("demo", "blip")]
    wanted += [(d, "blip") for d in captions["datasets"]]
    wanted += [(d, c) for d in captions["florence_datasets"] for c in CAPTIONERS[1:]]
    return [text_features_file(d, c, config["resources"]) for d, c in wanted]


def all_figure_names(config: dict[str, Any]) -> list[str]:
    """Every figure the config can draw: a figure that is also a table (the sweeps, Figs. 10-11)
    only where the config runs it."""
    names = []
    for group in FIGURE_NAMES.values():
        names += [n for n in group if n not in TABLES or n in config["experiments"]]
    return names


def all_figure_files(config: dict[str, Any]) -> list[str]:
    folder = figures_folder(config)
    return [f"{folder}/{name}{ext}" for name in all_figure_names(config) for ext in FIGURE_FILES]


def all_figure_records(config: dict[str, Any]) -> list[str]:
    return [f"{figures_folder(config)}/{name}.json" for name in all_figure_names(config)]


def default_targets(config: dict[str, Any]) -> list[str]:
    """What a bare ``snakemake`` builds: every table of the config and the figure gallery."""
    return [*all_tables(config), f"{figures_folder(config)}/all"]

# Helpers for workflow/rules/train.smk and tables.smk (kept apart from rules, as the lint asks).
# The run matrix itself lives in d2s/experiments.py, shared with the table builders.
import shlex

from d2s.experiments import (
    CrossSpec,
    RunSpec,
    dataset_folder,
    loader_name,
    run_overrides,
    table_cells,
)

RESULTS = config["results"]
EXPERIMENTS = config["experiments"]
IC = EXPERIMENTS["ic9600"]
TABLES = ["table1", "table2", "table3", "table4", "table5", "table6", "table7", "fig10", "fig11"]
RUN_DIR = RESULTS + "/runs/{dataset}/{split}/{model}/{variant}/seed{seed}"


def ready_marker(dataset):
    if dataset.startswith("demo"):
        return f"{RES}/demo/demo.json"
    return verified(dataset)


def _spec(w):
    return RunSpec(w.dataset, w.split, w.model, w.variant, int(w.seed))


def train_inputs(w):
    overrides = run_overrides(_spec(w), config)
    inputs = {"ready": ready_marker(w.dataset)}
    if w.split.startswith("sst"):
        inputs["splits"] = f"{RES}/splits/{w.dataset}/sst/splits.json"
    elif w.split == "nriqa":
        inputs["splits"] = f"{RES}/splits/{w.dataset}/nriqa/splits.json"
    if "text_features" in overrides:
        inputs["text"] = overrides["text_features"]
    return inputs


def _yaml_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def train_args(w):
    """The run's `d2s train` overrides as shell-quoted key=value words."""
    overrides = run_overrides(_spec(w), config)
    words = [f"{k}={_yaml_scalar(v)}" for k, v in overrides.items() if v is not None]
    return " ".join(shlex.quote(word) for word in words)


def train_resources(w):
    return 1 if str(config.get("training", {}).get("device", "auto")) != "cpu" else 0


def cross_source(w):
    source = RunSpec(IC, "official", w.model, w.variant, int(w.seed))
    return source.folder(RESULTS) + "/metrics.json"


def cell_results(table):
    """The metrics.json files behind every cell of a table."""
    return sorted(
        {cell.spec.folder(RESULTS) + "/metrics.json" for cell in table_cells(table, config)}
    )


def table_inputs(w):
    if w.table == "table8":
        return {"table1": f"{RESULTS}/table1.csv", "table7": f"{RESULTS}/table7.csv"}
    inputs = {"runs": cell_results(w.table)}
    if w.table == "table1" and config.get("latency", {}).get("enabled", False):
        inputs["latency"] = f"{RESULTS}/benchmarks/latency.csv"
    return inputs


def all_tables():
    wanted = [t for t in TABLES + ["table8"] if t in EXPERIMENTS or t == "table8"]
    if "table8" in wanted and not {"table1", "table7"} <= set(wanted):
        wanted.remove("table8")
    return [f"{RESULTS}/{t}.csv" for t in wanted]

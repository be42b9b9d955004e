# Named helpers of every rule file (snakemake-workflows layout: no logic inside rules). The lists
# of datasets, captioners, tables and figures come from the d2s package, and the run matrix from
# d2s/paper/runs.py, so the workflow and the table builders can never disagree. `config` has been
# validated with the schema's defaults filled in (Snakefile), so keys are read without fallbacks.
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from d2s.text.prompts import DEFAULT_MODELS
from d2s.data.registry import DATASETS as DATASET_SPECS
from d2s.paper.runs import (
    DEMO_DATASETS,
    RELEASED_BLIP,
    CrossSpec,
    RunSpec,
    dataset_folder,
    eal_mode_comparison,
    loader_name,
    run_overrides,
    table_cells,
)
from d2s.paper.figures import INPUTS as FIGURE_INPUTS
from d2s.paper.tables import TITLES as TABLE_TITLES

# Every rule runs the suite's CLI with the Python that runs Snakemake (no PATH assumptions).
D2S = f"{sys.executable} -m d2s"

RES = config["resources"]
RESULTS = config["results"]
DATASETS = config["datasets"]
CAPTIONS = config["captions"]
EXPERIMENTS = config["experiments"]
IC = EXPERIMENTS["ic9600"]

# --- names (derived from the package) -----------------------------------------------------------
PUBLIC = [name for name, spec in DATASET_SPECS.items() if spec.fetch]
USER_SETS = [name for name, spec in DATASET_SPECS.items() if not spec.fetch]
REAL_SETS = PUBLIC + USER_SETS
CAPTIONERS = list(DEFAULT_MODELS)  # the captioning models the suite runs: blip, florence-cap1-3
TABLES = list(TABLE_TITLES)  # table1 … table8, fig10, fig11 (the data of Figs. 10-11)
FIG_NAMES = {
    kind: [name for name, drawn_from in FIGURE_INPUTS.items() if drawn_from == kind]
    for kind in ("table", "runs", "probe", "alignment", "captions")
}
FIG_EXTS = (".png", ".pdf", ".csv", ".json")
# Figures of the paper config go to figures/, those of another config to figures/<last part of
# its results folder> (the demo: results/demo -> figures/demo).
FIG = "figures" if RESULTS.rstrip("/") == "results" else "figures/" + Path(RESULTS).name
RUN_DIR = RESULTS + "/runs/{dataset}/{split}/{model}/{variant}/seed{seed}"
BENCH = f"{RESULTS}/benchmarks"


def one_of(names):
    """A wildcard constraint matching exactly one of `names`."""
    return "|".join(sorted(names, key=len, reverse=True))


# --- compute requests (README "Running on SLURM") --------------------------------------------
# Threads, memory and runtime of each rule come from the config's `compute:` block (the paper
# config asks what the paper's runs need, the demo small); the SLURM profile adds only the
# cluster's facts (account, partitions) through `slurm_*` config keys.
COMPUTE = config["compute"]
SLURM = "slurm_account" in config  # set (possibly empty) only by workflow/profiles/slurm


def check_slurm_settings():
    """Stop at once, before anything is submitted, when the SLURM profile's account is unset."""
    if not SLURM:
        return
    account = str(config.get("slurm_account") or "").strip()
    if not account or account.startswith("<"):
        raise WorkflowError(
            "slurm_account is not set: write your SLURM account into the `config:` list of "
            "workflow/profiles/slurm/config.yaml (the line `slurm_account=`), e.g. "
            "`slurm_account=my-lab`; `sacctmgr show assoc user=$USER format=account` lists yours."
        )
    for key in ("slurm_cpu_partition", "slurm_gpu_partition"):
        if not str(config.get(key) or "").strip():
            raise WorkflowError(
                f"{key} is not set: name the partition in the `config:` list of "
                "workflow/profiles/slurm/config.yaml (`sinfo -s` lists the cluster's partitions)."
            )


def check_training_settings():
    """Stop at once, while the DAG is built, on a `training:` or `models:` key that d2s train
    does not know or a value of the wrong type (the keys: d2s/train/config.py)."""
    from d2s.train.checks import ConfigError
    from d2s.train.config import check_keys

    try:
        check_keys(config.get("training") or {}, "config training")
        for name, keys in (config.get("models") or {}).items():
            check_keys(keys or {}, f"config models.{name}")
    except ConfigError as err:
        raise WorkflowError(str(err)) from None


check_training_settings()


def threads_of(key):
    """Threads of a rule (`compute.<key>.threads`, else `compute.default.threads`)."""
    return (COMPUTE.get(key) or {}).get("threads", COMPUTE["default"]["threads"])


def uses_gpu(key):
    """Whether a rule's jobs compute on a GPU, from the config (`device: cpu` asks for none)."""
    devices = {
        "train": config.get("training", {}).get("device", "auto"),
        "evaluate_cross": config.get("training", {}).get("device", "auto"),
        "captions": CAPTIONS["device"],
        "benchmark_suite": "auto",  # CUDA timings when a GPU is present, the CPU otherwise
    }
    return key in devices and str(devices[key]) != "cpu"


def request(key):
    """Resources of a rule: memory and runtime from `compute:`; `gpu: 1` only where the rule
    computes on a GPU; under the SLURM profile, the account and the partition (GPU partition
    only for GPU jobs)."""
    own = COMPUTE.get(key) or {}
    out = {
        "mem_mb": own.get("mem_mb", COMPUTE["default"]["mem_mb"]),
        "runtime": own.get("runtime", COMPUTE["default"]["runtime"]),
        "gpu": 1 if uses_gpu(key) else 0,
    }
    if SLURM:
        out["slurm_account"] = config["slurm_account"]
        part = "slurm_gpu_partition" if out["gpu"] else "slurm_cpu_partition"
        out["slurm_partition"] = config[part]
    return out


# --- datasets ---------------------------------------------------------------------------------
def verified(name):
    return f"{RES}/datasets/{name}/.d2s-verified.json"


def ready_marker(dataset):
    """The file that says a dataset is complete (the demo's record for every demo set)."""
    if dataset in DEMO_DATASETS:
        return f"{RES}/demo/demo.json"
    return verified(dataset)


def dataset_ready(wildcards):
    return ready_marker(wildcards.dataset)


def dataset_root(wildcards):
    return dataset_folder(wildcards.dataset, RES)


def dataset_loader(wildcards):
    return loader_name(wildcards.dataset)


def fetch_source(wildcards):
    return DATASETS[wildcards.public]["source"]


def user_source(wildcards):
    """The user's copy of a dataset. Absent: stop here (dry runs too) saying what to do."""
    path = (DATASETS.get(wildcards.user_set) or {}).get("path")
    if path and Path(path).exists():
        return path
    if Path(verified(wildcards.user_set)).exists():
        return []  # placed by hand with `d2s data place`
    from d2s.data.place import missing_message

    dest = f"{RES}/datasets/{wildcards.user_set}"
    why = f"the configured path {path!r} does not exist. " if path else ""
    raise WorkflowError(why + missing_message(wildcards.user_set, dest))


def count_flag(name):
    """`--any-count` where the config accepts fewer images than official (`subset: true`)."""
    return "--any-count" if (DATASETS.get(name) or {}).get("subset") else ""


def place_flags(wildcards):
    return count_flag(wildcards.user_set)


def fetch_flags(wildcards):
    return count_flag(wildcards.public)


def sst_sizes(wildcards=None):
    return " ".join(str(size) for size in config["splits"]["sst_sizes"])


# --- captions ---------------------------------------------------------------------------------
def demo_descriptions(wildcards):
    return f"{dataset_folder(wildcards.demo_set, RES)}/captions.tsv"


def demo_loader(wildcards):
    return loader_name(wildcards.demo_set)


def demo_root(wildcards):
    return dataset_folder(wildcards.demo_set, RES)


def real_ready(wildcards):
    return verified(wildcards.real_set)


def real_root(wildcards):
    return dataset_folder(wildcards.real_set, RES)


def released_caption_file(wildcards):
    return CAPTIONS["released_blip"][wildcards.real_set]


def caption_model(wildcards):
    if wildcards.captioner == "blip":
        return CAPTIONS["blip_model"]
    return CAPTIONS["florence_model"]


def clip_weights(wildcards):
    if wildcards.dataset in DEMO_DATASETS:
        return "random"
    return CAPTIONS["clip_weights"]


def all_text_features():
    wanted = [("demo", "blip")]
    wanted += [(d, "blip") for d in CAPTIONS["datasets"]]
    wanted += [(d, c) for d in CAPTIONS["florence_datasets"] for c in CAPTIONERS[1:]]
    return [f"{RES}/text_features/{d}/{c}.pt" for d, c in wanted]


# --- training and cross-dataset evaluation ----------------------------------------------------
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


def run_folder(w):
    return _spec(w).folder(RESULTS)


def cross_source_spec(w):
    return RunSpec(IC, "official", w.model, w.variant, int(w.seed))


def cross_source(w):
    return cross_source_spec(w).folder(RESULTS) + "/metrics.json"


def cross_checkpoint(w):
    return cross_source_spec(w).folder(RESULTS) + "/best.pt"


def cross_ready(w):
    return ready_marker(w.target)


def cross_loader(w):
    return loader_name(w.target)


def cross_root(w):
    return dataset_folder(w.target, RES)


def cross_folder(w):
    return CrossSpec(cross_source_spec(w), w.target).folder(RESULTS)


def eval_device(w=None):
    return config.get("training", {}).get("device", "auto")


# --- tables -----------------------------------------------------------------------------------
def cell_results(table):
    """The metrics.json files behind every cell of a table."""
    return sorted(
        {cell.spec.folder(RESULTS) + "/metrics.json" for cell in table_cells(table, config)}
    )


def table_inputs(w):
    if w.table == "table8":
        return {"table1": f"{RESULTS}/table1.csv", "table7": f"{RESULTS}/table7.csv"}
    inputs = {"runs": cell_results(w.table)}
    if w.table == "table1" and config["latency"]["enabled"]:
        inputs["latency"] = f"{BENCH}/latency.csv"
    return inputs


def paper_table(w):
    return f"results/paper/{w.table}.csv"


def all_tables():
    wanted = [t for t in TABLES if t in EXPERIMENTS or t == "table8"]
    if "table8" in wanted and not {"table1", "table7"} <= set(wanted):
        wanted.remove("table8")
    return [f"{RESULTS}/{t}.csv" for t in wanted]


# --- figures ----------------------------------------------------------------------------------
def _specs(table, row):
    return [cell.spec for cell in table_cells(table, config) if cell.row == row]


def figure_methods(fig):
    """(label, RunSpec) pairs behind a figure: D2S-R18 / D2S-R50 = Table 1 runs, vision-only =
    Table 5 case (b) (d2s-r18, no-align); all their seeds."""
    methods = [("D2S-R18", s) for s in _specs("table1", "d2s-r18")]
    if fig == "fig9":
        methods += [("D2S-R50", s) for s in _specs("table1", "d2s-r50")]
    if fig in ("fig8", "fig9", "fig15"):
        methods += [("Vision-only", s) for s in _specs("table5", "(b)")]
    return methods


def probe_run():
    """The D2S-R18 run the single-run figures (4d/e, 6, 7, 12-14, 16) use: its first seed."""
    return _specs("table1", "d2s-r18")[0]


def figure_table_input(w):
    return f"{RESULTS}/{'table1' if w.table_fig in ('fig2', 'fig3') else w.table_fig}.csv"


def _figure_runs(fig):
    if fig in FIG_NAMES["runs"]:
        return figure_methods(fig)
    return [("D2S-R18", probe_run())]


def figure_run_inputs(w):
    runs = _figure_runs(w.run_fig)
    files = [spec.folder(RESULTS) + "/metrics.json" for _, spec in runs]
    files += [spec.folder(RESULTS) + "/predictions.csv" for _, spec in runs]
    return sorted(set(files)) + [ready_marker(IC)]


def figure_run_args(w):
    return " ".join(
        f"--run {shlex.quote(f'{label}={spec.folder(RESULTS)}')}"
        for label, spec in _figure_runs(w.run_fig)
    )


def feature_run(features):
    """The run behind a figure-features file: ``alignment`` is the probe run, ``alignment-compared``
    the probe run trained under ``experiments.fig14.compare_eal_mode``."""
    if features == "alignment":
        return probe_run()
    return eal_mode_comparison(probe_run(), config)


def figure_feature_inputs(w):
    spec = feature_run(w.features)
    inputs = [spec.folder(RESULTS) + "/metrics.json", ready_marker(IC)]
    text = run_overrides(spec, config).get("text_features")
    return inputs + ([text] if text else [])


def probe_run_arg(w):
    return shlex.quote("D2S=" + feature_run(w.features).folder(RESULTS))


def compared_features(w):
    """Figs. 4(d)/14 draw the compared run's features as a second panel, when one is asked for."""
    wanted = w.alignment_fig in ("fig4d", "fig14") and eal_mode_comparison(probe_run(), config)
    return [FIG + "/data/alignment-compared.npz"] if wanted else []


def compared_features_arg(w):
    return " ".join(f"--compare-features {shlex.quote(path)}" for path in compared_features(w))


def figure_meta(w=None):
    return (
        f"--config-name {shlex.quote(str(config['config_name']))}"
        f" --run-label {shlex.quote(str(config['run_label']))}"
    )


def all_figure_names():
    """Every figure this config can draw (the sweeps only where the config has them)."""
    names = []
    for group in FIG_NAMES.values():
        names += [n for n in group if n not in ("fig10", "fig11") or n in EXPERIMENTS]
    return names


def all_figure_records():
    return [f"{FIG}/{name}.json" for name in all_figure_names()]


def all_figure_files():
    return [f"{FIG}/{name}{ext}" for name in all_figure_names() for ext in FIG_EXTS]


def report_pngs(w, input):
    return " ".join(shlex.quote(f) for f in input.files if f.endswith(".png"))


# --- what a bare `snakemake` builds -----------------------------------------------------------
def default_targets():
    """Every table of the config and the figure gallery (figures/all, figures/demo/all)."""
    return [*all_tables(), f"{FIG}/all"]

# Input functions of the rule files, in the snakemake-workflows layout (no logic inside the
# rules). What a job reads, where it writes and which names the wildcards take are asked of the
# d2s package: the run matrix (d2s/paper/runs.py), the targets and job inputs
# (d2s/paper/targets.py), the figures' inputs (d2s/paper/figure_inputs.py) and the compute
# requests (d2s/ops/workflow.py), so the workflow and the table and figure builders can never
# disagree. `config` has been validated with the schema's defaults filled in (Snakefile), so keys
# are read without fallbacks.
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod

import d2s.paper.figure_inputs as F
import d2s.paper.targets as T
from d2s.ops.plan import image_cache_runs, image_cache_words
from d2s.ops.workflow import Compute, preflight_blockers, slurm_problems, training_problems
from d2s.paper.runs import CrossSpec, RunSpec, dataset_folder, loader_name, text_features_file

# Every job runs the suite's CLI with the Python that runs Snakemake, or its conda env's.
CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
D2S = "python -m d2s" if CONDA else f"{sys.executable} -m d2s"
RES, RESULTS, CAPTIONS = config["resources"], config["results"], config["captions"]
IC = config["experiments"]["ic9600"]
FIG, BENCH = T.figures_folder(config), T.bench_folder(config)
RUN_DIR = RunSpec("{dataset}", "{split}", "{model}", "{variant}", "{seed}").folder(RESULTS)
CROSS_DIR = CrossSpec(RunSpec("", "", "{model}", "{variant}", "{seed}"), "{target}").folder(RESULTS)
CACHE_RECORD = f"{RES}/cache/images/records/{{dataset}}/{{split}}/{{size}}px.json"
SST_SIZES = " ".join(str(size) for size in config["splits"]["sst_sizes"])
TRAIN_DEVICE = config.get("training", {}).get("device", "auto")
FIGURE_META = F.figure_meta(config)

# Threads, memory, runtime and GPU of each job (config `compute:`; d2s/ops/workflow.py).
COMPUTE = Compute.of(config, D2S)
if problems := training_problems(config) + slurm_problems(config):
    raise WorkflowError(problems[0])
if not COMPUTE.slurm and "gpu" not in workflow.global_resources:
    workflow.register_resource("gpu", COMPUTE.gpu_slots)  # one GPU job per slot at once


def preflight():
    """`d2s doctor`'s checks before the first job (not in dry runs); a blocker stops it all."""
    if blockers := preflight_blockers(config, local=not COMPUTE.slurm):
        raise WorkflowError(blockers)


def ask(function, *names):
    """The input function `function(<wildcard values of names>, config)`."""
    return lambda w: function(*(w[name] for name in names), config)


def folder_of(name, io="input"):
    """The folder of a named input (or output) file, as the job sees it."""
    if io == "output":
        return lambda w, output: str(Path(output[name]).parent)
    return lambda w, input: str(Path(input[name]).parent)


def run_of(w):
    return RunSpec(w.dataset, w.split, w.model, w.variant, int(w.seed))


def cross_run(w):
    return T.cross_source(w.model, w.variant, int(w.seed), config)


# --- datasets ------------------------------------------------------------------------------------
def ready(key):
    """The ready marker of the dataset that wildcard `key` names."""
    return lambda w: T.ready_marker(w[key], RES)


def root(key):
    return lambda w: dataset_folder(w[key], RES)


def loader(key):
    return lambda w: loader_name(w[key])


def fetch_source(w):
    return config["datasets"][w.public]["source"]


def user_source(w):
    """The user's copy of a dataset. Absent: stop here (dry runs too) saying what to do."""
    try:
        return T.user_copy(w.user_set, config)
    except FileNotFoundError as err:
        raise WorkflowError(str(err)) from None


count_flag = lambda key: ask(T.count_flag, key)
demo_descriptions = lambda w: f"{dataset_folder(w.demo_set, RES)}/captions.tsv"
released_caption_file = lambda w: CAPTIONS["released_blip"][w.real_set]
caption_model = ask(T.caption_model, "captioner")
clip_weights = ask(T.clip_weights, "dataset")
# --- training runs, cross-dataset evaluations and image caches -----------------------------------
train_inputs = lambda w: T.run_inputs(run_of(w), config)
train_args = lambda w: T.run_args(run_of(w), config)
run_folder = lambda w: run_of(w).folder(RESULTS)
cross_source = lambda w: f"{cross_run(w).folder(RESULTS)}/metrics.json"
cross_checkpoint = lambda w: f"{cross_run(w).folder(RESULTS)}/best.pt"
cross_folder = lambda w: T.cross_folder(cross_run(w), w.target, config)
cache_splits = lambda w: [f for f in [T.split_file(w.dataset, w.split, RES)] if f]
cache_run_keys = lambda w: shlex.join(image_cache_words(config, w.dataset, w.split, w.size))
# --- tables and figures --------------------------------------------------------------------------
table_inputs = ask(T.table_inputs, "table")
paper_table = lambda w: T.paper_table(w.table)
figure_table_input = ask(F.figure_table, "table_fig")
figure_run_inputs = ask(F.figure_run_files, "run_fig")
figure_run_args = ask(F.figure_run_args, "run_fig")
figure_feature_inputs = ask(F.feature_files, "features")
probe_run_arg = ask(F.feature_run_arg, "features")
compared_features = ask(F.compared_features, "alignment_fig")
compared_features_arg = ask(F.compared_features_arg, "alignment_fig")
report_pngs = lambda w, input: shlex.join(f for f in input.files if f.endswith(".png"))


# --- what a target builds ---------------------------------------------------------------------
def all_image_caches():
    runs = sorted(image_cache_runs(config))
    return [CACHE_RECORD.format(dataset=d, split=s, size=n) for d, s, n in runs]

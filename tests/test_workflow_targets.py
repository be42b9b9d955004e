"""What the workflow asks of the package, without Snakemake: the targets and job inputs of a config
(d2s.paper.targets), the figures' inputs (d2s.paper.figure_inputs), the paper's rows of the model
table (d2s.paper.models) and the compute requests (d2s.ops.workflow)."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from snakemake.utils import validate

import d2s.paper.figure_inputs as F
import d2s.paper.targets as T
from d2s.inference.pyiqa import metric_names
from d2s.ops.latency import LATENCY_SPECS
from d2s.ops.workflow import EVERY_CORE, Compute, slurm_problems, training_problems
from d2s.paper.models import (
    LATENCY_RATIOS,
    TABLE1_ROWS,
    TABLE8_GROUPS,
    is_baseline,
    table1_param_models,
    table8_models,
)
from d2s.paper.runs import RunSpec
from d2s.registry.models import model_names, model_spec

ROOT = Path(__file__).resolve().parents[1]


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = _merge(base[key], value) if both else value
    return out


def _config(*names: str) -> dict:
    """A workflow config as the Snakefile sees it: config.yaml, the others merged over it, the
    schema's defaults filled in."""
    config: dict = {}
    for name in ("workflow/config/config.yaml", *names):
        config = _merge(config, yaml.safe_load((ROOT / name).read_text()))
    validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"), set_default=True)
    return config


def test_tables_and_figures_of_each_config():
    paper = _config()
    assert T.all_tables(paper) == [f"results/{t}.csv" for t in T.TABLES]
    assert T.figures_folder(paper) == "figures"
    ci = _config("workflow/config/demo.yaml", "workflow/config/ci.yaml")
    assert T.figures_folder(ci) == "figures/ci"
    assert T.all_tables(ci)[0] == "results/ci/table1.csv"
    no_sweeps = copy.deepcopy(paper)
    del no_sweeps["experiments"]["fig10"], no_sweeps["experiments"]["table7"]
    assert "fig10" not in T.all_figure_names(no_sweeps)
    assert "results/table8.csv" not in T.all_tables(no_sweeps)  # built from Tables 1 and 7
    assert T.default_targets(paper)[-1] == "figures/all"


def test_run_inputs_name_the_split_and_caption_files():
    paper = _config()
    sst = T.run_inputs(RunSpec("ic9600", "sst50", "d2s-r18", "short", 42), paper)
    assert sst == {
        "ready": "resources/datasets/ic9600/.d2s-verified.json",
        "splits": "resources/splits/ic9600/sst/splits.json",
        "text": "resources/text_features/ic9600/blip.pt",
    }
    icnet = RunSpec("ic9600", "official", "icnet", "default", 42)
    assert T.run_inputs(icnet, paper) == {"ready": "resources/datasets/ic9600/.d2s-verified.json"}
    assert T.ready_marker("demo-cross", "res") == "res/demo/demo.json"
    words = T.run_args(icnet, paper).split()
    assert "model=icnet" in words and "pretrained=true" not in words  # only the run's own keys


def test_figure_methods_come_from_the_tables_rows():
    paper = _config()
    runs = F.figure_runs("fig9", paper)
    assert [label for label, _ in runs] == ["D2S-R18"] * 3 + ["D2S-R50"] * 3 + ["Vision-only"] * 3
    assert runs[-1][1].variant == "no-align" and runs[-1][1].model == "d2s-r18"
    probe = F.probe_run(paper)
    assert (probe.model, probe.variant, probe.seed) == ("d2s-r18", "default", 42)
    assert F.figure_runs("fig6", paper) == [("D2S-R18", probe)]
    assert F.figure_table("fig3", paper) == "results/table1.csv"
    assert F.figure_table("fig10", paper) == "results/fig10.csv"
    assert F.compared_features("fig14", paper) == []
    demo = _config("workflow/config/demo.yaml")
    assert F.compared_features("fig14", demo) == ["figures/demo/data/alignment-compared.npz"]
    assert F.compared_features("fig4e", demo) == []


def test_the_paper_shows_registered_models_and_derives_its_untrained_rows():
    assert set(TABLE1_ROWS) | set(TABLE8_GROUPS) <= set(model_names())
    assert all(s.build is None or s.build in model_names() for s in LATENCY_SPECS.values())
    assert {m for pair in LATENCY_RATIOS.values() for m in pair} <= set(LATENCY_SPECS)
    # Table 1's Params / Latency rows: the configured models, then those not trained here
    assert table1_param_models(["icnet"]) == ["icnet", "hyperiqa", "topiq"]
    assert table8_models("vision-only") == ("icnet", "iccorn", "hyperiqa")
    assert is_baseline("hyperiqa") and not is_baseline("d2s-r18") and not is_baseline("topiq")
    # the scorers offered through torch.hub and pyiqa are the registry's, not a table's
    assert metric_names() == ["d2s-r18", "d2s-r50", "icnet", "iccorn"]
    assert not model_spec("d2s-r18-gap").scorer and not model_spec("caption-only").reads_images


def test_compute_requests_follow_the_config_and_the_cluster():
    demo = _config("workflow/config/demo.yaml")
    local = Compute(demo, gpus=2, d2s="d2s")
    assert local.request("train") == {"mem_mb": 2000, "runtime": 30, "gpu": 0}  # device: cpu
    assert local.gpu_slot("train") == "" and local.gpu_slot("benchmark_suite").startswith("d2s")
    assert local.threads("figure") == 1 and local.threads("data") == 1  # not listed: default
    assert local.exclusive_threads("benchmark_suite") == EVERY_CORE  # capped at --cores
    assert local.exclusive_request("benchmark_suite")["gpu"] == 2
    cluster = {
        **demo,
        "slurm_account": "lab",
        "slurm_cpu_partition": "c",
        "slurm_gpu_partition": "",
    }
    assert slurm_problems(cluster) == [
        "slurm_gpu_partition is not set: name the partition in the `config:` list of "
        "workflow/profiles/slurm/config.yaml (`sinfo -s` lists the cluster's partitions)."
    ]
    slurm = Compute(cluster, gpus=0, d2s="d2s")
    assert slurm.request("train")["slurm_partition"] == "c" and slurm.gpu_slot("captions") == ""
    assert slurm.exclusive_request("benchmark_suite")["slurm_extra"] == "--exclusive"
    assert training_problems({**demo, "models": {"icnet": {"epochz": 1}}})

# Helpers for workflow/rules/data.smk (kept apart from rules, as snakemake --lint asks).
from pathlib import Path

from snakemake.exceptions import WorkflowError

from d2s.experiments import DEMO_DATASETS, dataset_folder, loader_name

RES = config["resources"]
DATASETS = config["datasets"]
PUBLIC = ["savoias", "kadid10k", "koniq10k", "tid2013"]
USER_SETS = ["ic9600", "nagle4k", "visc-c", "visc-ci"]
DEFAULT_SOURCE = {"savoias": "github", "kadid10k": "hf", "koniq10k": "hf", "tid2013": "hf"}


def verified(name):
    return f"{RES}/datasets/{name}/.d2s-verified.json"


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


def dataset_root(wildcards):
    return dataset_folder(wildcards.dataset, RES)


def dataset_ready(wildcards):
    if wildcards.dataset.startswith("demo"):
        return f"{RES}/demo/demo.json"
    return verified(wildcards.dataset)

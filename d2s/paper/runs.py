"""The paper's run matrix: which training runs feed which table, and how each is configured.

One module serves the Snakemake rules (what to run, with which ``d2s train`` overrides) and the
table builders (where each row's results are), so the two can never disagree. A run lives at::

    {results}/runs/{dataset}/{split}/{model}/{variant}/seed{seed}/    (metrics.json last)

- ``dataset``: a workflow dataset name (``ic9600`` … or the demo's ``demo``, ``demo-cross``,
  ``demo-distortion``, which stand in for IC9600, the cross-dataset targets and KADID-10K);
- ``split``: ``official`` | ``sst10`` … | ``nriqa``;
- ``variant``: ``default`` or ``_``-joined tokens, see :func:`variant_overrides`.

Cross-dataset evaluations (Table 3) live at ``{results}/cross/{target}/{model}/{variant}/seed{seed}/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from d2s.data.cache import cache_setting
from d2s.data.registry import DATASETS

#: Workflow dataset name → (loader name, folder under resources, captions available).
DEMO_DATASETS = {
    "demo": ("ic9600", "demo"),
    "demo-cross": ("visc-c", "demo/cross"),
    "demo-distortion": ("kadid10k", "demo/distortion"),
}
REAL_DATASETS = tuple(DATASETS)

TABLE5_CASES = {  # Table 5: case → (model, variant)
    "(a)": ("d2s-r18-gap", "no-align"),
    "(b)": ("d2s-r18", "no-align"),
    "(c)": ("d2s-r18", "eal-only"),
    "(d)": ("d2s-r18", "fal-only"),
    "(e)": ("d2s-r18", "default"),
}


def training_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """The ``d2s train`` values a run without overrides gets: ``TrainConfig``'s defaults under
    the workflow's shared ``training`` keys. A sweep value equal to one is the ``default`` run."""
    import dataclasses

    from d2s.train.config import TrainConfig

    return {**dataclasses.asdict(TrainConfig()), **config.get("training", {})}


def loader_name(dataset: str) -> str:
    return DEMO_DATASETS[dataset][0] if dataset in DEMO_DATASETS else dataset


def dataset_folder(dataset: str, resources: str) -> str:
    if dataset in DEMO_DATASETS:
        return f"{resources}/{DEMO_DATASETS[dataset][1]}"
    if dataset not in REAL_DATASETS:
        raise ValueError(f"unknown workflow dataset {dataset!r}")
    return f"{resources}/datasets/{dataset}"


def split_folder(dataset: str, kind: str, resources: str) -> str:
    """Where ``d2s data splits`` writes a dataset's split files of one kind (sst, nriqa, …)."""
    return f"{resources}/splits/{dataset}/{kind}"


def text_features_file(dataset: str, source: str, resources: str) -> str:
    """The cached CLIP text features of a dataset's captions from ``source`` (a captioner)."""
    return f"{resources}/text_features/{dataset}/{source}.pt"


def variant_overrides(variant: str, config: dict[str, Any]) -> dict[str, Any]:
    """``d2s train`` overrides of a variant name (``default`` or tokens joined by ``_``).

    Tokens: ``short`` (the 5-epoch protocol of Tables 2–3), ``nriqa`` (5 epochs at 384 px),
    ``no-align`` / ``eal-only`` / ``fal-only`` (Table 5), ``M<n>`` / ``mom<m>`` / ``steps<n>``
    (Table 6), ``eal<w>`` / ``fal<w>`` (Figs. 10–11), ``cap-<captioner>`` (Table 7),
    ``sel-<protocol>`` (Table 1's extra selection groups), ``ealmode-<mode>`` (Figs. 4(d)/14 for
    the other ``eal_mode``; Table 5's controls under it), ``captions-<control>`` (Table 5's
    caption controls: ``caption_control`` shuffled / constant).
    """
    out: dict[str, Any] = {}
    if variant == "default":
        return out
    for token in variant.split("_"):
        if token == "short":
            out["epochs"] = config["short_epochs"]
        elif token == "nriqa":
            out["epochs"] = config["short_epochs"]
            out["image_size"] = config["nriqa_image_size"]
        elif token == "no-align":
            out.update(use_eal=False, use_fal=False)
        elif token == "eal-only":
            out["use_fal"] = False
        elif token == "fal-only":
            out["use_eal"] = False
        elif m := re.fullmatch(r"M(\d+)", token):
            out["buffer_size"] = int(m[1])
        elif m := re.fullmatch(r"mom(0\.\d+)", token):
            out["momentum"] = float(m[1])
        elif m := re.fullmatch(r"steps(\d+)", token):
            out["refresh_steps"] = int(m[1])
        elif m := re.fullmatch(r"eal(\d+(?:\.\d+)?)", token):
            out["eal_weight"] = float(m[1])
        elif m := re.fullmatch(r"fal(\d+(?:\.\d+)?)", token):
            out["fal_weight"] = float(m[1])
        elif m := re.fullmatch(r"cap-([a-z0-9-]+)", token):
            out["captioner"] = m[1]
        elif m := re.fullmatch(r"sel-([a-z-]+)", token):
            out["select"] = m[1]  # checked against the selection protocols by d2s train
        elif m := re.fullmatch(r"ealmode-([a-z]+)", token):
            out["eal_mode"] = m[1]  # checked against EAL_MODES by d2s train
        elif m := re.fullmatch(r"captions-([a-z]+)", token):
            out["caption_control"] = m[1]  # checked against CAPTION_CONTROLS by d2s train
        else:
            raise ValueError(f"unknown variant token {token!r} in {variant!r}")
    return out


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    split: str
    model: str
    variant: str
    seed: int

    def folder(self, results: str) -> str:
        return f"{results}/runs/{self.dataset}/{self.split}/{self.model}/{self.variant}/seed{self.seed}"


@dataclass(frozen=True)
class CrossSpec:
    """A Table 3 evaluation: ``source`` run scored on ``target``."""

    source: RunSpec
    target: str

    def folder(self, results: str) -> str:
        s = self.source
        return f"{results}/cross/{self.target}/{s.model}/{s.variant}/seed{s.seed}"


@dataclass(frozen=True)
class Cell:
    """One table entry: a row label, a column group and the run (or evaluation) behind it;
    ``reference`` marks the row the group's other rows are compared with (d2s.paper.significance)."""

    row: str
    group: str
    spec: RunSpec | CrossSpec
    reference: bool = False

    @property
    def model(self) -> str:
        """The model whose predictions this entry reports (a cross evaluation's source model)."""
        return self.spec.source.model if isinstance(self.spec, CrossSpec) else self.spec.model


#: The tables with runs of their own (Table 8 is built from Tables 1 and 7), in the paper's order.
MATRIX_TABLES = (
    "table1",
    "table2",
    "table3",
    "table4",
    "table5",
    "table6",
    "table7",
    "fig10",
    "fig11",
)


def _seeds(config: dict, table: str) -> list[int]:
    return list(config["experiments"][table].get("seeds", config["seeds"]))


def table_cells(table: str, config: dict[str, Any]) -> list[Cell]:
    """Every (row, group, run) of ``table`` (one of :data:`MATRIX_TABLES`)."""
    exp = config["experiments"]
    ic = exp["ic9600"]
    spec = exp.get(table, {})
    cells: list[Cell] = []
    if table == "table1":
        for model in spec["models"]:
            for seed in _seeds(config, table):
                cells.append(Cell(model, "", RunSpec(ic, "official", model, "default", seed)))
        # the same rows under another selection protocol (e.g. val vs the released test-plcc)
        for protocol, models in (spec.get("selections") or {}).items():
            for model in models:
                for seed in _seeds(config, table):
                    run = RunSpec(ic, "official", model, f"sel-{protocol}", seed)
                    cells.append(Cell(model, f"select: {protocol}", run))
    elif table == "table2":
        for size in spec["sizes"]:
            for model in spec["models"]:
                for seed in _seeds(config, table):
                    run = RunSpec(ic, f"sst{size}", model, "short", seed)
                    cells.append(Cell(model, f"SST@{size}", run))
    elif table == "table3":
        for target in spec["targets"]:
            for model in spec["models"]:
                for seed in _seeds(config, table):
                    source = same_or_default(RunSpec(ic, "official", model, "short", seed), config)
                    cells.append(Cell(model, target, CrossSpec(source, target)))
    elif table == "table4":
        for dataset in spec["datasets"]:
            for model in spec["models"]:
                for seed in _seeds(config, table):
                    cells.append(
                        Cell(model, dataset, RunSpec(dataset, "nriqa", model, "nriqa", seed))
                    )
    elif table == "table5":
        for case, (model, variant) in TABLE5_CASES.items():
            for seed in _seeds(config, table):
                cells.append(Cell(case, "", RunSpec(ic, "official", model, variant, seed)))
        cells += caption_control_cells(config)
    elif table == "table6":
        defaults = training_defaults(config)
        grid = [("M", "buffer_size", v) for v in spec["buffer_sizes"]]
        grid += [("mom", "momentum", v) for v in spec["momenta"]]
        grid += [("steps", "refresh_steps", v) for v in spec["refresh_steps"]]
        for prefix, key, value in grid:
            variant = "default" if value == defaults[key] else f"{prefix}{value}"
            for seed in _seeds(config, table):
                run = RunSpec(ic, "official", "d2s-r18", variant, seed)
                cells.append(Cell(f"{key}={value}", key, run))
    elif table == "table7":
        for captioner in spec["captioners"]:
            for group, model in (("caption only", "caption-only"), ("concat", "concat-r18")):
                for seed in _seeds(config, table):
                    run = RunSpec(ic, "official", model, f"cap-{captioner}", seed)
                    cells.append(Cell(captioner, group, run))
    elif table in ("fig10", "fig11"):
        key = "eal" if table == "fig10" else "fal"
        default = training_defaults(config)[f"{key}_weight"]
        for model in spec.get("models", ["d2s-r18"]):
            for weight in spec["weights"]:
                variant = "default" if float(weight) == float(default) else f"{key}{weight}"
                for seed in _seeds(config, table):
                    run = RunSpec(ic, "official", model, variant, seed)
                    cells.append(Cell(model, f"{key}_weight={weight}", run))
    else:
        raise ValueError(f"no run matrix for {table!r}")
    return cells


#: Table 5's caption controls: the full model of case (e), over Table 1's seeds.
CONTROL_MODEL = TABLE5_CASES["(e)"][0]
REAL_CAPTIONS = "real captions"


def caption_control_cells(config: dict[str, Any]) -> list[Cell]:
    """Table 5's caption controls (docs/design.md §1.4): the full D2S-R18 trained on each of
    ``experiments.table5.caption_controls`` (``shuffled``, ``constant``) under each of
    ``control_eal_modes`` (default: the protocol's), with Table 1's seeds. Each EAL mode is a
    column group whose reference is the real-caption run of the same seeds (Table 1's own runs
    under the protocol's mode), so each verdict tests the gain without the image–caption pairing.
    """
    exp = config["experiments"]
    spec = exp.get("table5") or {}
    controls = spec.get("caption_controls") or []
    if not controls:
        return []
    protocol = training_defaults(config)["eal_mode"]
    protocol = (config.get("protocol") or {}).get("eal_mode", protocol)
    seeds = list((exp.get("table1") or {}).get("seeds", config["seeds"]))
    cells: list[Cell] = []
    for mode in spec.get("control_eal_modes") or [protocol]:
        tokens = [] if mode == protocol else [f"ealmode-{mode}"]
        group = f"captions, eal_mode {mode}"
        for control in ("real", *controls):
            variant = "_".join([*tokens, *([] if control == "real" else [f"captions-{control}"])])
            for seed in seeds:
                run = RunSpec(exp["ic9600"], "official", CONTROL_MODEL, variant or "default", seed)
                row = REAL_CAPTIONS if control == "real" else f"{control} captions"
                cells.append(Cell(row, group, run, reference=control == "real"))
    return cells


def same_or_default(spec: RunSpec, config: dict[str, Any]) -> RunSpec:
    """``spec``, or its ``default``-variant run when both get the same ``d2s train`` keys (e.g.
    a short protocol whose epochs equal the default's, as in the demo): one run, not two copies."""
    default = RunSpec(spec.dataset, spec.split, spec.model, "default", spec.seed)
    return default if run_overrides(spec, config) == run_overrides(default, config) else spec


def eal_mode_comparison(probe: RunSpec, config: dict[str, Any]) -> RunSpec | None:
    """The alignment figures' probe run again under ``experiments.fig14.compare_eal_mode`` (drawn
    as a second panel of Figs. 4(d)/14), or None when no comparison is asked for."""
    mode = (config["experiments"].get("fig14") or {}).get("compare_eal_mode")
    if not mode:
        return None
    return RunSpec(probe.dataset, probe.split, probe.model, f"ealmode-{mode}", probe.seed)


def run_overrides(spec: RunSpec, config: dict[str, Any]) -> dict[str, Any]:
    """Every ``d2s train`` key of one run: shared training keys, protocol, split, variant, text."""
    resources = config["resources"]
    variant = variant_overrides(spec.variant, config)
    captioner = variant.pop("captioner", "blip")
    out: dict[str, Any] = {
        **config.get("training", {}),
        **(config.get("models") or {}).get(spec.model, {}),
        **config.get("protocol", {}),
        "model": spec.model,
        "seed": spec.seed,
        "dataset": loader_name(spec.dataset),
        "root": dataset_folder(spec.dataset, resources),
        "run_label": config.get("run_label", ""),
        **variant,
    }
    if cache_setting(out.get("image_cache", "auto")) == "auto":
        # the decoded-image caches live with the config's other derived data, not in ./resources
        out["image_cache"] = f"{resources}/cache/images"
    if spec.split.startswith("sst"):
        out.update(split_dir=split_folder(spec.dataset, "sst", resources), train_split=spec.split)
    elif spec.split == "nriqa":
        out.update(split_dir=split_folder(spec.dataset, "nriqa", resources))
        if out.get("select") == "val":
            out["val_split"] = "val"
    elif spec.split != "official":
        raise ValueError(f"unknown split {spec.split!r}")
    if needs_text(out):
        captioner = released_captioner(spec.dataset, captioner, out["model"], config)
        out["text_features"] = text_features_file(spec.dataset, captioner, resources)
    return out


#: Captioner name of an imported file of the authors' own BLIP captions (``d2s caption import``).
RELEASED_BLIP = "blip-released"


def released_captioner(dataset: str, captioner: str, model: str, config: dict[str, Any]) -> str:
    """``blip-released`` where ``captions.released_blip`` names the authors' caption file for the
    dataset and the run needs training captions only (the file covers the training split; runs
    that read captions at test time, Table 7's caption-only / concat, keep the suite's BLIP)."""
    released = (config.get("captions") or {}).get("released_blip") or {}
    from d2s.registry import model_spec

    if captioner == "blip" and dataset in released and not model_spec(model).reads_text:
        return RELEASED_BLIP
    return captioner


def key_value_words(keys: dict[str, Any]) -> list[str]:
    """``key=value`` words of ``d2s train`` keys as a config file spells them (booleans
    ``true`` / ``false``); keys set to ``None`` are left out (the default applies)."""
    words = []
    for key, value in keys.items():
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        words.append(f"{key}={text}")
    return words


def needs_text(overrides: dict[str, Any]) -> bool:
    """Whether the run reads caption features (the same rule as ``TrainConfig.needs_text``)."""
    from d2s.registry import model_spec
    from d2s.train.config import TrainConfig

    def switch(key: str) -> bool:
        return bool(overrides.get(key, getattr(TrainConfig, key)))

    return model_spec(overrides["model"]).needs_text(switch("use_eal"), switch("use_fal"))

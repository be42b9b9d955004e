"""Which of the registry's models the paper shows, and where: the rows of Table 1 (and Figs. 2-3),
the groups of Table 8 and the rows of the latency suite behind Table 1's Params / Latency columns.

The model registry (:mod:`d2s.registry.models`) says what a model is; this module says which
paper table shows it under which label, so a model can be added to the suite without joining a
table, and a table's rows change here alone. :mod:`d2s.ops.latency` times :data:`LATENCY_ROWS`,
:mod:`d2s.ops.bench` derives the efficiency ratios from :data:`LATENCY_REFERENCE` and
:data:`LATENCY_RATIOS`, :mod:`d2s.paper.tables` builds Tables 1 and 8 from the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from d2s.registry.models import model_spec

#: Table 1's rows in table order: model name → row label (also the label of Figs. 2-3).
TABLE1_ROWS: dict[str, str] = {
    "d2s-r18": "D2S-R18",
    "d2s-r50": "D2S-R50",
    "icnet": "ICNet",
    "iccorn": "ICCORN",
    "hyperiqa": "HyperIQA",
    "topiq": "TOPIQ",
}

#: Table 8's groups: model name → group (the reproduced rows it takes from Table 1).
TABLE8_GROUPS: dict[str, str] = {
    "d2s-r18": "vision-text fusion",
    "d2s-r50": "vision-text fusion",
    "icnet": "vision-only",
    "iccorn": "vision-only",
    "hyperiqa": "vision-only",
}

#: The group of the literature's vision-only complexity models: the references of the
#: significance columns (:func:`is_baseline`).
BASELINE_GROUP = "vision-only"


def table1_models() -> tuple[str, ...]:
    """The models with a Table 1 row, in table order."""
    return tuple(TABLE1_ROWS)


def table1_param_models(trained: list[str]) -> list[str]:
    """Table 1's Params / Latency rows: the trained models, then the table's models that cannot
    be trained here (HyperIQA, TOPIQ: params and latency only), from the registry."""
    return [*trained, *(m for m in TABLE1_ROWS if not model_spec(m).trainable)]


def table8_models(group: str) -> tuple[str, ...]:
    """The models of a Table 8 group, in Table 1's order."""
    return tuple(name for name, of in TABLE8_GROUPS.items() if of == group)


def is_baseline(model: str) -> bool:
    """The literature's vision-only complexity models (ICNet, ICCORN, HyperIQA): the references
    of the significance columns (:mod:`d2s.paper.significance`)."""
    return TABLE8_GROUPS.get(model) == BASELINE_GROUP


@dataclass(frozen=True)
class LatencySpec:
    """One timed row of the latency suite (docs/design.md §4).

    Args:
        name: row name in the table (a model name, or ``<arch>-backbone``).
        input_size: side of the square input (the model's training resolution).
        build: model name to build, or ``None`` for a bare timm backbone.
        build_kwargs: extra arguments for the builder.
        forward: method called on the model (``forward`` or ``forward_maps``).
        backbone: for D2S, the row of its bare backbone (the overhead floor).
        fixed_size: the architecture only accepts ``input_size`` (the tiny smoke run keeps it).
        note: how the model is called, recorded with the result.
    """

    name: str
    input_size: int
    build: str | None
    build_kwargs: tuple[tuple[str, Any], ...] = ()
    forward: str = "forward"
    backbone: str | None = None
    fixed_size: bool = False
    note: str = ""


_D2S_NOTE = "inference model: backbone + AttnPool + head (no projection, no text encoder)"
_TRUNKS = {"r18": "resnet18", "r50": "resnet50"}

#: Every row the latency suite times, in table order: Table 1's models (ICNet twice: with and
#: without its map head), then the bare trunks, D2S's overhead floor.
LATENCY_ROWS: tuple[LatencySpec, ...] = (
    *(
        LatencySpec(f"d2s-{arch}", 512, f"d2s-{arch}", backbone=f"{trunk}-backbone", note=_D2S_NOTE)
        for arch, trunk in _TRUNKS.items()
    ),
    LatencySpec(
        "icnet",
        512,
        "icnet",
        forward="forward_maps",
        note="forward_maps: score and 64x64 complexity map, as the authors' ICNet forward "
        "returns both (the params count includes the map head)",
    ),
    LatencySpec(
        "icnet-score",
        512,
        "icnet",
        note="forward: score only, map head skipped (a lower bound for ICNet)",
    ),
    LatencySpec(
        "iccorn",
        512,
        "iccorn",
        forward="forward_maps",
        note="forward_maps: CORN score and complexity map, like ICNet",
    ),
    LatencySpec(
        "hyperiqa",
        224,
        "hyperiqa",
        build_kwargs=(("num_crop", 1),),
        fixed_size=True,
        note="num_crop=1: one 224x224 pass per image (pyiqa's eval default averages 25 "
        "crops, which would be 25 passes)",
    ),
    LatencySpec("topiq", 384, "topiq", note="TOPIQ-NR (CFANet, ResNet-50) at 384x384"),
    *(
        LatencySpec(
            f"{trunk}-backbone",
            512,
            None,
            build_kwargs=(("arch", trunk),),
            note=f"timm {trunk} features_only, last stage only: the trunk D2S-{arch.upper()} uses",
        )
        for arch, trunk in _TRUNKS.items()
    ),
)

#: The row every latency is divided by in the table (``latency_ratio_to_icnet``).
LATENCY_REFERENCE = "icnet"

#: The efficiency claim's ratio, its model and reference: the paired (interleaved) figure the
#: model's benchmark records as ``over_icnet_paired``, else the ratio of the medians.
HEADLINE_RATIO = ("d2s_r18_over_icnet", "d2s-r18", "icnet")

#: Ratio name → (row, reference row) of the latency medians, in the ratios JSON's order.
LATENCY_RATIOS: dict[str, tuple[str, str]] = {
    "d2s_r18_over_icnet_medians": ("d2s-r18", "icnet"),
    "d2s_r18_over_icnet_score_only": ("d2s-r18", "icnet-score"),
    "d2s_r50_over_icnet": ("d2s-r50", "icnet"),
}

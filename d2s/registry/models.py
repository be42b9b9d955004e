"""The model table: every fact about a named model, in one :class:`ModelSpec` per name.

Everything else derives from it: :func:`d2s.registry.build` and :func:`model_names`, the training
adapter (:mod:`d2s.train.tasks`), which runs need caption features (``TrainConfig.needs_text``),
the ``eal_mode`` label of a run, scoring's refusal of text-input models, the latency suite
(:data:`d2s.ops.bench.LATENCY_SPECS`) and the rows of Tables 1 and 8. Adding a model is one
:func:`register` call; nothing else branches on a model's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

#: How ``d2s train`` trains a model (the adapters of :mod:`d2s.train.tasks`):
#: ``d2s`` — MSE + EAL + FAL (Eq. 11); ``own-loss`` — the model's ``loss(images, targets)``
#: (ICNet, ICCORN); ``mse`` — MSE of the model's prediction; ``None`` — not trainable here
#: (HyperIQA and TOPIQ are Table 1's params/latency rows only).
TaskKind = Literal["d2s", "own-loss", "mse"]

#: What a model's forward reads from a batch, in argument order.
Inputs = tuple[str, ...]
IMAGES: Inputs = ("images",)
TEXT: Inputs = ("text_features",)
IMAGES_AND_TEXT: Inputs = ("images", "text_features")


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


@dataclass(frozen=True)
class ModelSpec:
    """Everything the suite knows about one named model.

    Args:
        name: the name used on the command line, in configs and in result folders.
        builder: ``"module:function"`` (imported on first use, so building a D2S never imports
            the baselines or pyiqa) or a callable; called as ``builder(pretrained=..., **kw)``.
        kwargs: constructor arguments the name stands for (e.g. the D2S backbone and pooling).
        task: how ``d2s train`` trains it (:data:`TaskKind`), ``None`` if it cannot.
        inputs: what its forward reads from a batch (images, caption features, or both).
        aligns_with_text: trained against caption features through EAL/FAL (D2S): it needs them in
            training when ``use_eal`` or ``use_fal`` is on, and its runs carry an ``eal_mode``.
        recipe: training recipe (``TrainConfig.recipe``); the recipe's defaults apply to the model
            below the config file and the command line.
        latency: its rows in the latency suite (ICNet has two: with and without its map head).
        table1_row: its row label in Table 1 and Figs. 2-3, ``None`` if not in Table 1.
        table8_group: its group in Table 8, ``None`` if not in Table 8.
    """

    name: str
    builder: str | Callable[..., Any]
    kwargs: tuple[tuple[str, Any], ...] = ()
    task: TaskKind | None = None
    inputs: Inputs = IMAGES
    aligns_with_text: bool = False
    recipe: str = "d2s"
    latency: tuple[LatencySpec, ...] = ()
    table1_row: str | None = None
    table8_group: str | None = None

    @property
    def reads_text(self) -> bool:
        """Reads caption features at test time as well as in training (Table 7's models)."""
        return "text_features" in self.inputs

    @property
    def trainable(self) -> bool:
        return self.task is not None

    def needs_text(self, use_eal: bool, use_fal: bool) -> bool:
        """Whether a training run reads caption features (text input, or EAL/FAL on D2S)."""
        return self.reads_text or (self.aligns_with_text and (use_eal or use_fal))

    def labels_eal_mode(self, use_eal: bool) -> bool:
        """Whether a run's result carries its ``eal_mode`` (only D2S runs with EAL on)."""
        return self.aligns_with_text and use_eal

    def build(self, pretrained: bool = False, **kwargs) -> Any:
        builder = self.builder
        if isinstance(builder, str):
            module, function = builder.split(":")
            builder = getattr(importlib.import_module(module), function)
        return builder(pretrained=pretrained, **{**dict(self.kwargs), **kwargs})


_SPECS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model to the table (a name may be registered once)."""
    if spec.name in _SPECS:
        raise ValueError(f"model {spec.name!r} is already registered")
    _SPECS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a model (for tests that register a model of their own)."""
    _SPECS.pop(name, None)


def model_spec(name: str) -> ModelSpec:
    """The spec of ``name``; :class:`KeyError` naming the known models otherwise."""
    try:
        return _SPECS[name]
    except KeyError:
        raise KeyError(
            f"unknown model {name!r}; known models: {', '.join(model_names())}"
        ) from None


def model_specs() -> list[ModelSpec]:
    """Every spec, in registration order (the order of Table 1 and the latency suite)."""
    return list(_SPECS.values())


def model_names() -> list[str]:
    return sorted(_SPECS)


def trainable_models() -> list[str]:
    """Every model name ``d2s train`` accepts (the rest, e.g. HyperIQA/TOPIQ, are latency rows)."""
    return [name for name in model_names() if _SPECS[name].trainable]


def table1_models() -> tuple[str, ...]:
    """The models with a Table 1 row, in table order."""
    return tuple(spec.name for spec in model_specs() if spec.table1_row)


def d2s_name_of(**kwargs) -> str | None:
    """The name of the D2S model built with exactly these constructor arguments, if any."""
    wanted = sorted(kwargs.items())
    for spec in model_specs():
        if spec.builder == _D2S and sorted(spec.kwargs) == wanted:
            return spec.name
    return None


# --------------------------------------------------------------------------------------------
# The models of the paper

_D2S = "d2s.method.model:D2S"
_D2S_NOTE = "inference model: backbone + AttnPool + head (no projection, no text encoder)"

for _arch in ("r18", "r50"):
    _backbone = {"r18": "resnet18", "r50": "resnet50"}[_arch]
    register(
        ModelSpec(
            f"d2s-{_arch}",
            _D2S,
            kwargs=(("backbone", _backbone), ("pool", "attn")),
            task="d2s",
            aligns_with_text=True,
            latency=(
                LatencySpec(
                    f"d2s-{_arch}",
                    512,
                    f"d2s-{_arch}",
                    backbone=f"{_backbone}-backbone",
                    note=_D2S_NOTE,
                ),
            ),
            table1_row=f"D2S-{_arch.upper()}",
            table8_group="vision-text fusion",
        )
    )
register(
    ModelSpec(
        "icnet",
        "d2s.baselines.icnet:icnet",
        task="own-loss",
        recipe="icnet",
        latency=(
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
        ),
        table1_row="ICNet",
        table8_group="vision-only",
    )
)
register(
    ModelSpec(
        "iccorn",
        "d2s.baselines.iccorn:iccorn",
        task="own-loss",
        recipe="icnet",  # the paper publishes no recipe of its own (docs/design.md §2)
        latency=(
            LatencySpec(
                "iccorn",
                512,
                "iccorn",
                forward="forward_maps",
                note="forward_maps: CORN score and complexity map, like ICNet",
            ),
        ),
        table1_row="ICCORN",
        table8_group="vision-only",
    )
)
register(
    ModelSpec(
        "hyperiqa",
        "d2s.baselines.iqa:hyperiqa",
        latency=(
            LatencySpec(
                "hyperiqa",
                224,
                "hyperiqa",
                build_kwargs=(("num_crop", 1),),
                fixed_size=True,
                note="num_crop=1: one 224x224 pass per image (pyiqa's eval default averages 25 "
                "crops, which would be 25 passes)",
            ),
        ),
        table1_row="HyperIQA",
        table8_group="vision-only",
    )
)
register(
    ModelSpec(
        "topiq",
        "d2s.baselines.iqa:topiq",
        latency=(
            LatencySpec("topiq", 384, "topiq", note="TOPIQ-NR (CFANet, ResNet-50) at 384x384"),
        ),
        table1_row="TOPIQ",
    )
)
for _arch in ("r18", "r50"):  # Table 5, case (a): GAP instead of AttnPool
    _backbone = {"r18": "resnet18", "r50": "resnet50"}[_arch]
    register(
        ModelSpec(
            f"d2s-{_arch}-gap",
            _D2S,
            kwargs=(("backbone", _backbone), ("pool", "gap")),
            task="d2s",
            aligns_with_text=True,
        )
    )
# Table 7: caption features alone, and image ⊕ caption
register(ModelSpec("caption-only", "d2s.method.text_heads:caption_only", task="mse", inputs=TEXT))
for _arch in ("r18", "r50"):
    register(
        ModelSpec(
            f"concat-{_arch}",
            f"d2s.method.text_heads:concat_{_arch}",
            task="mse",
            inputs=IMAGES_AND_TEXT,
        )
    )

del _arch, _backbone

#: Latency rows that are not models: the bare trunks, D2S's overhead floor.
BACKBONE_LATENCY: tuple[LatencySpec, ...] = tuple(
    LatencySpec(
        f"{arch}-backbone",
        512,
        None,
        build_kwargs=(("arch", arch),),
        note=f"timm {arch} features_only, last stage only: the trunk D2S-{arch[0].upper()}"
        f"{arch[-2:]} uses",
    )
    for arch in ("resnet18", "resnet50")
)

"""The model table: what a named model is, in one :class:`ModelSpec` per name.

Everything else derives from it: :func:`d2s.registry.build` and :func:`model_names`, the training
adapter (:mod:`d2s.train.tasks`), which runs need caption features (``TrainConfig.needs_text``),
the ``eal_mode`` label of a run, scoring's refusal of text-input models and the scorers offered
through torch.hub and pyiqa. Adding a model is one :func:`register` call; nothing else branches on
a model's name. Which paper table shows a model, under which label, and the latency suite's rows
are the paper's facts, not the model's: :mod:`d2s.paper.models`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

#: How ``d2s train`` trains a model (the adapters of :mod:`d2s.train.tasks`):
#: ``d2s`` — MSE + EAL + FAL (Eq. 11); ``own-loss`` — the model's ``loss(images, targets)``
#: (ICNet, ICCORN); ``mse`` — MSE of the model's prediction; ``None`` — not trainable here
#: (HyperIQA and TOPIQ: built for their parameter counts and latency only).
TaskKind = Literal["d2s", "own-loss", "mse"]

#: What a model's forward reads from a batch, in argument order.
Inputs = tuple[str, ...]
IMAGES: Inputs = ("images",)
TEXT: Inputs = ("text_features",)
IMAGES_AND_TEXT: Inputs = ("images", "text_features")


@dataclass(frozen=True)
class ModelSpec:
    """What one named model is: how it is built, trained and fed.

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
        scorer: offered as an image-complexity scorer, a torch.hub entry point and a pyiqa metric
            (the suite's full models, not the ablations or the caption-input heads).
    """

    name: str
    builder: str | Callable[..., Any]
    kwargs: tuple[tuple[str, Any], ...] = ()
    task: TaskKind | None = None
    inputs: Inputs = IMAGES
    aligns_with_text: bool = False
    recipe: str = "d2s"
    scorer: bool = False

    @property
    def reads_text(self) -> bool:
        """Reads caption features at test time as well as in training (Table 7's models)."""
        return "text_features" in self.inputs

    @property
    def reads_images(self) -> bool:
        """Reads images (every model but the caption-only head, which has no image trunk)."""
        return "images" in self.inputs

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

for _arch in ("r18", "r50"):
    _backbone = {"r18": "resnet18", "r50": "resnet50"}[_arch]
    register(
        ModelSpec(
            f"d2s-{_arch}",
            _D2S,
            kwargs=(("backbone", _backbone), ("pool", "attn")),
            task="d2s",
            aligns_with_text=True,
            scorer=True,
        )
    )
register(
    ModelSpec("icnet", "d2s.baselines.icnet:icnet", task="own-loss", recipe="icnet", scorer=True)
)
register(
    ModelSpec(
        "iccorn",
        "d2s.baselines.iccorn:iccorn",
        task="own-loss",
        recipe="icnet",  # the paper publishes no recipe of its own (docs/design.md §2)
        scorer=True,
    )
)
# HyperIQA and TOPIQ are not trained here: Table 1 shows their params and latency only
register(ModelSpec("hyperiqa", "d2s.baselines.iqa:hyperiqa"))
register(ModelSpec("topiq", "d2s.baselines.iqa:topiq"))
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

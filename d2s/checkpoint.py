"""Every checkpoint format, saved and loaded in one place with one set of errors.

Files are read with ``torch.load(..., weights_only=True)`` only (:func:`safe_torch_load`), so a
downloaded file can never run pickled code. The suite writes plain tensors and primitives; two
kinds share one envelope ``{"format": FORMAT, "version": VERSION, "kind": ..., ...}``:

- ``model``: the weights of a trained model plus what is needed to rebuild it (model name,
  constructor arguments, training config) — what ``d2s evaluate`` and ``d2s score`` read.
- ``state``: everything needed to resume a run at an epoch boundary (model, optimiser,
  scheduler, EAL buffers and momentum model, history). No RNG state: shuffling and augmentation
  are reseeded from (seed, epoch) at every epoch, which is what makes a resume exact.

The authors' released ``D2S_R18.pth`` / ``D2S_R50.pth`` (``{"model_state": state_dict, ...}``)
load for scoring too; their keys are mapped by :func:`released_to_suite_keys`
(:data:`RELEASED_KEY_MAP`). So does the IC9600 authors' ICNet ``ck.pth`` (a bare state dict,
recognised by its key layout with or without ``module.``; keys mapped by
:data:`d2s.baselines.icnet_official.OFFICIAL_KEY_MAP`). :func:`read_any_model` reads every format.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from d2s.core.io import atomic_save

FORMAT = "d2s-suite-checkpoint"
VERSION = 1

#: Input size of the authors' released checkpoints (their ``val.py`` default, docs/design.md §1).
RELEASED_IMAGE_SIZE = 512


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here; the message names the file and the reason."""


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike, kind: str) -> None:
    atomic_save({"format": FORMAT, "version": VERSION, "kind": kind, **payload}, path)


def load_error_reason(err: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in one complete sentence.

    torch's own text for a refused pickle is several paragraphs about allow-listing globals, the
    wrong advice for a downloaded file; a cut-off version of it is worse. Every other error is
    given in full.
    """
    text = str(err)
    found = re.search(r"(?:Unsupported global: |unsupported )GLOBAL ([\w.]+)", text)
    if "TorchScript" in text:
        return "a TorchScript archive (e.g. from d2s export): open it with torch.jit.load"
    if found:
        return (
            f"it holds pickled Python objects ({found.group(1)}), not plain weights; refused "
            "by weights_only loading, nothing in it was executed"
        )
    if type(err).__name__ == "UnpicklingError" or "Weights only load failed" in text:
        return (
            "not a PyTorch checkpoint of plain tensors (refused by weights_only loading, "
            "nothing in it was executed)"
        )
    if isinstance(err, EOFError) or "unexpected EOF" in text or "failed finding central" in text:
        return f"the file is truncated or corrupt ({type(err).__name__}: {text})"
    return f"not a PyTorch checkpoint ({type(err).__name__}: {text})"


def safe_torch_load(path: str | os.PathLike, what: str = "checkpoint") -> Any:
    """``torch.load(path, weights_only=True)`` on CPU; a refusal or a bad file raises
    :class:`CheckpointError` naming ``path`` and saying why in full (nothing pickled runs)."""
    try:
        with warnings.catch_warnings():
            # the refusal below says what a TorchScript or old-pickle file is; torch's warnings
            # about them would only repeat it
            warnings.filterwarnings("ignore", message=".*looks like a TorchScript archive")
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path}: cannot load {what}: {load_error_reason(err)}") from None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    if not os.access(path, os.R_OK):
        raise CheckpointError(f"{path}: cannot read checkpoint (permission denied)")


def _check_envelope(data: Any, path: Path, kind: str | None) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a d2s-suite checkpoint (no '{FORMAT}' header)")
    if data.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {data.get('version')} is not supported by this suite "
            f"(expects {VERSION})"
        )
    if kind is not None and data.get("kind") != kind:
        hint = ""
        if kind == "model" and data.get("kind") == "state":
            hint = " (a resume state such as last.pt); use the model checkpoint best.pt"
        raise CheckpointError(
            f"{path}: holds a {data.get('kind')!r} checkpoint, expected {kind!r}{hint}"
        )


def read_checkpoint(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Load and check the envelope (never executes pickled code: ``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    data = safe_torch_load(path)
    _check_envelope(data, path, kind)
    return data


def load_weights(
    model: nn.Module,
    state_dict: dict[str, torch.Tensor],
    source: str,
    may_lack: tuple[str, ...] = (),
) -> None:
    """``load_state_dict`` with a message that says which model the weights do not fit.

    ``may_lack``: key prefixes of ``model`` the weights may leave out (e.g. the projection).
    """
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise CheckpointError(
            f"{source}: weights do not fit {type(model).__name__}: {err}"
        ) from None
    missing = [k for k in result.missing_keys if not (may_lack and k.startswith(may_lack))]
    unexpected = result.unexpected_keys
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: weights do not fit {type(model).__name__} "
            f"(missing {len(missing)} keys, e.g. {missing[:3]}; "
            f"unexpected {len(unexpected)}, e.g. {unexpected[:3]})"
        )


def _build_saved_model(data: dict, path: str | os.PathLike) -> nn.Module:
    """The named model of a ``model`` checkpoint, with its weights."""
    from d2s.registry import build, model_names

    name = data.get("model_name")
    if name not in model_names():
        raise CheckpointError(f"{path}: unknown model {name!r}")
    model = build(name, pretrained=False, **data.get("model_kwargs", {}))
    load_weights(model, data["state_dict"], str(path))
    return model


def load_model(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict]:
    """Rebuild the trained model stored in a ``model`` checkpoint; returns ``(model, data)``."""
    data = read_checkpoint(path, kind="model")
    return _build_saved_model(data, path).to(device).eval(), data


# --------------------------------------------------------------------------------------------
# the authors' released format

#: Released-format key prefixes → suite ``D2S`` prefixes. Source: the authors' repository
#: (github.com/xauat-liushipeng/D2S): ``d2s/model_.py`` builds ``D2S.vision_encoder.model``
#: (timm ResNet, ``features_only=True``, last map ``[4]``), ``D2S.vision_encoder.attn_pool``
#: (CLIP AttentionPool2d: ``q_proj``/``k_proj``/``v_proj``/``c_proj``) and ``D2S.fc``
#: (Linear-ReLU-Linear-Sigmoid); its ``val.py`` loads ``torch.load(ckpt)["model_state"]`` with
#: ``strict=False``, so every other key in the file (text encoder, projection, momentum copies,
#: ...) is ignored, as here. **Not verified against the real D2S_R18.pth / D2S_R50.pth.**
RELEASED_KEY_MAP: tuple[tuple[str, str], ...] = (
    ("vision_encoder.model.", "backbone."),
    ("vision_encoder.attn_pool.", "pool."),
    ("fc.", "head."),
)

#: Wrapper prefixes stripped first (DataParallel/DDP and ``torch.compile``).
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")

#: timm ResNets by (block type, blocks per stage).
_RESNETS = {
    ("basic", (2, 2, 2, 2)): "resnet18",
    ("basic", (3, 4, 6, 3)): "resnet34",
    ("bottleneck", (3, 4, 6, 3)): "resnet50",
    ("bottleneck", (3, 4, 23, 3)): "resnet101",
    ("bottleneck", (3, 8, 36, 3)): "resnet152",
}


def strip_wrappers(key: str) -> str:
    """``key`` without any ``module.``/``_orig_mod.`` prefixes (DataParallel, torch.compile)."""
    stripped = True
    while stripped:
        stripped = False
        for wrapper in _WRAPPER_PREFIXES:
            if key.startswith(wrapper):
                key, stripped = key[len(wrapper) :], True
    return key


def released_to_suite_keys(
    state: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Map a released ``model_state`` to the suite ``D2S`` layout: ``(mapped, ignored keys)``.

    Each key loses any ``module.``/``_orig_mod.`` prefix, then the first matching prefix of
    :data:`RELEASED_KEY_MAP` is replaced; keys matching none are returned as ignored.
    """
    mapped: dict[str, torch.Tensor] = {}
    ignored: list[str] = []
    for key, value in state.items():
        name = strip_wrappers(key)
        for old, new in RELEASED_KEY_MAP:
            if name.startswith(old):
                mapped[new + name[len(old) :]] = value
                break
        else:
            ignored.append(key)
    return mapped, ignored


def _resnet_of(state: dict[str, torch.Tensor], source: str) -> str:
    blocks = []
    for stage in range(1, 5):
        indices = {
            int(m.group(1))
            for k in state
            if (m := re.match(rf"backbone\.layer{stage}\.(\d+)\.", k)) is not None
        }
        blocks.append(len(indices))
    kind = "bottleneck" if "backbone.layer1.0.conv3.weight" in state else "basic"
    name = _RESNETS.get((kind, tuple(blocks)))
    if name is None:
        raise CheckpointError(
            f"{source}: backbone weights match no known ResNet ({kind} blocks per stage {blocks})"
        )
    return name


def _describe(data: Any) -> str:
    if isinstance(data, dict):
        keys = [str(k) for k in list(data)[:6]]
        return f"a dict with keys {keys}"
    return f"a {type(data).__name__}"


def _from_suite(data: dict, path: Path, images_only: bool) -> tuple[nn.Module, int, str, dict]:
    from d2s.registry import model_names, model_spec

    _check_envelope(data, path, "model")
    name = data.get("model_name")
    if images_only and name in model_names() and model_spec(name).reads_text:
        raise CheckpointError(
            f"{path}: model {name!r} reads captions at test time; scoring takes images only "
            "(use d2s evaluate --captions)"
        )
    model = _build_saved_model(data, path)
    size = data.get("image_size") or (data.get("config") or {}).get("image_size")
    if not size:
        raise CheckpointError(f"{path}: checkpoint does not record its image_size")
    info = {"format": "suite", "model": name, "epoch": data.get("epoch")}
    return model, int(size), str(name), info


def _from_released(data: dict, path: Path, num_heads: int) -> tuple[nn.Module, int, str, dict]:
    from d2s.method.model import D2S
    from d2s.registry.models import d2s_name_of

    state = data["model_state"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: 'model_state' is not a state dict of tensors")
    mapped, ignored = released_to_suite_keys(state)
    required = ("pool.c_proj.weight", "head.0.weight", "head.2.weight")
    if not any(k.startswith("backbone.") for k in mapped) or any(k not in mapped for k in required):
        raise CheckpointError(
            f"{path}: 'model_state' does not hold a D2S image branch in the released layout "
            f"(expected keys starting with {[old for old, _ in RELEASED_KEY_MAP]}; "
            f"found e.g. {list(state)[:4]})"
        )
    backbone = _resnet_of(mapped, str(path))
    kwargs = dict(
        backbone=backbone,
        pool="attn",
        embed_dim=int(mapped["pool.c_proj.weight"].shape[0]),
        num_heads=num_heads,
        head_hidden=int(mapped["head.0.weight"].shape[0]),
    )
    model = D2S(pretrained=False, **kwargs)
    load_weights(model, mapped, str(path))
    name = d2s_name_of(backbone=backbone, pool="attn") or f"d2s-{backbone}"
    info = {
        "format": "released",
        "model": name,
        "model_kwargs": kwargs,
        "epoch": data.get("epoch"),
        "ignored_keys": ignored,
    }
    return model, RELEASED_IMAGE_SIZE, name, info


#: Keys only the IC9600 authors' ICNet state dict has (their ``ck.pth``, a bare state dict).
ICNET_OFFICIAL_MARKERS = ("b1_1.0.weight", "b2_4_slam.linear.0.weight", "to_score_f.conv.weight")

#: Input size of the authors' ICNet (``gene.py``: ``Resize((512, 512))``, ImageNet normalisation).
ICNET_OFFICIAL_IMAGE_SIZE = 512


def is_icnet_official(data: Any) -> bool:
    """Whether ``data`` is a state dict in the IC9600 authors' ICNet layout (any wrapper prefix)."""
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        return False
    keys = {strip_wrappers(str(k)) for k in data}
    return all(marker in keys for marker in ICNET_OFFICIAL_MARKERS)


def _from_icnet_official(data: dict, path: Path) -> tuple[nn.Module, int, str, dict]:
    from d2s.baselines.icnet_official import official_to_suite_keys
    from d2s.registry import build

    mapped, unknown = official_to_suite_keys({strip_wrappers(k): v for k, v in data.items()})
    if unknown:
        raise CheckpointError(
            f"{path}: looks like the IC9600 authors' ICNet (ck.pth) but has {len(unknown)} keys "
            f"outside its layout, e.g. {unknown[:3]}"
        )
    model = build("icnet", pretrained=False)
    load_weights(model, mapped, str(path))
    info = {"format": "icnet-official", "model": "icnet", "epoch": None}
    return model, ICNET_OFFICIAL_IMAGE_SIZE, "icnet", info


def read_any_model(
    checkpoint: str | os.PathLike, num_heads: int = 16, images_only: bool = True
) -> tuple[nn.Module, int, str, Path, dict, dict | None]:
    """Any checkpoint format this suite reads, as ``(model, image_size, name, path, info,
    suite envelope or None)``; the model is in eval mode on the CPU. ``images_only`` refuses
    models that read captions at test time (scoring takes images only)."""
    path = Path(checkpoint)
    if path.is_dir():
        if not (path / "best.pt").is_file():
            raise CheckpointError(f"{path}: a folder without best.pt; pass a checkpoint file")
        path = path / "best.pt"
    _check_file(path)
    data = safe_torch_load(path)
    envelope = None
    if isinstance(data, dict) and data.get("format") == FORMAT:
        model, size, name, info = _from_suite(data, path, images_only)
        envelope = data
    elif isinstance(data, dict) and "model_state" in data:
        model, size, name, info = _from_released(data, path, num_heads)
    elif is_icnet_official(data):
        model, size, name, info = _from_icnet_official(data, path)
    else:
        raise CheckpointError(
            f"{path}: not a known checkpoint format (expected the best.pt of d2s train, the "
            "authors' released D2S_R18.pth/D2S_R50.pth with 'model_state', or the IC9600 "
            f"authors' ICNet ck.pth); found {_describe(data)}"
        )
    return model.eval(), size, name, path, info, envelope


def load_scoring_model(
    checkpoint: str | os.PathLike, num_heads: int = 16
) -> tuple[nn.Module, int, str, str, dict]:
    """The image-only inference model of ``checkpoint`` for scoring, in any format.

    ``checkpoint``: the ``best.pt`` of ``d2s train`` (or its run folder), a released
    ``D2S_R18.pth`` / ``D2S_R50.pth`` (``num_heads``: their AttnPool heads, not stored in them),
    or the IC9600 authors' ICNet ``ck.pth``.
    Returns ``(model, image_size, name, source path, info)``; ``info`` records where the weights
    came from (format, model name, ignored keys, ...).
    """
    model, size, name, path, info, _ = read_any_model(checkpoint, num_heads)
    return model, size, name, str(path), info

"""Hub-shaped weight files with random values, under the ids and file names the paper path loads.

Writes into one folder ``DIR``:

- ``DIR/hf/hub/models--ORG--NAME/{refs/main, snapshots/<commit>/…}``: a Hugging Face cache
  (``HF_HOME=DIR/hf``) holding timm's ``<backbone>.a1_in1k`` for every backbone of the model
  table (``model.safetensors`` + ``config.json``, as timm's ``save_for_hf`` writes them) and
  open_clip's ViT-B-32 LAION-2B repository (``open_clip_model.safetensors`` +
  ``open_clip_config.json``: both towers, so open_clip's strict load passes);
- ``DIR/torch/hub/checkpoints/resnet18-<hash>.pth``: torchvision's ImageNet ResNet-18
  (``TORCH_HOME=DIR/torch``), the trunk ICNet and ICCORN start from.

The ids and file names are not written here: they come from timm's pretrained configs,
open_clip's pretrained table and torchvision's weight enum, the same lookups the suite's loaders
make, so a renamed id upstream shows up as a failed rehearsal rather than a stale copy.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

from d2s.core.io import atomic_path, atomic_write_text

#: Seed of every random weight written here (the files are the same on every machine).
SEED = 0


def hf_home(root: str | os.PathLike) -> Path:
    return Path(root) / "hf"


def torch_home(root: str | os.PathLike) -> Path:
    return Path(root) / "torch"


def mirror_home(root: str | os.PathLike) -> Path:
    """The local mirror of the dataset hosts (``D2S_MIRROR``, :mod:`d2s.ops.rehearsal.archives`)."""
    return Path(root) / "mirror"


def environment(root: str | os.PathLike) -> dict[str, str]:
    """The variables that point the suite's loaders and fetches at ``root``, offline."""
    return {
        "HF_HOME": str(hf_home(root).resolve()),
        "TORCH_HOME": str(torch_home(root).resolve()),
        "D2S_MIRROR": str(mirror_home(root).resolve()),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def snapshot(hf: Path, repo_id: str, files: dict[str, Callable[[Path], None]]) -> Path:
    """Write ``files`` (name -> writer of that path) as one snapshot of ``repo_id`` in the cache
    at ``hf`` (an ``HF_HOME``); ``refs/main`` is written last, so a cut-off write is not found."""
    commit = hashlib.sha1(f"d2s-rehearsal:{repo_id}".encode()).hexdigest()
    repo = hf / "hub" / ("models--" + repo_id.replace("/", "--"))
    folder = repo / "snapshots" / commit
    folder.mkdir(parents=True, exist_ok=True)
    for name, write in files.items():
        with atomic_path(folder / name) as tmp:
            write(tmp)
    (repo / "refs").mkdir(exist_ok=True)
    atomic_write_text(commit, repo / "refs" / "main")
    return folder


def timm_backbones() -> list[str]:
    """The timm architectures of the model table (its ``backbone`` keywords)."""
    from d2s.registry.models import model_specs

    return sorted(
        {dict(s.kwargs)["backbone"] for s in model_specs() if "backbone" in dict(s.kwargs)}
    )


def timm_hub_id(arch: str) -> str:
    """The hub id timm loads for ``timm.create_model(arch, pretrained=True)``."""
    import timm

    return timm.models.get_pretrained_cfg(arch).hf_hub_id


def write_timm(hf: Path, arch: str) -> Path:
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(SEED)
    model = timm.create_model(arch)  # the classifier too: timm prunes it for features_only
    config = {
        "architecture": arch,
        "num_classes": model.num_classes,
        "num_features": model.num_features,
        "pretrained_cfg": {
            k: v
            for k, v in model.pretrained_cfg.items()
            if k not in ("architecture", "url", "hf_hub_id", "file")
        },
    }
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    return snapshot(
        hf,
        timm_hub_id(arch),
        {
            "model.safetensors": lambda p: save_file(state, str(p), metadata={"format": "pt"}),
            "config.json": lambda p: p.write_text(json.dumps(config, indent=2, default=list)),
        },
    )


def clip_hub() -> tuple[str, str]:
    """(repo id, weight file name) open_clip loads for the suite's text encoder tag."""
    from open_clip.pretrained import get_pretrained_cfg

    from d2s.text.clip import CLIP_MODEL, CLIP_PRETRAINED

    repo_id, filename = get_pretrained_cfg(CLIP_MODEL, CLIP_PRETRAINED)["hf_hub"].rstrip("/"), ""
    if repo_id.count("/") > 1:
        repo_id, filename = repo_id.rsplit("/", 1)
    # open_clip looks for the safetensors form of its default name first
    return repo_id, filename or "open_clip_model.safetensors"


def write_open_clip(hf: Path) -> Path:
    import open_clip
    from open_clip.pretrained import get_pretrained_cfg
    from safetensors.torch import save_file

    from d2s.text.clip import CLIP_MODEL, CLIP_PRETRAINED

    torch.manual_seed(SEED)
    model = open_clip.create_model(CLIP_MODEL, pretrained=None)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    cfg = get_pretrained_cfg(CLIP_MODEL, CLIP_PRETRAINED)
    config = {
        "model_cfg": open_clip.get_model_config(CLIP_MODEL),
        "preprocess_cfg": {"mean": cfg["mean"], "std": cfg["std"]},
    }
    repo_id, filename = clip_hub()
    return snapshot(
        hf,
        repo_id,
        {
            filename: lambda p: save_file(state, str(p), metadata={"format": "pt"}),
            "open_clip_config.json": lambda p: p.write_text(json.dumps(config, indent=2)),
        },
    )


def torchvision_file(home: Path) -> Path:
    """Where torchvision looks for its ImageNet ResNet-18 (the weights ICNet starts from)."""
    from torchvision.models import ResNet18_Weights

    name = ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    return home / "hub" / "checkpoints" / name


def write_torchvision(home: Path) -> Path:
    import torchvision

    torch.manual_seed(SEED)
    path = torchvision_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(torchvision.models.resnet18().state_dict(), tmp)
    return path


def write_hub(root: str | os.PathLike) -> dict[str, str]:
    """Every weight file of the paper path this module owns; returns what -> where."""
    root = Path(root)
    hf, th = hf_home(root), torch_home(root)
    written = {timm_hub_id(arch): str(write_timm(hf, arch)) for arch in timm_backbones()}
    written[clip_hub()[0]] = str(write_open_clip(hf))
    written["torchvision:resnet18"] = str(write_torchvision(th))
    return written

"""Load the hub-shaped files through the suite's own loaders and check they were the ones loaded.

Run in an environment pointing at the files (:func:`d2s.ops.rehearsal.hub.environment`, offline):
``python -m d2s.ops.rehearsal.verify``. Each model of Table 1 is built with ``pretrained=True`` the
way ``d2s train`` builds it, and the text encoder with the paper's tag the way ``d2s
text-features`` loads it; each must carry the written tensors (not a random fallback).
Prints one JSON record; a failure is one line naming the file, exit 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from d2s.ops.rehearsal import RehearsalError
from d2s.ops.rehearsal.hub import clip_hub, timm_backbones, timm_hub_id


def _hub_file(repo_id: str, filename: str) -> str:
    from huggingface_hub import hf_hub_download

    return hf_hub_download(repo_id, filename)


def _carries(model: torch.nn.Module, tensor: torch.Tensor) -> bool:
    """Whether any parameter of ``model`` equals ``tensor`` (the loaded weights, not new ones)."""
    return any(
        p.shape == tensor.shape and torch.equal(p.detach().cpu(), tensor)
        for p in model.state_dict().values()
    )


def _check(model: torch.nn.Module, path: str, key: str, what: str) -> None:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        tensor = load_file(path)[key]
    else:
        tensor = torch.load(path, map_location="cpu", weights_only=True)[key]
    if not _carries(model, tensor):
        raise RehearsalError(f"{path}: {what} does not carry this file's {key!r}")


def verify() -> dict:
    from torchvision.models import ResNet18_Weights

    from d2s.ops.rehearsal.hub import torchvision_file
    from d2s.registry import build
    from d2s.registry.models import trainable_models
    from d2s.text.clip import TextEncoderError, load_text_encoder

    record = {}
    for name in trainable_models():
        model = build(name, pretrained=True)
        sources = sorted(
            {m.weights_source for m in model.modules() if hasattr(m, "weights_source")}
        )
        for source in sources:
            kind, _, ident = source.partition(":")
            if kind == "hf-hub":
                _check(model, _hub_file(ident, "model.safetensors"), "conv1.weight", name)
            elif kind == "torchvision" and ident == ResNet18_Weights.IMAGENET1K_V1.url:
                path = torchvision_file(Path(torch.hub.get_dir()).parent)
                _check(model, str(path), "conv1.weight", name)
            else:
                raise RehearsalError(f"{name}: unexpected weights {source!r}")
        record[name] = sources
    try:
        encoder = load_text_encoder()
    except TextEncoderError as err:
        raise RehearsalError(str(err)) from None
    repo_id, filename = clip_hub()
    _check(encoder, _hub_file(repo_id, filename), "token_embedding.weight", "the text encoder")
    record["text_encoder"] = encoder.encoder_id
    record["timm"] = [timm_hub_id(arch) for arch in timm_backbones()]
    return record


def main() -> int:
    try:
        print(json.dumps(verify(), indent=2))
    except RehearsalError as err:
        print(f"d2s rehearse: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

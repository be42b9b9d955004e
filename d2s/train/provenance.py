"""What a run loaded, as it ran: recorded in ``metrics.json`` under ``loaded``.

The config says what was asked (``pretrained: true``, ``device: auto``); this record says what
happened: the device resolved, the dtypes of the weights and of the training forward, where the
trunk's weights came from (``hf-hub:<id>``, a torchvision file, a local file, or ``random``), and,
for runs that read text, the text encoder and the captioner behind the features
(docs/rehearsal.md checks these on every rehearsal run).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from d2s.train.config import TrainConfig
from d2s.train.step import Placement


def weight_sources(model: nn.Module) -> list[str]:
    """Every ``weights_source`` the model's modules declare (D2S trunks, ICNet's trunks)."""
    return sorted({m.weights_source for m in model.modules() if hasattr(m, "weights_source")})


def text_provenance(config: TrainConfig) -> dict[str, Any]:
    """The text encoder id and caption settings behind a run's text features (none: no text)."""
    if config.text_features:
        from d2s.text.features import load_text_features

        record = load_text_features(config.text_features)
        settings = record.get("caption_settings") or {}
        return {
            "text_encoder": record.get("encoder_id"),
            "captioner": settings.get("captioner"),
            "caption_model": settings.get("model"),
            "caption_precision": settings.get("precision"),
        }
    if config.captions:
        from d2s.text.clip import CLIP_MODEL, encoder_id

        weights = None if config.clip_weights == "random" else config.clip_weights
        return {"text_encoder": encoder_id(CLIP_MODEL, weights), "captions": config.captions}
    return {}


def loaded_record(model: nn.Module, placement: Placement, config: TrainConfig) -> dict[str, Any]:
    """The ``loaded`` block of ``metrics.json``."""
    weights_dtype = next(model.parameters()).dtype
    forward = placement.autocast_dtype or weights_dtype
    return {
        "device": str(placement.device),
        "weights_dtype": str(weights_dtype).removeprefix("torch."),
        "forward_dtype": str(forward).removeprefix("torch."),
        "weights": weight_sources(model),
        **text_provenance(config),
    }

"""Frozen CLIP text encoder (open_clip ViT-B-32, LAION-2B weights) and the text-feature cache.

Captions and the encoder are fixed for a whole run, so each caption's text feature and entropy are
constants: they are computed once, saved, and reused by training (no text forward per step).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from d2s.core.io import atomic_save
from d2s.method.losses import entropy

CLIP_MODEL = "ViT-B-32"
CLIP_PRETRAINED = "laion2b_s34b_b79k"  # = hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K
CONTEXT_LENGTH = 77
RANDOM_INIT_SEED = 0


class FrozenTextEncoder(nn.Module):
    """open_clip text tower + CLIP BPE tokenizer; frozen, always in eval mode.

    ``forward(captions)`` returns ``encode_text`` features ``(N, 512)`` without normalisation.
    ``encoder_id`` names the architecture and weights, so caches can tell encoders apart.
    """

    def __init__(self, clip_model: nn.Module, tokenizer, encoder_id: str) -> None:
        super().__init__()
        # Only the text tower is used; dropping the image tower saves ~88M parameters.
        if hasattr(clip_model, "visual"):
            clip_model.visual = None
        self.clip = clip_model
        self.tokenizer = tokenizer
        self.encoder_id = encoder_id
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenTextEncoder:
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return next(self.clip.parameters()).device

    def tokenize(self, captions: list[str]) -> torch.Tensor:
        """Token ids ``(N, 77)``; longer captions are truncated (EOT kept last)."""
        return self.tokenizer(list(captions))

    def count_truncated(self, captions: list[str]) -> int:
        """How many captions exceed the context (start + BPE tokens + end > 77) and get cut."""
        context = getattr(self.tokenizer, "context_length", CONTEXT_LENGTH)
        return sum(len(self.tokenizer.encode(text)) + 2 > context for text in captions)

    @torch.no_grad()
    def forward(self, captions: list[str]) -> torch.Tensor:
        tokens = self.tokenize(captions).to(self.device)
        return self.clip.encode_text(tokens, normalize=False).float()


def _weights_id(pretrained: str | None) -> str:
    if pretrained is None:
        return f"random-init-seed{RANDOM_INIT_SEED}"
    path = Path(pretrained)
    if path.is_file():
        stat = path.stat()
        return f"file:{path.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
    return pretrained


def encoder_id(model_name: str = CLIP_MODEL, pretrained: str | None = CLIP_PRETRAINED) -> str:
    """Identifier of an encoder's architecture and weights (known without building it)."""
    return f"open_clip:{model_name}:{_weights_id(pretrained)}"


class TextEncoderError(Exception):
    """The text encoder's weights cannot be found; the message names the file (one line)."""


def check_hub_weights(model_name: str, pretrained: str) -> None:
    """Stop, naming the file, when a pretrained tag's hub weights are not to be had.

    open_clip reports a missing hub file with the hub client's multi-line error under the name of
    its fallback file; the suite's users (and its rehearsal, docs/rehearsal.md) get one line with
    the repository, both file names open_clip tries and the cache it looked in.
    """
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME
    from open_clip.pretrained import download_pretrained, get_pretrained_cfg

    if Path(pretrained).is_file():
        return
    cfg = get_pretrained_cfg(model_name, pretrained)
    if not cfg.get("hf_hub"):
        return  # an unknown tag or a URL: open_clip's own error names it
    try:
        download_pretrained(cfg)
    except Exception as err:
        from huggingface_hub import constants

        repo_id, filename = os.path.split(cfg["hf_hub"])
        names = filename or f"{HF_SAFE_WEIGHTS_NAME} or {HF_WEIGHTS_NAME}"
        offline = ", offline (HF_HUB_OFFLINE=1)" if constants.HF_HUB_OFFLINE else ""
        raise TextEncoderError(
            f"open_clip weights {pretrained!r} of {model_name}: no {names} of hf-hub:{repo_id} in "
            f"{constants.HF_HUB_CACHE}{offline} ({type(err).__name__})"
        ) from None


def load_text_encoder(
    model_name: str = CLIP_MODEL,
    pretrained: str | None = CLIP_PRETRAINED,
    device: str | torch.device = "cpu",
) -> FrozenTextEncoder:
    """Build the frozen text encoder through open_clip.

    Args:
        model_name: open_clip architecture.
        pretrained: an open_clip pretrained tag (downloads from the Hugging Face hub), a local
            checkpoint file, or ``None`` for deterministic random weights (offline demo/tests).
        device: where to place it.
    """
    import open_clip

    if pretrained is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_INIT_SEED)
            model = open_clip.create_model(model_name, pretrained=None)
    else:
        check_hub_weights(model_name, pretrained)
        model = open_clip.create_model(model_name, pretrained=pretrained)
    tokenizer = open_clip.get_tokenizer(model_name, context_length=CONTEXT_LENGTH)
    return FrozenTextEncoder(model, tokenizer, encoder_id(model_name, pretrained)).to(device)


def embed_captions(
    captions: list[str], encoder: FrozenTextEncoder, batch_size: int = 256, progress: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features ``(N, 512)`` and entropies ``(N,)`` (Eq. 12) of ``captions``, in batches."""
    feats = []
    for start in tqdm(
        range(0, len(captions), batch_size),
        desc="text features",
        unit="batch",
        disable=not progress,
    ):
        feats.append(encoder(captions[start : start + batch_size]).cpu())
    features = torch.cat(feats) if feats else torch.zeros(0, 512)
    return features, entropy(features)


def captions_key(captions: list[str], encoder_id: str) -> str:
    """Hash identifying a list of captions (order matters) embedded by one encoder."""
    payload = json.dumps({"encoder": encoder_id, "captions": list(captions)}, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _cache_path(cache_dir: str | os.PathLike, key: str) -> Path:
    return Path(cache_dir) / f"text-features-{key[:20]}.pt"


def _read_cache(path: Path, key: str) -> dict[str, torch.Tensor] | None:
    if not path.exists():
        return None
    try:
        cached = torch.load(path, map_location="cpu", weights_only=True)
        if cached.get("key") != key:
            return None
        return {"features": cached["features"], "entropy": cached["entropy"]}
    except Exception as err:  # truncated, corrupt, or not ours: a cache entry is recomputed
        print(
            f"{path}: unreadable text-feature cache entry ({type(err).__name__}); recomputing it",
            file=sys.stderr,
        )
        return None


def cached_text_features(
    captions: list[str],
    encoder: FrozenTextEncoder,
    cache_dir: str | os.PathLike,
    batch_size: int = 256,
    progress: bool = True,
) -> dict[str, torch.Tensor]:
    """Text features and entropies of ``captions``, read from ``cache_dir`` when present.

    The cache file name is the hash of the captions and the encoder id, so changing any
    caption or the encoder computes (and stores) a new entry. Returns ``{"features": (N, 512),
    "entropy": (N,)}``.
    """
    key = captions_key(captions, encoder.encoder_id)
    path = _cache_path(cache_dir, key)
    cached = _read_cache(path, key)
    if cached is not None:
        return cached
    features, entropies = embed_captions(captions, encoder, batch_size, progress)
    atomic_save(
        {
            "key": key,
            "encoder_id": encoder.encoder_id,
            "num_captions": len(captions),
            "features": features,
            "entropy": entropies,
        },
        path,
    )
    return {"features": features, "entropy": entropies}


def text_features(
    captions: list[str],
    cache_dir: str | os.PathLike,
    pretrained: str | None = CLIP_PRETRAINED,
    model_name: str = CLIP_MODEL,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> dict[str, torch.Tensor]:
    """Like :func:`cached_text_features`, but builds the encoder only on a cache miss."""
    key = captions_key(captions, encoder_id(model_name, pretrained))
    cached = _read_cache(_cache_path(cache_dir, key), key)
    if cached is not None:
        return cached
    encoder = load_text_encoder(model_name, pretrained, device)
    return cached_text_features(captions, encoder, cache_dir, progress=progress)

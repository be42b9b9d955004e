"""Device and numeric precision of captioning: bf16/fp16 autocast on CUDA, fp32 on the CPU."""

from __future__ import annotations

import contextlib

import torch

from d2s.text.loading import CaptionerError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")

#: Real vocabularies are ~30k (BLIP's BERT) or ~51k (Florence-2's BART) tokens. An offline hub
#: look-up can *silently* return a 2-5 token tokenizer (docs ENVIRONMENT.md); tests use ~100+.
MIN_VOCAB = 64


def resolve_precision(device: str | torch.device, precision: str = "auto") -> str:
    """``auto`` → ``bf16`` on CUDA when supported (else ``fp16``), ``fp32`` elsewhere."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    device = torch.device(device)
    if precision == "auto":
        if device.type != "cuda":
            return "fp32"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision != "fp32" and device.type != "cuda":
        raise ValueError(f"{precision} autocast is for CUDA; use fp32 on {device.type}")
    return precision


def autocast(device: str | torch.device, precision: str):
    """An autocast context for ``precision`` (a no-op for ``fp32``)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def check_tokenizer(tokenizer, model_id: str) -> None:
    """Refuse a tokenizer too small to be real (the silent offline failure)."""
    size = len(tokenizer)
    if size < MIN_VOCAB:
        raise CaptionerError(
            f"the tokenizer loaded for {model_id!r} has only {size} tokens: it was not really "
            "loaded (offline without a local copy?). Pass --model a local folder holding the "
            "model, or allow hub access."
        )

"""Loading a captioning checkpoint: every weight from the file, in the dtype asked for.

Two things ``from_pretrained`` does silently and a cached caption set must not inherit:

- transformers 5 loads a checkpoint in its own dtype (``dtype="auto"``): a half-precision hub
  checkpoint would caption in fp16 while the cache records fp32. The dtype is therefore passed
  explicitly (fp32 by default: the authors decode BLIP in fp32, docs/design.md §1.2) and the dtype
  the weights really have is recorded (:func:`weights_dtype`).
- A weight missing from the file (a renamed key, a truncated or foreign checkpoint) is
  initialised at random with a logged warning. :func:`load_model` refuses instead, naming the
  weight file and the first keys concerned.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

#: Weight file names transformers looks for, in its order of preference.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
#: ``from_pretrained``'s loading report: what each list means for the user.
LOADING_PROBLEMS = {
    "missing_keys": "weights the model needs are not in the file",
    "unexpected_keys": "the file holds weights the model does not know",
    "mismatched_keys": "weights have the wrong shape",
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class CaptionerError(ValueError):
    """A captioning model that cannot be used as asked; the message names the file or id."""


def weight_file(model_id: str) -> str:
    """The weight file ``from_pretrained(model_id)`` reads (a hub id is looked up in the cache)."""
    folder = Path(model_id)
    if folder.is_dir():
        found = [folder / name for name in WEIGHT_FILES if (folder / name).is_file()]
        return str(found[0] if found else folder / WEIGHT_FILES[0])
    from huggingface_hub import try_to_load_from_cache

    for name in WEIGHT_FILES:
        path = try_to_load_from_cache(model_id, name)
        if isinstance(path, str | os.PathLike):
            return str(path)
    return f"{model_id}/{WEIGHT_FILES[0]}"


def load_model(model_class, model_id: str, dtype: str = "float32", **kwargs):
    """``model_class.from_pretrained(model_id)`` in ``dtype``, refusing any weight not loaded."""
    if dtype not in DTYPES:
        raise CaptionerError(f"dtype must be one of {list(DTYPES)}, got {dtype!r}")
    from transformers.utils import logging

    # transformers prints its own multi-line load report for the problems refused below.
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        model, info = model_class.from_pretrained(
            model_id, dtype=DTYPES[dtype], output_loading_info=True, **kwargs
        )
    finally:
        logging.set_verbosity(verbosity)
    for key, meaning in LOADING_PROBLEMS.items():
        keys = [k if isinstance(k, str) else k[0] for k in info.get(key) or ()]
        if keys:
            shown = ", ".join(keys[:3]) + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")
            raise CaptionerError(
                f"{weight_file(model_id)}: {meaning} ({key}: {shown}); refusing to caption with "
                "randomly initialised weights. Re-download the model or pass --model a complete copy"
            )
    return model


def weights_dtype(model) -> str:
    """The dtype of the model's floating-point weights, e.g. ``float32`` (recorded in the cache)."""
    dtypes = sorted({str(p.dtype).removeprefix("torch.") for p in model.parameters()})
    return "+".join(dtypes)

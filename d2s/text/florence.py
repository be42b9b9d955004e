"""Florence-2 captioners for Table 7 (docs/design.md §1.2): CapI ``<CAPTION>``, CapII
``<DETAILED_CAPTION>``, CapIII ``<MORE_DETAILED_CAPTION>``.

transformers 5 has Florence-2 natively (``Florence2ForConditionalGeneration``, checkpoints in
its format such as ``florence-community/Florence-2-large``); that class is used by default. The
original ``microsoft/Florence-2-*`` repositories ship their own modelling code: pass
``trust_remote_code=True`` to load them through ``AutoModelForCausalLM`` / ``AutoProcessor``
instead. Both expose the same ``generate`` and ``processor.post_process_generation``.

Every image in a batch gets the same task prompt, so prompts have equal length and batching needs
no padding on the encoder side; the generated rows are stripped of padding before
post-processing, so a caption does not depend on its batch neighbours.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from d2s.text.blip import decoding_settings
from d2s.text.loading import CaptionerError, load_model, weights_dtype
from d2s.text.precision import autocast, check_tokenizer, resolve_precision
from d2s.text.prompts import (
    FLORENCE_DECODING,
    FLORENCE_DECODINGS,
    FLORENCE_MODEL_ID,
    FLORENCE_TASKS,
)


class FlorenceInputs:
    """Picklable preprocessing (runs in DataLoader workers): PIL images → model inputs + sizes."""

    def __init__(self, processor, task: str) -> None:
        self.processor = processor
        self.task = task

    def __call__(self, images: list) -> dict[str, Any]:
        inputs = self.processor(text=[self.task] * len(images), images=images, return_tensors="pt")
        batch = {
            key: inputs[key]
            for key in ("input_ids", "pixel_values", "attention_mask")
            if key in inputs
        }
        batch["image_sizes"] = [image.size for image in images]  # (width, height)
        return batch


class FlorenceCaptioner:
    """One Florence-2 caption task.

    Args:
        name: ``florence-cap1`` | ``florence-cap2`` | ``florence-cap3``.
        model: hub id or local folder.
        device, precision, dtype: as :class:`~d2s.text.blip.BlipCaptioner`.
        decoding: a named decoding of :data:`~d2s.text.prompts.FLORENCE_DECODINGS`
            (``released``, the authors' prototype, by default; or ``model-card``).
        max_new_tokens, num_beams: override the named decoding's values (tests, trials).
        trust_remote_code: load a ``microsoft/Florence-2-*`` repository with its own code.
    """

    def __init__(
        self,
        name: str,
        model: str | os.PathLike = FLORENCE_MODEL_ID,
        device: str | torch.device = "cpu",
        precision: str = "fp32",
        max_new_tokens: int | None = None,
        num_beams: int | None = None,
        trust_remote_code: bool = False,
        decoding: str = FLORENCE_DECODING,
        dtype: str = "float32",
    ) -> None:
        if name not in FLORENCE_TASKS:
            raise CaptionerError(
                f"unknown Florence-2 captioner {name!r}; known: {list(FLORENCE_TASKS)}"
            )
        if decoding not in FLORENCE_DECODINGS:
            raise CaptionerError(
                f"unknown Florence-2 decoding {decoding!r}; known: {list(FLORENCE_DECODINGS)}"
            )
        from transformers import AutoProcessor

        self.name = name
        self.task = FLORENCE_TASKS[name]
        self.model_id = str(model)
        self.device = torch.device(device)
        self.precision = resolve_precision(self.device, precision)
        self.decoding = decoding
        self.generate_args = dict(FLORENCE_DECODINGS[decoding])
        if max_new_tokens is not None:
            self.generate_args["max_new_tokens"] = int(max_new_tokens)
        if num_beams is not None:
            self.generate_args["num_beams"] = int(num_beams)
        self.max_new_tokens = int(self.generate_args["max_new_tokens"])
        self.trust_remote_code = bool(trust_remote_code)
        self.processor = AutoProcessor.from_pretrained(
            self.model_id, trust_remote_code=self.trust_remote_code
        )
        check_tokenizer(self.processor.tokenizer, self.model_id)
        if self.trust_remote_code:
            from transformers import AutoModelForCausalLM

            model_class, extra = AutoModelForCausalLM, {"trust_remote_code": True}
        else:
            from transformers import Florence2ForConditionalGeneration

            model_class, extra = Florence2ForConditionalGeneration, {}
        self.model = load_model(model_class, self.model_id, dtype, **extra)
        self.model.to(self.device).eval()

    def settings(self) -> dict[str, Any]:
        return {
            "captioner": self.name,
            "model": self.model_id,
            "prompts": [self.task],
            "max_new_tokens": self.max_new_tokens,
            "decoding_name": self.decoding,
            "decoding": decoding_settings(self.model.generation_config, **self.generate_args),
            "precision": self.precision,
            "dtype": weights_dtype(self.model),
            "remote_code": self.trust_remote_code,
        }

    def preprocessor(self) -> FlorenceInputs:
        return FlorenceInputs(self.processor, self.task)

    def postprocess(self, sequences: torch.Tensor, image_sizes: list[tuple[int, int]]) -> list[str]:
        """Generated ids → task answers (padding dropped, then the processor's own parsing)."""
        pad = self.processor.tokenizer.pad_token_id
        captions = []
        for row, size in zip(sequences.tolist(), image_sizes, strict=True):
            ids = [token for token in row if token != pad]
            text = self.processor.batch_decode([ids], skip_special_tokens=False)[0]
            answer = self.processor.post_process_generation(text, task=self.task, image_size=size)
            captions.append(str(answer[self.task]))
        return captions

    @torch.no_grad()
    def caption_batch(self, batch: dict[str, Any]) -> list[str]:
        inputs = {
            key: value.to(self.device)
            for key, value in batch.items()
            if key in ("input_ids", "pixel_values", "attention_mask")
        }
        with autocast(self.device, self.precision):
            out = self.model.generate(**inputs, **self.generate_args)
        return self.postprocess(out, batch["image_sizes"])

    def caption_one(self, image) -> str:
        """The unbatched reference: one image per ``generate`` call."""
        return self.caption_batch(self.preprocessor()([image]))[0]

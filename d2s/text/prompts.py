"""Captioner names, prompts and caption text rules (docs/design.md §1.2). No heavy imports here."""

from __future__ import annotations

#: BLIP-large, the captioner D2S trains with (docs/design.md §1.2).
BLIP_MODEL_ID = "Salesforce/blip-image-captioning-large"

#: The four BLIP text prefixes, each generated independently on the same image (docs/design.md §1.2).
BLIP_PROMPTS: tuple[str, ...] = (
    "this image shows",
    "the main objects are",
    "the background looks",
    "the overall visual complexity is",
)

#: ``max_new_tokens`` of every BLIP generation (docs/design.md §1.2); decoding is the model's default.
BLIP_MAX_NEW_TOKENS = 64

#: Separator between the four decoded BLIP outputs (docs/design.md §1.2).
BLIP_JOIN = ". "

#: Florence-2 in transformers' native format (``Florence2ForConditionalGeneration``). The original
#: ``microsoft/Florence-2-large`` repository needs ``--trust-remote-code``.
FLORENCE_MODEL_ID = "florence-community/Florence-2-large"

#: Florence-2 task tokens for Table 7: CapI, CapII, CapIII (docs/design.md §1.2).
FLORENCE_TASKS: dict[str, str] = {
    "florence-cap1": "<CAPTION>",
    "florence-cap2": "<DETAILED_CAPTION>",
    "florence-cap3": "<MORE_DETAILED_CAPTION>",
}

#: Florence-2 decoding: beam search, 3 beams, up to 1024 new tokens, in both readings below.
FLORENCE_MAX_NEW_TOKENS = 1024
FLORENCE_NUM_BEAMS = 3
#: ``generate`` arguments of each named Florence-2 decoding. ``released`` (default): the D2S
#: authors' prototype (``tools/florence2.py`` in the D2S repository) passes only
#: ``max_new_tokens`` and ``num_beams``; sampling and early stopping come from the checkpoint's
#: generation config (the prototype also loads the weights in fp16 on CUDA). ``model-card``: the
#: Florence-2 model card's call, which fixes ``do_sample=False`` and ``early_stopping=False``.
FLORENCE_DECODINGS: dict[str, dict[str, object]] = {
    "released": {"max_new_tokens": FLORENCE_MAX_NEW_TOKENS, "num_beams": FLORENCE_NUM_BEAMS},
    "model-card": {
        "max_new_tokens": FLORENCE_MAX_NEW_TOKENS,
        "num_beams": FLORENCE_NUM_BEAMS,
        "do_sample": False,
        "early_stopping": False,
    },
}
FLORENCE_DECODING = "released"

#: ``demo`` imports the demo's scene descriptions (``ROOT/captions.tsv``), which stand in for BLIP.
CAPTIONERS: tuple[str, ...] = ("blip", *FLORENCE_TASKS, "demo")

DEFAULT_MODELS: dict[str, str] = {
    "blip": BLIP_MODEL_ID,
    **{name: FLORENCE_MODEL_ID for name in FLORENCE_TASKS},
}


def normalize_caption(text: str) -> str:
    """One line of text: every run of whitespace (tabs, newlines included) becomes one space.

    This is what makes the cache a plain TSV without quoting: a caption never holds a tab or a
    newline.
    """
    return " ".join(str(text).split())


def join_blip(outputs: list[str]) -> str:
    """The decoded BLIP outputs (each starting with its prefix) as one caption (docs/design.md §1.2).

    As the authors' released code builds it (D2S repository, commit 57e2c59): every output is
    followed by ``". "`` and the whole is stripped, so the caption ends with ``.``.
    """
    return "".join(normalize_caption(text) + BLIP_JOIN for text in outputs).strip()

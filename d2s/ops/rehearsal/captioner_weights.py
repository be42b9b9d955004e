"""Random captioner weights that behave like a trained captioner where the paper path needs it.

Two properties of a trained captioner matter downstream, and plain random weights have neither:

- **Answers vary with the image.** A text-only model (Table 7's caption-only rows) trains on the
  captions alone; identical captions give identical predictions, which ``d2s train`` rightly
  refuses. BLIP's vision config draws its embeddings at ``initializer_range`` 1e-10 (a trained
  checkpoint overwrites them), so its image features are zero and every image gets one caption:
  they are drawn at 0.02, a ViT's usual scale, instead. Florence-2's image reaches its one
  reduced decoder layer weakly: that layer's cross-attention output is drawn 30 times larger.
- **Answers end.** Random weights almost never choose the end token, so every answer would run
  to the paper's ``max_new_tokens`` (1,024 tokens and 3 beams for Florence-2: minutes per image
  on a CPU). The direction of ``</s>``'s output row is added to Florence-2's learned decoder
  positions from :data:`CAPTION_TOKENS` on, which makes ``</s>`` the likeliest token there.

Configs, decoding settings and the generation code stay the repositories' own.
"""

from __future__ import annotations

from typing import Any

#: Where the hub-shaped Florence-2's answers end (tokens), about a trained model's short caption.
CAPTION_TOKENS = 12
#: A ViT's usual embedding scale (timm's and BLIP's text init), for BLIP's vision embeddings.
VIT_EMBEDDING_STD = 0.02
#: Gain of Florence-2's decoder cross-attention output, so that the image decides the answer.
FLORENCE_IMAGE_GAIN = 30.0


def like_a_trained_blip(model: Any) -> None:
    """BLIP's vision embeddings (patch, position, class) drawn at :data:`VIT_EMBEDDING_STD`."""
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("vision_model.embeddings.") and param.dim() > 1:
                param.normal_(0.0, VIT_EMBEDDING_STD)


def like_a_trained_florence(model: Any, eos_id: int, length: int = CAPTION_TOKENS) -> None:
    """Florence-2's answers follow the image and end after ``length`` tokens."""
    import torch

    params = dict(model.named_parameters())
    out = model.get_output_embeddings().weight[eos_id]
    (positions,) = [p for n, p in params.items() if n.endswith("decoder.embed_positions.weight")]
    with torch.no_grad():
        positions[2 + length :] += 20.0 * out / out.norm()  # BART's positions start at index 2
        for name, param in params.items():
            if ".decoder.layers." in name and name.endswith("encoder_attn.out_proj.weight"):
                param.mul_(FLORENCE_IMAGE_GAIN)

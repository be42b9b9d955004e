"""The frozen open_clip text tower, tokenizer and the text-feature cache, all offline."""

import pytest
import torch

from d2s.method.losses import entropy
from d2s.registry import build
from d2s.text.clip import cached_text_features, captions_key, embed_captions, load_text_encoder

CAPTIONS = [
    "this image shows a cat. the main objects are a cat. the background looks plain",
    "this image shows a busy street. the main objects are cars, people and signs",
    "this image shows a painting. the overall visual complexity is high " * 12,  # > 77 tokens
]


def test_tokenizer_is_the_real_clip_bpe_with_context_77(text_encoder):
    tokenizer = text_encoder.tokenizer
    assert tokenizer.vocab_size == 49408  # a hub tokenizer that failed offline would be tiny
    tokens = text_encoder.tokenize(CAPTIONS)
    assert tokens.shape == (3, 77)
    sot, eot = tokenizer.sot_token_id, tokenizer.eot_token_id
    assert (tokens[:, 0] == sot).all()
    assert tokens[2, -1].item() == eot  # the long caption is truncated, EOT kept last


def test_text_tower_only_and_architecture(text_encoder):
    assert text_encoder.clip.visual is None
    n = sum(p.numel() for p in text_encoder.parameters())
    assert 63_000_000 < n < 64_000_000  # ViT-B-32 text tower (~63.4M)
    assert text_encoder.encoder_id == "open_clip:ViT-B-32:random-init-seed0"


def test_embedding_equals_direct_encode_text_without_normalisation(text_encoder):
    feats, ent = embed_captions(CAPTIONS, text_encoder, batch_size=2, progress=False)
    with torch.no_grad():
        direct = text_encoder.clip.encode_text(text_encoder.tokenize(CAPTIONS))
    assert feats.shape == (3, 512)
    assert torch.allclose(feats, direct, atol=1e-5)
    assert not torch.allclose(feats.norm(dim=-1), torch.ones(3), atol=1e-3)
    assert torch.allclose(ent, entropy(direct), atol=1e-5)


def test_random_init_is_deterministic(text_encoder):
    again = load_text_encoder(pretrained=None)
    for a, b in zip(text_encoder.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)


def test_pretrained_weights_load_through_open_clip_checkpoint_path(tmp_path):
    import open_clip

    torch.manual_seed(123)
    clip = open_clip.create_model("ViT-B-32", pretrained=None)
    path = tmp_path / "open_clip_model.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in clip.state_dict().items()}, path)
    encoder = load_text_encoder(pretrained=str(path))
    assert encoder.encoder_id.startswith("open_clip:ViT-B-32:file:")
    tokens = encoder.tokenize(CAPTIONS[:1])
    with torch.no_grad():
        assert torch.allclose(encoder(CAPTIONS[:1]), clip.encode_text(tokens), atol=1e-5)


def test_frozen_encoder_gets_no_gradient_and_is_bitwise_unchanged(text_encoder):
    model = build("d2s-r18", proj_dim=512)
    text_encoder.train()  # must stay in eval mode regardless
    assert not text_encoder.training
    before = {k: v.clone() for k, v in text_encoder.state_dict().items()}
    params = list(model.parameters()) + list(text_encoder.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-3)
    text = text_encoder(CAPTIONS[:2])
    _, projected = model.forward_train(torch.randn(2, 3, 32, 32))
    loss = (projected - text).pow(2).mean()
    loss.backward()
    optimizer.step()
    assert all(p.grad is None for p in text_encoder.parameters())
    assert model.proj.weight.grad is not None
    for key, value in text_encoder.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_cache_equals_direct_and_is_reused(text_encoder, tmp_path, monkeypatch):
    first = cached_text_features(CAPTIONS, text_encoder, tmp_path, batch_size=2, progress=False)
    direct, direct_entropy = embed_captions(CAPTIONS, text_encoder, progress=False)
    # batch size 2 vs 256: equal up to float summation order
    assert torch.allclose(first["features"], direct, atol=1e-5)
    assert torch.allclose(first["entropy"], direct_entropy, atol=1e-5)
    files = list(tmp_path.glob("*.pt"))
    assert len(files) == 1 and not list(tmp_path.glob("*.part"))

    def forbidden(_):
        raise AssertionError("the encoder ran although the cache was valid")

    monkeypatch.setattr(type(text_encoder), "forward", forbidden)
    again = cached_text_features(CAPTIONS, text_encoder, tmp_path, progress=False)
    assert torch.equal(again["features"], first["features"])


def test_cache_is_rebuilt_when_a_caption_or_the_encoder_changes(text_encoder, tmp_path):
    cached_text_features(CAPTIONS, text_encoder, tmp_path, progress=False)
    changed = [*CAPTIONS[:2], "this image shows a dog"]
    out = cached_text_features(changed, text_encoder, tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.pt"))) == 2
    direct, _ = embed_captions(changed[2:], text_encoder, progress=False)
    assert torch.allclose(out["features"][2], direct[0], atol=1e-5)
    assert captions_key(CAPTIONS, "open_clip:a") != captions_key(CAPTIONS, "open_clip:b")
    assert captions_key(["a b", "c"], "x") != captions_key(["a", "b c"], "x")


@pytest.mark.parametrize("bad", ["no-such-tag", "/no/such/file.pt"])
def test_unknown_weights_fail_loudly_offline(bad):
    with pytest.raises(RuntimeError):
        load_text_encoder(pretrained=bad)


def test_text_features_builds_the_encoder_only_on_a_cache_miss(text_encoder, tmp_path, monkeypatch):
    import d2s.text.clip as text

    first = text.text_features(CAPTIONS[:2], tmp_path, pretrained=None, progress=False)
    direct, _ = embed_captions(CAPTIONS[:2], text_encoder, progress=False)
    assert torch.allclose(first["features"], direct, atol=1e-5)

    def no_build(*args, **kwargs):
        raise AssertionError("encoder built although the cache holds these captions")

    monkeypatch.setattr(text, "load_text_encoder", no_build)
    again = text.text_features(CAPTIONS[:2], tmp_path, pretrained=None, progress=False)
    assert torch.equal(again["features"], first["features"])
    with pytest.raises(AssertionError, match="encoder built"):
        text.text_features(CAPTIONS[1:], tmp_path, pretrained=None, progress=False)

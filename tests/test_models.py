import numpy as np
import pytest
import timm
import torch

from d2s.method.model import D2S
from d2s.method.pool import AttentionPool2d
from d2s.registry import build, count_parameters


@pytest.mark.parametrize(("name", "expected"), [("d2s-r18", 13_015_105), ("d2s-r50", 38_720_577)])
def test_inference_parameter_counts_match_paper(name, expected):
    model = build(name)
    assert count_parameters(model) == expected
    assert model.proj is None


def test_parameter_breakdown_r18():
    model = build("d2s-r18")
    parts = {k: count_parameters(getattr(model, k)) for k in ("backbone", "pool", "head")}
    assert parts == {"backbone": 11_176_512, "pool": 1_313_280, "head": 525_313}


def test_gap_variant_pools_by_mean_and_has_no_attention():
    model = build("d2s-r18-gap").eval()
    fmap = torch.randn(2, 512, 3, 5)
    assert torch.allclose(model.forward_head(fmap, pre_logits=True), fmap.mean(dim=(2, 3)))
    assert count_parameters(model) == 11_176_512 + (512 * 512 + 512) + 513


@pytest.mark.parametrize("size", [(64, 64), (96, 64)])
def test_forward_shapes_any_size_and_batch_of_one(size):
    model = build("d2s-r18").eval()
    with torch.no_grad():
        one = model(torch.randn(1, 3, *size))
        three = model(torch.randn(3, 3, *size))
    assert one.shape == (1,)  # never squeezed to a 0-d tensor
    assert three.shape == (3,)
    assert ((three > 0) & (three < 1)).all()


def test_forward_is_features_then_head_and_train_branch_matches():
    torch.manual_seed(0)
    model = build("d2s-r18", proj_dim=512).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        fmap = model.forward_features(x)
        assert fmap.shape == (2, 512, 2, 2)
        pooled = model.forward_head(fmap, pre_logits=True)
        assert pooled.shape == (2, 1024)
        score, projected = model.forward_train(x)
        assert torch.allclose(model(x), score)
        assert torch.allclose(projected, model.proj(pooled), atol=1e-6)
    assert projected.shape == (2, 512)


def test_inference_model_refuses_train_branch_and_loads_trained_weights():
    trained = build("d2s-r18", proj_dim=512)
    with pytest.raises(RuntimeError, match="projection"):
        build("d2s-r18").forward_train(torch.randn(1, 3, 32, 32))
    inference = build("d2s-r18")
    inference.load_state_dict(trained.inference_state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(inference.eval()(x), trained.eval()(x))


def test_attention_pool_against_explicit_per_head_attention():
    torch.manual_seed(1)
    channels, heads, out = 32, 4, 24
    pool = AttentionPool2d(channels, out, heads).double()
    x = torch.randn(2, channels, 3, 2, dtype=torch.float64)
    got = pool(x).detach().numpy()

    w = {
        k: getattr(pool, k).weight.detach().numpy()
        for k in ("q_proj", "k_proj", "v_proj", "c_proj")
    }
    b = {
        k: getattr(pool, k).bias.detach().numpy() for k in ("q_proj", "k_proj", "v_proj", "c_proj")
    }
    d = channels // heads
    for n in range(2):
        tokens = x[n].reshape(channels, -1).T.numpy()  # (HW, C)
        tokens = np.vstack([tokens.mean(0, keepdims=True), tokens])
        q = w["q_proj"] @ tokens[0] + b["q_proj"]
        k = tokens @ w["k_proj"].T + b["k_proj"]
        v = tokens @ w["v_proj"].T + b["v_proj"]
        pooled = np.zeros(channels)
        for h in range(heads):
            sl = slice(h * d, (h + 1) * d)
            scores = k[:, sl] @ q[sl] / np.sqrt(d)
            attn = np.exp(scores - scores.max())
            attn /= attn.sum()
            pooled[sl] = attn @ v[:, sl]
        expected = w["c_proj"] @ pooled + b["c_proj"]
        np.testing.assert_allclose(got[n], expected, rtol=1e-10, atol=1e-10)


def test_pretrained_weights_load_through_timm_pretrained_path(tmp_path):
    """The real ``pretrained=True`` path, fed from a local file instead of the hub."""
    reference = timm.create_model("resnet18", pretrained=False)
    weights = tmp_path / "resnet18.a1_in1k.pth"
    torch.save(reference.state_dict(), weights)
    model = D2S("resnet18", pretrained=True, pretrained_file=str(weights))
    loaded = model.backbone.state_dict()
    for key, value in loaded.items():
        assert torch.equal(value, reference.state_dict()[key]), key
    assert len(loaded) == len(reference.state_dict()) - 2  # all but fc.weight / fc.bias


def test_pretrained_default_tag_is_a1_in1k(monkeypatch):
    calls = []
    real = timm.create_model

    def spy(name, pretrained=False, **kwargs):
        calls.append((name, pretrained))
        return real(name, pretrained=False, **kwargs)

    monkeypatch.setattr(timm, "create_model", spy)
    build("d2s-r50", pretrained=True)
    assert calls == [("resnet50", True)]
    assert timm.models.get_pretrained_cfg("resnet50").hf_hub_id == "timm/resnet50.a1_in1k"
    assert timm.models.get_pretrained_cfg("resnet18").hf_hub_id == "timm/resnet18.a1_in1k"


def test_unknown_model_and_pool_are_clear_errors():
    with pytest.raises(KeyError, match="known models"):
        build("d2s-r101")
    with pytest.raises(ValueError, match="pool"):
        D2S(pool="max")

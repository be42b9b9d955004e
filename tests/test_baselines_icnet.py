"""ICNet (Feng et al. 2022): exact parameter budget, shapes, loss, recipe, a few training steps."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from d2s.baselines.icnet import ICNET_RECIPE, SLAM, ICNet, ICNetRecipe, icnet, icnet_lr_lambda
from d2s.cli import main
from d2s.registry import build, count_parameters

ICNET_PARAMS = 20_328_074


@pytest.fixture(scope="module")
def model() -> ICNet:
    torch.manual_seed(0)
    return icnet().eval()


def test_total_parameter_count(model):
    assert count_parameters(model) == ICNET_PARAMS
    assert isinstance(build("icnet"), ICNet)


def test_cli_params_prints_exact_count(capsys):
    assert main(["params", "icnet"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(ICNET_PARAMS)


def test_sub_budgets_of_design_2_1(model):
    n = count_parameters
    assert n(model.detail) == 683_072  # conv1 + bn1 + layer1 + layer2
    assert n(model.context) == 11_176_512  # conv1 … layer4
    gates = [*model.detail_slam, *model.context_slam, model.map_slam, model.score_slam]
    assert len(gates) == 8
    assert [g.spatial_dim for g in gates] == [32, 32, 32, 32, 16, 8, 32, 32]
    assert [n(g) for g in gates] == [525_313] * 4 + [132_097, 33_793] + [525_313] * 2
    assert sum(n(g) for g in gates) == 3_317_768
    assert (n(model.detail_fuse), n(model.context_fuse)) == (33_536, 131_840)
    assert n(model.map_conv) == n(model.score_conv) == 2_360_832
    assert n(model.map_out) == 513
    assert n(model.head) == 263_169
    parts = [model.detail, model.context, *gates, model.detail_fuse, model.context_fuse]
    parts += [model.map_conv, model.score_conv, model.map_out, model.head]
    assert sum(n(p) for p in parts) == ICNET_PARAMS  # nothing outside the itemised budget


def test_branches_stop_where_the_paper_says(model):
    assert hasattr(model.detail, "layer2") and not hasattr(model.detail, "layer3")
    assert hasattr(model.context, "layer4")
    assert not hasattr(model.context, "fc")


def test_shapes_at_512_with_batch_of_one(model):
    x = torch.rand(1, 3, 512, 512)
    with torch.no_grad():
        features = model.forward_features(x)
        score, cmap = model.forward_maps(x)
        plain = model(x)
    assert features.shape == (1, 512, 64, 64)
    assert score.shape == (1,)  # never squeezed to 0-d
    assert cmap.shape == (1, 1, 64, 64)
    assert torch.allclose(plain, score)
    assert 0 < score.item() < 1 and ((cmap > 0) & (cmap < 1)).all()


def test_small_inputs_run_too(model):
    with torch.no_grad():
        score, cmap = model.forward_maps(torch.rand(3, 3, 64, 64))
    assert score.shape == (3,) and cmap.shape == (3, 1, 8, 8)


def test_slam_resizes_only_to_compute_weights_and_gates_the_original_map():
    torch.manual_seed(0)
    gate = SLAM(8).eval()
    x = torch.rand(2, 5, 16, 16)
    with torch.no_grad():
        out = gate(x)
        small = F.interpolate(x, size=(8, 8), mode="bilinear", align_corners=True)
        weight = gate.mlp(small.flatten(2)).unsqueeze(-1)
        assert out.shape == x.shape
        assert torch.allclose(out, x * weight)
        same = torch.rand(2, 5, 8, 8)  # already d×d: no resize
        assert torch.allclose(gate(same), same * gate.mlp(same.flatten(2)).unsqueeze(-1))


@pytest.mark.parametrize("d, h, w", [(32, 12, 12), (32, 6, 6), (16, 3, 3), (8, 1, 1), (32, 5, 7)])
def test_slam_on_a_smaller_map_equals_upsampling_then_the_mlp(d, h, w):
    """The folded first layer (no explicit upsampling) computes the same gate, and the same
    gradients for the map and the weights, as ``F.interpolate`` to d×d followed by the MLP."""
    torch.manual_seed(0)
    gate = SLAM(d).double()
    x = torch.rand(2, 4, h, w, dtype=torch.double, requires_grad=True)
    ours = gate(x)
    upsampled = F.interpolate(x, size=(d, d), mode="bilinear", align_corners=True)
    reference = x * gate.mlp(upsampled.flatten(2)).unsqueeze(-1)
    weights = [gate.mlp[0].weight, gate.mlp[0].bias, x]
    grads = torch.autograd.grad((ours * ours).sum(), weights)
    expected = torch.autograd.grad((reference * reference).sum(), weights)
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_loss_is_0_9_score_mse_plus_0_1_map_mse(model):
    torch.manual_seed(1)
    x, y = torch.rand(3, 3, 64, 64), torch.tensor([0.1, 0.5, 0.9])
    with torch.no_grad():
        score, cmap = model.forward_maps(x)
        parts = model.loss(x, y)
    mse_score = ((score - y) ** 2).mean()
    mse_map = ((cmap.mean(dim=(1, 2, 3)) - y) ** 2).mean()
    assert torch.allclose(parts["mse_score"], mse_score)
    assert torch.allclose(parts["mse_map"], mse_map)
    assert torch.allclose(parts["loss"], 0.9 * mse_score + 0.1 * mse_map)
    assert parts["loss"].ndim == 0


def test_a_few_sgd_steps_lower_the_loss():
    """A smoke test of the objective's gradients (that ICNet learns is tests/test_learning.py):
    eight steps on four images, since one to three steps on two images move the loss by less than
    its step-to-step noise (batch-norm statistics of two images)."""
    torch.manual_seed(0)
    net = icnet().train()
    x, y = torch.rand(4, 3, 64, 64), torch.tensor([0.1, 0.4, 0.6, 0.9])
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for _ in range(8):
        loss = net.loss(x, y)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = net.loss(x, y)["loss"].item()
    assert final < 0.95 * losses[0], (losses, final)


def test_recipe_is_frozen_data():
    r = ICNet.recipe
    assert r is ICNET_RECIPE
    assert (r.optimizer, r.lr, r.momentum, r.weight_decay) == ("sgd", 0.05, 0.9, 1e-3)
    assert (r.warmup_epochs, r.milestones, r.gamma, r.epochs) == (1, (10, 20), 0.2, 30)
    assert (r.batch_size, r.img_size, r.hflip) == (64, 512, True)
    assert (r.score_weight, r.map_weight) == (0.9, 0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.lr = 0.1  # type: ignore[misc]


def test_lr_lambda_hand_computed():
    f = icnet_lr_lambda(ICNetRecipe(), steps_per_epoch=4)
    # Warm-up over the first epoch's 4 iterations, lr = base·i/N from i = 0 (IC9600 code).
    assert [f(i) for i in range(4)] == [0.0, 0.25, 0.5, 0.75]
    assert f(4) == f(39) == 1.0  # epochs 1 … 9
    assert f(40) == pytest.approx(0.2) and f(79) == pytest.approx(0.2)  # epochs 10 … 19
    assert f(80) == pytest.approx(0.04) and f(119) == pytest.approx(0.04)  # epochs 20 … 29
    with pytest.raises(ValueError):
        icnet_lr_lambda(ICNetRecipe(), 0)


def test_lr_lambda_drives_lambdalr():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=ICNET_RECIPE.lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, icnet_lr_lambda(ICNET_RECIPE, 2))
    lrs = []
    for _ in range(44):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:3] == pytest.approx([0.0, 0.025, 0.05])
    assert lrs[19] == pytest.approx(0.05) and lrs[20] == pytest.approx(0.01)
    assert lrs[40] == pytest.approx(0.002)
    assert sched.state_dict()["lr_lambdas"] == [None]  # checkpoint stays weights_only-loadable


def test_pretrained_file_initialises_both_trunks(tmp_path):
    import torchvision

    torch.manual_seed(3)
    reference = torchvision.models.resnet18().state_dict()
    path = tmp_path / "resnet18.pth"
    torch.save(reference, path)
    net = icnet(pretrained=True, pretrained_file=str(path))
    for trunk in (net.detail, net.context):
        for key, value in trunk.state_dict().items():
            assert torch.equal(value, reference[key]), key

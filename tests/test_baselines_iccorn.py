"""ICCORN (Guo et al. 2023, our build): CORN decoding, levels, loss, parameter count, training."""

import pytest
import torch
from coral_pytorch.dataset import corn_label_from_logits
from coral_pytorch.losses import corn_loss

from d2s.baselines.iccorn import ICCORN, corn_levels, corn_score, iccorn
from d2s.cli import main
from d2s.registry import build, count_parameters

ICCORN_PARAMS = 20_362_445  # ICNet 20,328,074 − 513 + (512·68 + 68)
K = 69


@pytest.fixture(scope="module")
def model() -> ICCORN:
    torch.manual_seed(0)
    return iccorn().eval()


def test_parameter_count_and_head(model):
    assert count_parameters(model) == ICCORN_PARAMS
    assert model.head[-1].out_features == K - 1
    assert isinstance(build("iccorn"), ICCORN)
    # Only the score MLP's output layer differs from ICNet.
    assert ICCORN_PARAMS - 20_328_074 == (512 * 68 + 68) - (512 + 1)


def test_cli_params_prints_exact_count(capsys):
    assert main(["params", "iccorn"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(ICCORN_PARAMS)


def test_corn_score_extremes_and_range():
    inf = torch.full((1, K - 1), float("inf"))
    assert corn_score(inf).item() == 1.0
    assert corn_score(-inf).item() == 0.0
    torch.manual_seed(0)
    s = corn_score(10 * torch.randn(500, K - 1))
    assert s.shape == (500,)
    assert ((s >= 0) & (s <= 1)).all()


def test_corn_score_is_monotone_in_every_logit():
    torch.manual_seed(0)
    eye = torch.eye(K - 1)
    for _ in range(5):
        # Logits around +3 keep every cumulative probability visible in float32: strict order.
        base = 3 + torch.randn(1, K - 1)
        s0 = corn_score(base)
        assert (corn_score(base + 0.5 * eye) > s0).all()  # row k: logit k increased
        assert (corn_score(base - 0.5 * eye) < s0).all()
        # Wide logits: a late logit behind a vanishing product may not move the float32 score,
        # but it never moves it the wrong way.
        wide = 4 * torch.randn(1, K - 1)
        assert (corn_score(wide + 2 * eye) >= corn_score(wide)).all()
        assert (corn_score(wide - 2 * eye) <= corn_score(wide)).all()


def test_corn_score_matches_corn_label_when_saturated():
    # Random-sign saturated logits: the level is the index of the first negative logit (CORN's
    # conditional chain stops there), not the number of positive logits.
    torch.manual_seed(0)
    logits = 30.0 * torch.sign(torch.randn(200, K - 1))
    labels = corn_label_from_logits(logits)
    assert torch.allclose(corn_score(logits) * (K - 1), labels.float(), atol=1e-4)
    assert (labels.float() != (logits > 0).sum(1).float()).any()  # the case is discriminating


def test_corn_score_ranks_like_corn_labels():
    # Confident staircase logits for every level ℓ: +16 before ℓ, −16 from ℓ on.
    levels = torch.arange(K)
    logits = torch.where(torch.arange(K - 1)[None, :] < levels[:, None], 16.0, -16.0)
    labels = corn_label_from_logits(logits)
    assert torch.equal(labels, levels)
    scores = corn_score(logits)
    assert (scores.diff() > 0).all()  # same order as the labels
    assert torch.allclose(scores * (K - 1), labels.float(), atol=0.01)
    # Thresholding the decoded cumulative probabilities at 0.5 reproduces coral's label.
    torch.manual_seed(1)
    noisy = 3 * torch.randn(300, K - 1) + 2
    cum = torch.cumprod(torch.sigmoid(noisy), dim=1)
    assert torch.allclose(cum.sum(1) / (K - 1), corn_score(noisy))
    assert torch.equal((cum > 0.5).sum(1), corn_label_from_logits(noisy))


def test_levels_round_and_clamp():
    y = torch.tensor([0.0, 1 / 68, 0.5, 67 / 68, 1.0, 1.2, -0.1, 0.4999 / 68])
    assert corn_levels(y).tolist() == [0, 1, 34, 67, 68, 68, 0, 0]
    assert corn_levels(y).dtype == torch.int64


def test_forward_shapes_batch_of_one(model):
    with torch.no_grad():
        one = model(torch.rand(1, 3, 64, 64))
        score, cmap = model.forward_maps(torch.rand(2, 3, 64, 64))
    assert one.shape == (1,) and score.shape == (2,) and cmap.shape == (2, 1, 8, 8)
    assert ((score >= 0) & (score <= 1)).all()


def test_loss_composition(model):
    torch.manual_seed(2)
    x, y = torch.rand(3, 3, 64, 64), torch.tensor([0.0, 20 / 68, 1.0])
    with torch.no_grad():
        features = model.forward_features(x)
        logits = model.forward_logits(features)
        cmap = model.forward_map(features)
        parts = model.loss(x, y)
    corn = corn_loss(logits, torch.tensor([0, 20, 68]), num_classes=K)
    mse_map = ((cmap.mean(dim=(1, 2, 3)) - y) ** 2).mean()
    assert torch.allclose(parts["corn"], corn)
    assert torch.allclose(parts["mse_map"], mse_map)
    assert torch.allclose(parts["loss"], 0.9 * corn + 0.1 * mse_map)
    assert torch.allclose(parts["mse_score"], ((corn_score(logits) - y) ** 2).mean())
    assert torch.allclose(model(x), corn_score(logits))


def test_a_few_sgd_steps_lower_the_loss():
    torch.manual_seed(0)
    net = iccorn().train()
    x, y = torch.rand(2, 3, 64, 64), torch.tensor([0.1, 0.9])
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    first = None
    for _ in range(3):
        loss = net.loss(x, y)["loss"]
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = net.loss(x, y)["loss"].item()
    assert final < first, (first, final)

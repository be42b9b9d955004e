"""Each loss against a brute-force computation written straight from the paper's equations."""

import math

import numpy as np
import pytest
import torch

from d2s.method.losses import energy_distance, entropy, info_nce, total_loss
from d2s.train.config import TrainConfig


def brute_entropy(row):
    e = [math.exp(v) for v in row]
    p = [v / sum(e) for v in e]
    return -sum(pi * math.log(pi + 1e-8) for pi in p)


def brute_energy_distance(x, y):
    n, m = len(x), len(y)
    cross = sum(abs(a - b) for a in x for b in y) / (n * m)
    within_x = sum(abs(x[i] - x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    within_y = sum(abs(y[i] - y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    return 2 * cross - within_x - within_y


def brute_info_nce(v, t, tau):
    v = [row / np.linalg.norm(row) for row in v]
    t = [row / np.linalg.norm(row) for row in t]
    b = len(v)
    sim = [[float(np.dot(v[i], t[j])) / tau for j in range(b)] for i in range(b)]

    def ce(rows):
        return sum(-rows[i][i] + math.log(sum(math.exp(s) for s in rows[i])) for i in range(b)) / b

    cols = [[sim[j][i] for j in range(b)] for i in range(b)]
    return (ce(sim) + ce(cols)) / 2


def test_entropy_matches_brute_force_and_is_not_normalised():
    torch.manual_seed(0)
    z = torch.randn(5, 3, 17, dtype=torch.float64) * 3
    got = entropy(z)
    assert got.shape == (5, 3)
    for idx in np.ndindex(5, 3):
        assert got[idx].item() == pytest.approx(brute_entropy(z[idx].tolist()), rel=1e-12)
    # scaling the feature changes the entropy: no L2 normalisation inside
    assert not torch.allclose(entropy(z), entropy(2 * z))
    # uniform logits reach log(D)
    assert entropy(torch.zeros(512)).item() == pytest.approx(math.log(512), abs=1e-5)


@pytest.mark.parametrize(("n", "m"), [(2, 2), (7, 5), (31, 40)])
def test_energy_distance_matches_brute_force(n, m):
    gen = torch.Generator().manual_seed(n * 100 + m)
    x = torch.randn(n, generator=gen, dtype=torch.float64)
    y = torch.randn(m, generator=gen, dtype=torch.float64) * 1.5 + 0.3
    assert energy_distance(x, y).item() == pytest.approx(
        brute_energy_distance(x.tolist(), y.tolist()), rel=1e-10, abs=1e-12
    )


def test_energy_distance_with_ties_and_against_scipy_v_statistic():
    from scipy.stats import energy_distance as scipy_energy

    x = torch.tensor([1.0, 1.0, 2.0, 5.0, 5.0], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 1.0, 3.0], dtype=torch.float64)
    ours = energy_distance(x, y).item()
    assert ours == pytest.approx(brute_energy_distance(x.tolist(), y.tolist()), rel=1e-12)
    # scipy's statistic includes the diagonals (V-statistic) and is the square root; the
    # difference to ours is exactly the diagonal correction of the two within-sample terms.
    n, m = len(x), len(y)
    wx = sum(abs(a - b) for a in x.tolist() for b in x.tolist())
    wy = sum(abs(a - b) for a in y.tolist() for b in y.tolist())
    correction = wx / n**2 - wx / (n * (n - 1)) + wy / m**2 - wy / (m * (m - 1))
    assert ours - correction == pytest.approx(scipy_energy(x.numpy(), y.numpy()) ** 2, rel=1e-12)


def test_energy_distance_gradients_match_finite_differences():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(6, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.randn(9, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(energy_distance, (x, y))


def test_energy_distance_rejects_too_few_values():
    with pytest.raises(ValueError, match="at least 2"):
        energy_distance(torch.tensor([1.0]), torch.tensor([1.0, 2.0]))


def test_info_nce_matches_brute_force_symmetric_ce():
    gen = torch.Generator().manual_seed(1)
    v = torch.randn(6, 8, generator=gen, dtype=torch.float64) * 4
    t = torch.randn(6, 8, generator=gen, dtype=torch.float64)
    for tau in (0.07, 1.0):
        expected = brute_info_nce(v.numpy(), t.numpy(), tau)
        assert info_nce(v, t, temperature=tau).item() == pytest.approx(expected, rel=1e-10)
    # the configured temperature is the paper's fixed 0.07
    tau = TrainConfig.temperature
    assert info_nce(v, t, tau).item() == pytest.approx(brute_info_nce(v.numpy(), t.numpy(), 0.07))
    # asymmetric inputs: swapping the modalities gives the same symmetric loss
    assert info_nce(v, t, tau).item() == pytest.approx(info_nce(t, v, tau).item(), rel=1e-12)


def test_info_nce_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        info_nce(torch.randn(4, 8), torch.randn(4, 7), 0.07)


def test_total_loss_is_eq11():
    mse, eal, fal = torch.tensor(0.3), torch.tensor(0.2), torch.tensor(4.0)
    assert total_loss(mse, eal, fal, 5.0, 0.01).item() == pytest.approx(0.3 + 5 * 0.2 + 0.01 * 4.0)
    assert total_loss(mse, eal, fal, 1.0, 0.5).item() == pytest.approx(0.3 + 0.2 + 2.0)

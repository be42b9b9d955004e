"""ICCORN's label-prior bias initialisation decodes to the prior's expected level."""

import torch

from baselines.iccorn import ICCORN, corn_levels, corn_score


def test_label_prior_bias_decodes_to_the_smoothed_label_mean():
    torch.manual_seed(0)
    targets = torch.rand(200) * 0.5 + 0.3
    model = ICCORN(num_levels=69, pretrained=False)
    model.init_label_prior(targets, smoothing=1.0)
    # zero pooled feature contribution: the score is decoded from the biases alone
    score = corn_score(model.head[-1].bias.unsqueeze(0)).item()
    counts = torch.bincount(corn_levels(targets), minlength=69).double() + 1.0
    expected = (torch.arange(69).double() * counts / counts.sum()).sum().item() / 68
    assert abs(score - expected) < 1e-4
    assert score > 0.3  # far from the all-zero-logit start of about 1/68

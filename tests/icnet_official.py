"""The IC9600 authors' ICNet as their checkpoint sees it: module names and forward restated from
their public ``ICNet.py`` (github.com/tinglyfeng/IC9600) for the tests, so that a ``ck.pth`` in
their key layout can be written with random weights and their forward compared with ours.

Only what shapes the state dict and the forward is kept: ``b{1,2}_{k}`` trunk pieces of two
torchvision ResNet-18s, a ``slam`` after each (its MLP in ``linear``; any map not d×d is resized to
d×d first), ``up1``/``up2`` (upsample to 64², 1×1 conv, BN, ReLU), the map head (``to_map_f``,
``to_map_f_slam``, ``to_map.to_map``) and the score head (``to_score_f``, ``to_score_f_slam``,
average pool, ``head``). Input 512² only, as theirs asserts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn


class Gate(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.d = d
        self.linear = nn.Sequential(
            nn.Linear(d * d, 512), nn.ReLU(), nn.Linear(512, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x
        if x.shape[-1] != self.d:
            z = F.interpolate(x, size=(self.d, self.d), mode="bilinear", align_corners=True)
        return x * self.linear(z.flatten(2)).unsqueeze(-1)


class ConvBN(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, up: int | None = None) -> None:
        super().__init__()
        self.up = up
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up is not None:
            x = F.interpolate(x, size=(self.up, self.up), mode="bilinear", align_corners=True)
        return F.relu(self.bn(self.conv(x)))


class MapOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.to_map = nn.Sequential(nn.Conv2d(512, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_map(x)


class AuthorsICNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        for branch in (1, 2):
            parts = list(torchvision.models.resnet18(weights=None).children())
            setattr(self, f"b{branch}_1", nn.Sequential(*parts[:5]))
            for k in range(2, 5 if branch == 2 else 3):
                setattr(self, f"b{branch}_{k}", parts[k + 3])
        for name, d in (("b1_1", 32), ("b1_2", 32), ("b2_1", 32), ("b2_2", 32), ("b2_3", 16)):
            setattr(self, f"{name}_slam", Gate(d))
        self.b2_4_slam = Gate(8)
        self.up1 = ConvBN(128, 256, 1, up=64)
        self.up2 = ConvBN(512, 256, 1, up=64)
        self.to_map_f, self.to_map_f_slam, self.to_map = ConvBN(512, 512, 3), Gate(32), MapOut()
        self.to_score_f, self.to_score_f_slam = ConvBN(512, 512, 3), Gate(32)
        self.head = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 1), nn.Sigmoid())

    def forward(self, x1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert x1.shape[-2:] == (512, 512)
        x2 = F.interpolate(x1, size=(256, 256), mode="bilinear", align_corners=True)
        x1 = self.b1_2_slam(self.b1_2(self.b1_1_slam(self.b1_1(x1))))
        for k in range(1, 5):
            x2 = getattr(self, f"b2_{k}_slam")(getattr(self, f"b2_{k}")(x2))
        cat = torch.cat([self.up1(x1), self.up2(x2)], dim=1)
        cmap = self.to_map(self.to_map_f_slam(self.to_map_f(cat)))
        pooled = self.to_score_f_slam(self.to_score_f(cat)).mean(dim=(2, 3))
        return self.head(pooled).reshape(-1), cmap


def randomised(seed: int = 0) -> AuthorsICNet:
    """Random weights and non-trivial BN statistics (so a mis-mapped BN buffer shows)."""
    torch.manual_seed(seed)
    model = AuthorsICNet()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
    return model.eval()

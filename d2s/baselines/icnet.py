"""ICNet, the IC9600 baseline (Feng et al., "IC9600: A Benchmark Dataset for Automatic Image
Complexity Assessment", TPAMI 2022).

Architecture facts (the paper's Sec. 4 and its public reference code, read for facts only; this is
an independent implementation):

- two ImageNet-initialised ResNet-18 trunks: a *detail* branch on the 512² image through ``layer2``
  and a *context* branch on the image resized to 256² (bilinear, aligned corners) through
  ``layer4``;
- eight "spatial layout attention modules" (SLAM, :class:`SLAM`): one channel gate after every used
  ResNet stage of both branches (spatial sizes 32, 32 | 32, 32, 16, 8) and one in each head (32);
- fusion: both branch outputs are upsampled to 64² (= input / 8), projected by a 1×1 conv + BN +
  ReLU to 256 channels each and concatenated (512 × 64 × 64);
- map head: 3×3 conv + BN + ReLU → SLAM → 1×1 conv → sigmoid: a 1 × 64 × 64 complexity map;
- score head: 3×3 conv + BN + ReLU → SLAM → global average pool → MLP 512→512→1 → sigmoid;
- loss ``0.9·MSE(score, y) + 0.1·MSE(mean(map), y)``;
- 20,328,074 parameters (the budget is itemised in ``docs/design.md`` §2.1 and checked by the tests);
- recipe (:class:`ICNetRecipe`): SGD (momentum 0.9, weight decay 1e-3, lr 0.05), one epoch of
  linear warm-up, lr ×0.2 at epochs 10 and 20, 30 epochs, batch 64, 512² resize, horizontal flip.

Unlike the reference code, the score is never squeezed to a 0-d tensor when the batch holds one
image, and the input size is not asserted: the context branch sees the input scaled by
``context_scale`` (0.5: 512² → 256²) and the fusion size is the detail branch's ``layer2`` size
(input / 8: 64² at 512²), so small inputs (e.g. 64²) run too — useful for tests and CPU demos.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

__all__ = [
    "ICNET_RECIPE",
    "ICNet",
    "ICNetRecipe",
    "SLAM",
    "icnet",
    "icnet_lr_lambda",
]


# --------------------------------------------------------------------------------------------
# Training recipe (Feng et al. 2022, Sec. 5.1 "Implementation details")
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ICNetRecipe:
    """ICNet's published training recipe, as data for the training engine.

    ``milestones`` are 0-based epoch indices: epochs ``0..9`` run at ``lr`` (after the warm-up),
    ``10..19`` at ``lr·gamma``, ``20..29`` at ``lr·gamma²`` — what ``MultiStepLR(milestones=(10,
    20))`` stepped once per epoch gives. ``score_weight``/``map_weight`` weigh the two MSE terms of
    :meth:`ICNet.loss`. ``lr``, ``batch_size``, ``epochs``, ``weight_decay``, ``img_size`` and
    ``hflip`` are the ``icnet`` recipe's training defaults (``d2s.train.recipes.RECIPES``),
    ``momentum``, ``warmup_epochs``, ``milestones`` and ``gamma`` the engine's SGD and schedule.
    """

    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-3
    warmup_epochs: int = 1
    milestones: tuple[int, ...] = (10, 20)
    gamma: float = 0.2
    epochs: int = 30
    batch_size: int = 64
    img_size: int = 512
    hflip: bool = True
    score_weight: float = 0.9
    map_weight: float = 0.1


#: The recipe of Feng et al. 2022 (also used for ICCORN, whose paper publishes no recipe of its own).
ICNET_RECIPE = ICNetRecipe()


def icnet_lr_lambda(recipe: ICNetRecipe, steps_per_epoch: int) -> Callable[[int], float]:
    """Per-iteration lr multiplier for ``torch.optim.lr_scheduler.LambdaLR``.

    Call ``scheduler.step()`` after every optimiser step. Iteration ``i`` (0-based, the value
    ``LambdaLR`` passes) of the first ``warmup_epochs · steps_per_epoch`` iterations gets
    ``i / warmup_iters``, as the IC9600 code sets ``lr = base · i / N`` (so the very first
    iteration runs at lr 0); afterwards epoch ``e = i // steps_per_epoch`` gets ``gamma ** #{m : e >= m}``.

    The result is a plain closure on purpose: ``LambdaLR.state_dict()`` stores ``None`` for it, so
    checkpoints stay loadable with ``torch.load(..., weights_only=True)``; rebuild the scheduler
    with this function and load its state to resume.
    """
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    warmup_iters = recipe.warmup_epochs * steps_per_epoch
    milestones = tuple(recipe.milestones)
    gamma = recipe.gamma

    def lr_lambda(step: int) -> float:
        if step < warmup_iters:
            return step / warmup_iters
        epoch = step // steps_per_epoch
        return gamma ** sum(epoch >= m for m in milestones)

    return lr_lambda


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def _resize_matrix(size: int, out: int, like: torch.Tensor) -> torch.Tensor:
    """``(out, size)`` matrix of 1-D linear resizing with aligned corners, taken from
    ``F.interpolate`` itself (the resized identity), so it matches ``mode="bilinear"`` per axis."""
    eye = torch.eye(size, dtype=like.dtype, device=like.device)[None]  # (1, size, size)
    return F.interpolate(eye, size=out, mode="linear", align_corners=True)[0].T


class SLAM(nn.Module):
    """Spatial layout attention module: one sigmoid weight per channel (Feng et al. 2022).

    The ``C×h×w`` map is resized to ``d×d`` (bilinear, aligned corners) unless it already has that
    size, each channel's ``d²`` values go through a shared MLP ``d² → hidden → 1`` + sigmoid, and
    the *original* map is multiplied by the resulting per-channel weight. Parameters:
    ``d²·hidden + hidden + hidden + 1`` (525,313 for d = 32).
    """

    def __init__(self, spatial_dim: int, hidden: int = 512) -> None:
        super().__init__()
        self.spatial_dim = spatial_dim
        self.mlp = nn.Sequential(
            nn.Linear(spatial_dim * spatial_dim, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.spatial_dim
        h, w = x.shape[-2:]
        if (h, w) == (d, d):
            weight = self.mlp(x.flatten(2))  # (B, C, 1)
        elif h * w < d * d:
            weight = self.mlp[1:](self._upsampled_first_layer(x))
        else:
            z = F.interpolate(x, size=(d, d), mode="bilinear", align_corners=True)
            weight = self.mlp(z.flatten(2))
        return x * weight.unsqueeze(-1)

    def _upsampled_first_layer(self, x: torch.Tensor) -> torch.Tensor:
        """The first layer applied to the ``d×d`` upsampling of a smaller ``h×w`` map, computed
        on the map itself: ``(B, C, h, w) → (B, C, hidden)``.

        Bilinear resizing is linear and separable, ``Z = A_h X A_wᵀ`` with ``A_h`` ``(d, h)``, so
        ``W·vec(Z) = W'·vec(X)`` with ``W'[k, i, j] = Σ_yx W[k, y, x] A_h[y, i] A_w[x, j]``: the
        same function (equal up to float rounding; tested), with ``h·w`` instead of ``d²`` inputs
        per channel. Small inputs (the demo's 48 px: 12×12 and smaller maps gated at 32×32) spend
        most of ICNet's time upsampling and in this layer otherwise. At the paper's 512² no gate
        upsamples, so that path is unchanged.
        """
        d, (h, w) = self.spatial_dim, x.shape[-2:]
        first = self.mlp[0]
        a_h = _resize_matrix(h, d, x)  # (d, h)
        a_w = _resize_matrix(w, d, x)  # (d, w)
        folded = torch.einsum("kyx,yi->kix", first.weight.view(-1, d, d), a_h)
        folded = torch.einsum("kix,xj->kij", folded, a_w).flatten(1)  # (hidden, h·w)
        return F.linear(x.flatten(2), folded, first.bias)


class _ResNet18Trunk(nn.Module):
    """A torchvision ResNet-18 up to ``layer{depth}`` (no pooling, no classifier).

    Attribute names follow torchvision (``conv1``, ``bn1``, ``layer1`` …), so a torchvision
    ResNet-18 state dict loads with ``strict=False`` (the unused stages are ignored).
    """

    def __init__(self, depth: int, pretrained: bool = False, pretrained_file: str | None = None):
        super().__init__()
        weights = None
        if pretrained and not pretrained_file:
            # The authors used torchvision's original ImageNet weights (``pretrained=True``).
            weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
        net = torchvision.models.resnet18(weights=weights)
        if pretrained and pretrained_file:
            net.load_state_dict(torch.load(pretrained_file, map_location="cpu", weights_only=True))
        # where the weights came from, recorded by every run (metrics.json ``loaded``)
        self.weights_source = (
            "random"
            if not pretrained
            else f"file:{pretrained_file}"
            if pretrained_file
            else f"torchvision:{weights.url}"
        )
        self.depth = depth
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        for i in range(1, depth + 1):
            setattr(self, f"layer{i}", getattr(net, f"layer{i}"))

    def stages(self) -> list[nn.Module]:
        return [getattr(self, f"layer{i}") for i in range(1, self.depth + 1)]


class _ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel_size: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size, padding=kernel_size // 2, bias=True),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


# --------------------------------------------------------------------------------------------
# ICNet
# --------------------------------------------------------------------------------------------


class ICNet(nn.Module):
    """ICNet image-complexity regressor (Feng et al. 2022).

    Args:
        pretrained: initialise both ResNet-18 trunks with torchvision's ImageNet weights
            (``IMAGENET1K_V1``, as the authors did). Needs the torch hub cache or network unless
            ``pretrained_file`` is given.
        pretrained_file: local torchvision ResNet-18 state dict used for both trunks when
            ``pretrained`` is set (for machines without hub access).
        context_scale: size of the context branch's input relative to the image (0.5: 512² →
            256²).
        slam_hidden: hidden width of every SLAM MLP (512).
        fuse_channels: channels of each branch after fusion (256; concatenated: 512).
        head_hidden: hidden width of the score MLP (512).
    """

    #: Training recipe of the paper; the engine reads it from the model class.
    recipe: ICNetRecipe = ICNET_RECIPE

    def __init__(
        self,
        pretrained: bool = False,
        pretrained_file: str | None = None,
        context_scale: float = 0.5,
        slam_hidden: int = 512,
        fuse_channels: int = 256,
        head_hidden: int = 512,
    ) -> None:
        super().__init__()
        self.context_scale = context_scale
        # Detail branch: conv1 … layer2 on the full-size image; SLAM after layer1 and layer2.
        self.detail = _ResNet18Trunk(2, pretrained, pretrained_file)
        self.detail_slam = nn.ModuleList([SLAM(32, slam_hidden), SLAM(32, slam_hidden)])
        # Context branch: conv1 … layer4 on the half-size image; SLAM after every stage.
        self.context = _ResNet18Trunk(4, pretrained, pretrained_file)
        self.context_slam = nn.ModuleList([SLAM(d, slam_hidden) for d in (32, 32, 16, 8)])
        # Fusion: upsample to the detail layer2 size, 1×1 conv + BN + ReLU, concatenate.
        self.detail_fuse = _ConvBNReLU(128, fuse_channels, 1)
        self.context_fuse = _ConvBNReLU(512, fuse_channels, 1)
        self.num_features = 2 * fuse_channels
        # Map head.
        self.map_conv = _ConvBNReLU(self.num_features, self.num_features, 3)
        self.map_slam = SLAM(32, slam_hidden)
        self.map_out = nn.Sequential(nn.Conv2d(self.num_features, 1, 1, bias=True), nn.Sigmoid())
        # Score head.
        self.score_conv = _ConvBNReLU(self.num_features, self.num_features, 3)
        self.score_slam = SLAM(32, slam_hidden)
        self.head = self._make_head(head_hidden)

    def _make_head(self, hidden: int) -> nn.Module:
        """Score MLP on the pooled feature: ``512 → 512 → 1 → sigmoid``."""
        return nn.Sequential(
            nn.Linear(self.num_features, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, 1),
            nn.Sigmoid(),
        )

    # ---- features ------------------------------------------------------------------------

    @staticmethod
    def _run_branch(trunk: _ResNet18Trunk, gates: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        x = trunk.maxpool(trunk.relu(trunk.bn1(trunk.conv1(x))))
        for stage, gate in zip(trunk.stages(), gates, strict=True):
            x = gate(stage(x))
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` image → fused map ``(B, 512, H/8, W/8)`` (512 × 64 × 64 at 512²)."""
        # int(): under torch.jit.trace (d2s export) sizes are tensors; the export is fixed-size
        h, w = (int(n) for n in x.shape[-2:])
        context_size = (round(h * self.context_scale), round(w * self.context_scale))
        x_context = F.interpolate(x, size=context_size, mode="bilinear", align_corners=True)
        detail = self._run_branch(self.detail, self.detail_slam, x)
        context = self._run_branch(self.context, self.context_slam, x_context)
        size = detail.shape[-2:]
        # Upsampling the detail map to its own size is the identity: skip it.
        context = F.interpolate(context, size=size, mode="bilinear", align_corners=True)
        return torch.cat([self.detail_fuse(detail), self.context_fuse(context)], dim=1)

    # ---- heads ---------------------------------------------------------------------------

    def forward_map(self, features: torch.Tensor) -> torch.Tensor:
        """Fused map → complexity map ``(B, 1, H/8, W/8)`` in [0, 1]."""
        return self.map_out(self.map_slam(self.map_conv(features)))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Fused map → pooled feature ``(B, 512)`` if ``pre_logits`` else score ``(B,)``."""
        pooled = self.score_slam(self.score_conv(features)).mean(dim=(2, 3))
        if pre_logits:
            return pooled
        # The reference code calls ``.squeeze()`` here, which makes a 0-d tensor for B = 1; we
        # keep the batch dimension: ``(B, 1) → (B,)``.
        return self.head(pooled).squeeze(-1)

    def forward_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image → ``(score (B,), map (B, 1, H/8, W/8))``; the map is 64 × 64 at 512²."""
        features = self.forward_features(x)
        return self.forward_head(features), self.forward_map(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Complexity score in [0, 1], shape ``(B,)`` (also for B = 1). The map head is skipped."""
        return self.forward_head(self.forward_features(x))

    # ---- objective -----------------------------------------------------------------------

    def loss(self, images: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """ICNet's objective: ``0.9·MSE(score, y) + 0.1·MSE(mean(map), y)``.

        Returns scalars ``{"loss", "mse_score", "mse_map"}``; only ``loss`` is to be
        back-propagated, the parts are for logging. Computed in float32 (safe under autocast).
        """
        score, cmap = self.forward_maps(images)
        y = targets.reshape(-1).float()
        mse_score = F.mse_loss(score.float(), y)
        mse_map = F.mse_loss(cmap.float().mean(dim=(1, 2, 3)), y)
        loss = self.recipe.score_weight * mse_score + self.recipe.map_weight * mse_map
        return {"loss": loss, "mse_score": mse_score, "mse_map": mse_map}


def icnet(pretrained: bool = False, **kwargs) -> ICNet:
    """ICNet (Feng et al. 2022): 20,328,074 parameters; see :class:`ICNet` for ``kwargs``."""
    return ICNet(pretrained=pretrained, **kwargs)


# --------------------------------------------------------------------------------------------
# The authors' checkpoint layout
# --------------------------------------------------------------------------------------------

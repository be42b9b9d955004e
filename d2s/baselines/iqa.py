"""HyperIQA and TOPIQ, built from pyiqa's architectures (Table 1 parameter and latency columns).

pyiqa (``pip install pyiqa``) is used strictly as a dependency — its licence is non-commercial —
and imported lazily inside the factories because importing it takes several seconds.

- :func:`hyperiqa`: HyperIQA (Su et al., "Blindly Assess Image Quality in the Wild Guided by a
  Self-Adaptive Hyper Network", CVPR 2020) as ``pyiqa.archs.hypernet_arch.HyperNet``: ResNet-50
  backbone, hyper network generating the target network's weights; 27,375,369 parameters.
  Expected input: **224 × 224** (the architecture is tied to a 7 × 7 last feature map). In
  training mode it takes 224² patches; in eval mode it averages ``num_crop`` uniform 224² crops of
  an image of at least 224² (pyiqa's default ``num_crop=25``, the paper's test protocol; pass
  ``num_crop=1`` for a single-pass latency). Output ``(B, 1, 1)`` in eval mode, ``(B, 1)`` in
  training mode (pyiqa's shapes).
- :func:`topiq`: TOPIQ-NR (Chen et al., "TOPIQ: A Top-down Approach from Semantics to Distortions
  for Image Quality Assessment", IEEE TIP 2024) as ``pyiqa.archs.topiq_arch.CFANet`` in
  no-reference mode with a ResNet-50 backbone (pyiqa's ``topiq_nr`` configuration); 45,196,934
  parameters. Any input size works; we use **384 × 384** (the NR-IQA setting of the paper's
  tables). Output ``(B, 1)``.

Offline builds: pyiqa's HyperNet calls ``timm.create_model(..., pretrained=True)`` for its
backbone regardless of its own ``pretrained`` flag, so with ``pretrained=False`` we build it inside
:func:`timm_pretrained_disabled`, which forces ``pretrained=False`` on ``timm.create_model`` for
the duration of that call only. CFANet is offline with ``pretrained=False,
backbone_pretrain=False``. With ``pretrained=True`` both follow pyiqa's normal download path.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from torch import nn

__all__ = ["hyperiqa", "timm_pretrained_disabled", "topiq"]

_PATCH_LOCK = threading.Lock()

#: pyiqa's ``topiq_nr`` metric options (``pyiqa.default_model_configs``).
_TOPIQ_NR = dict(semantic_model_name="resnet50", model_name="cfanet_nr_koniq_res50", use_ref=False)


@contextlib.contextmanager
def timm_pretrained_disabled() -> Iterator[None]:
    """Make ``timm.create_model`` ignore ``pretrained=True`` (build with random weights) inside.

    Patches the ``timm.create_model`` attribute, which callers such as pyiqa look up at call
    time, and restores it on exit; a lock keeps concurrent uses from interleaving.
    """
    import timm

    original = timm.create_model

    def create_model(model_name, *args, **kwargs):
        if args:  # ``pretrained`` is timm's second positional parameter
            args = (False, *args[1:])
        else:
            kwargs["pretrained"] = False
        return original(model_name, *args, **kwargs)

    with _PATCH_LOCK:
        timm.create_model = create_model
        try:
            yield
        finally:
            timm.create_model = original


def hyperiqa(pretrained: bool = False, **kwargs) -> nn.Module:
    """HyperIQA (Su et al. 2020) via pyiqa's ``HyperNet``; 27,375,369 parameters; input 224².

    ``pretrained=False`` builds offline with random weights (backbone included);
    ``pretrained=True`` loads pyiqa's released HyperIQA weights (network needed). ``kwargs`` go to
    ``HyperNet`` (e.g. ``num_crop``).
    """
    from pyiqa.archs.hypernet_arch import HyperNet

    if pretrained:
        return HyperNet(pretrained=True, **kwargs)
    with timm_pretrained_disabled():
        return HyperNet(pretrained=False, **kwargs)


def topiq(pretrained: bool = False, **kwargs) -> nn.Module:
    """TOPIQ-NR (Chen et al. 2024) via pyiqa's ``CFANet`` (ResNet-50); 45,196,934 parameters.

    Input 384² in our benchmarks (any size works). ``pretrained=False`` builds offline with
    random weights (``backbone_pretrain=False`` too); ``pretrained=True`` loads the backbone's
    ImageNet weights and pyiqa's KonIQ-trained checkpoint (network needed). ``kwargs`` override
    pyiqa's ``topiq_nr`` options.
    """
    from pyiqa.archs.topiq_arch import CFANet

    options = {**_TOPIQ_NR, "pretrained": pretrained, "backbone_pretrain": pretrained, **kwargs}
    return CFANet(**options)

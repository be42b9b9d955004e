"""What the latency suite times and how: the rows (the paper's, :mod:`d2s.paper.models`), building
each one, and the runtime a measurement depends on.

Latency (docs/design.md §4) is the per-image forward time of the inference model at its training
resolution: batch 1, eval mode, ``torch.inference_mode()``, median over the benchmark rounds.
:mod:`d2s.ops.bench` turns the measurements into Table 1's columns.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from d2s.paper.models import LATENCY_ROWS, LatencySpec, table1_models

if TYPE_CHECKING:  # heavy imports stay inside the functions
    import torch
    from torch import nn

__all__ = [
    "LATENCY_SPECS",
    "LatencyModel",
    "LatencySpec",
    "TABLE1_MODELS",
    "build_latency_model",
    "device_name",
    "runtime_info",
]


#: Every row the latency suite times, in table order (Table 1's models, then the trunks).
LATENCY_SPECS: dict[str, LatencySpec] = {row.name: row for row in LATENCY_ROWS}

#: The Table 1 rows the table needs by default.
TABLE1_MODELS: tuple[str, ...] = table1_models()


@dataclass
class LatencyModel:
    """A built model ready to time: ``call(x)`` runs the timed forward."""

    spec: LatencySpec
    module: nn.Module
    call: Callable[[torch.Tensor], Any]
    params: int


def build_latency_model(name: str, device: str | torch.device = "cpu") -> LatencyModel:
    """Build ``name`` (a :data:`LATENCY_SPECS` key) with random weights, in eval mode on ``device``.

    Parameters are counted with :func:`d2s.registry.count_parameters` on the model as built.
    """
    import timm

    from d2s.registry import build, count_parameters

    if name not in LATENCY_SPECS:
        raise KeyError(f"unknown latency model {name!r}; known: {', '.join(LATENCY_SPECS)}")
    spec = LATENCY_SPECS[name]
    kwargs = dict(spec.build_kwargs)
    if spec.build is None:
        module = timm.create_model(
            kwargs["arch"], pretrained=False, features_only=True, out_indices=(-1,)
        )

        def call(x):
            return module(x)[-1]

    else:
        module = build(spec.build, pretrained=False, **kwargs)
        call = getattr(module, spec.forward)
    module = module.eval().to(device)
    return LatencyModel(spec, module, call, count_parameters(module))


def device_name(device: str | torch.device) -> str:
    """Human-readable name of the device: the GPU's name, or the CPU's model name."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def runtime_info(device: str | torch.device) -> dict[str, Any]:
    """What the results depend on: device type and name, torch threads, torch version."""
    import torch

    device = torch.device(device)
    return {
        "device": device.type,
        "device_name": device_name(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
    }

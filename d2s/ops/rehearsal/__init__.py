"""The paper path rehearsed offline (docs/rehearsal.md): hub-shaped files with random weights under
the exact ids and file names the paper configuration loads, real-shaped datasets, and the check
that the rehearsal ran every rule of the paper's workflow.

- :mod:`d2s.ops.rehearsal.hub`: the Hugging Face cache (``HF_HOME``) and torch hub folder
  (``TORCH_HOME``) for timm's ResNets, open_clip's ViT-B-32 and torchvision's ResNet-18;
- :mod:`d2s.ops.rehearsal.data`: IC9600 in its official layout, Nagle4k / VISC-C / VISC-CI in theirs;
- :mod:`d2s.ops.rehearsal.coverage`: every rule of the paper DAG ran; every run recorded what it loaded.
"""

from __future__ import annotations


class RehearsalError(Exception):
    """A rehearsal input or check that failed; the message names the file (CLI: one line, exit 2)."""

"""Baselines for the paper's tables: ICNet, ICCORN, and wrappers around pyiqa's HyperIQA and TOPIQ.

- :mod:`d2s.baselines.icnet`: ICNet (Feng et al. 2022, IC9600), 20,328,074 parameters, with its SGD
  recipe (:class:`~d2s.baselines.icnet.ICNetRecipe`) and per-iteration lr schedule.
- :mod:`d2s.baselines.iccorn`: ICCORN (Guo et al., PRCV 2023): the ICNet trunk with a CORN ordinal
  head of 68 logits (69 levels), 20,362,445 parameters (the paper's 22.31M is not reproducible
  from public information).
- :mod:`d2s.baselines.iqa`: HyperIQA (Su et al. 2020; 27,375,369) and TOPIQ-NR (Chen et al. 2024;
  45,196,934) built offline from pyiqa's architectures; pyiqa is a dependency only.

Each module exposes a factory ``name(pretrained=False, **kw)`` used by ``d2s.registry.build``;
nothing here is imported by building a D2S model.
"""

"""Datasets of the D2S suite: loaders for the official layouts, splits, acquisition, the demo.

Public entry points::

    from d2s.data import Item, DatasetError, load_items
    items = load_items("ic9600", root, "train")           # official split
    items = load_items("ic9600", root, "val", split_dir)  # a split file written by d2s data splits

The torch datasets are in :mod:`d2s.data.torch_dataset` (this package imports no torch, so
``d2s data inspect`` stays fast).
"""

from __future__ import annotations

from d2s.data.records import DatasetError, Item
from d2s.data.registry import DATASETS, DatasetSpec, get_spec, load_items

__all__ = ["DATASETS", "DatasetError", "DatasetSpec", "Item", "get_spec", "load_items"]

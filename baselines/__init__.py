"""Baselines for the paper's tables: ICNet, ICCORN, and wrappers around pyiqa's HyperIQA and TOPIQ."""

"""Training and evaluation engine for every model of the paper's tables."""

from .config import ConfigError, TrainConfig, load_config, parse_overrides
from .engine import Run, train

__all__ = ["ConfigError", "Run", "TrainConfig", "load_config", "parse_overrides", "train"]

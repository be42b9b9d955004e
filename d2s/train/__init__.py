"""Training and evaluation of every model of the paper's tables (docs/architecture.md).

:func:`d2s.train.config_file.load_config` reads a config; :func:`d2s.train.engine.train` runs it.
"""

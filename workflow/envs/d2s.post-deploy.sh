#!/usr/bin/env bash
# Runs once, inside the new env, from the workflow's working directory (the checkout): the suite
# and every dependency of its jobs (pyproject.toml's extras, as environment.yml installs them).
set -euo pipefail
pip install --quiet -e ".[dev]" "setuptools<81"

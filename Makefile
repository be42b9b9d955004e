# Two commands for a new user (see README):
#   make demo   run the main job on the embedded demo data (offline, CPU)
#   make test   run the test suite
# Both create .venv/ on first use and skip whatever is already installed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# torch/torchvision pins for the reference machine. On aarch64 the only importable pair is older.
ARCH := $(shell uname -m)
ifeq ($(ARCH),aarch64)
TORCH_PINS ?= torch==2.9.1 torchvision==0.24.1
else
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
endif

export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: setup demo test lint format clean-venv gpu-check rehearsal rehearsal-ci

setup: $(VENV)/.installed

$(VENV)/.torch:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip "setuptools<81" wheel
	$(BIN)/pip install --quiet $(TORCH_PINS)
	touch $@

# Re-installs the project (not torch) only when its metadata changes.
$(VENV)/.installed: $(VENV)/.torch pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]" $(TORCH_PINS) "setuptools<81"
	touch $@

# The whole workflow on the demo configuration (outputs under results/demo/, labelled demo).
demo: setup
	$(BIN)/snakemake --cores 2 --rerun-incomplete --keep-going --configfile workflow/config/demo.yaml -- results/demo/all figures/demo/all

# The paper configuration rehearsed offline (README "Rehearsal", docs/rehearsal.md): hub-shaped
# weight files with random values and small real-shaped datasets under rehearsal/, then the paper
# DAG with workflow/config/rehearsal.yaml (counts and paths only), its report, and the check that
# every rule of the paper DAG ran and every run loaded the hub files. Outputs: results/rehearsal/,
# figures/rehearsal/. `make rehearsal DEVICE=cuda` runs it on a GPU (default: device auto).
REHEARSAL := rehearsal
REHEARSAL_DEVICE = $(if $(filter command line environment,$(origin DEVICE)),$(DEVICE),auto)
REHEARSAL_CONFIG = workflow/config/rehearsal.yaml $(REHEARSAL)/device.yaml
REHEARSAL_TARGETS ?= results/rehearsal/all figures/rehearsal/all
REHEARSAL_ENV = HF_HOME=$(CURDIR)/$(REHEARSAL)/hub/hf TORCH_HOME=$(CURDIR)/$(REHEARSAL)/hub/torch \
	D2S_MIRROR=$(CURDIR)/$(REHEARSAL)/hub/mirror
$(REHEARSAL)/hub/.done: | setup
	$(BIN)/python -m d2s rehearse hub $(REHEARSAL)/hub
	touch $@
$(REHEARSAL)/data/.done: | setup
	$(BIN)/python -m d2s rehearse data $(REHEARSAL)/data
	touch $@
$(REHEARSAL)/data-ci/.done: | setup
	$(BIN)/python -m d2s rehearse data $(REHEARSAL)/data-ci --train 8 --test 4 --user 4
	touch $@
# Training keeps `auto` (outside a paper run it falls back to the CPU); `d2s caption --device auto`
# refuses the CPU, so the rehearsal names the device it captions on.
REHEARSAL_CAPTION_DEVICE = $(if $(filter auto,$(REHEARSAL_DEVICE)),$$($(BIN)/python -c \
	"import torch; print('cuda' if torch.cuda.is_available() else 'cpu')"),$(REHEARSAL_DEVICE))
REHEARSAL_DEVICE_FILE = printf 'training: {device: %s}\ncaptions: {device: %s}\n' \
	$(REHEARSAL_DEVICE) $(REHEARSAL_CAPTION_DEVICE) > $(REHEARSAL)/device.yaml
REHEARSAL_DEVICE_CHECK = $(if $(filter auto,$(REHEARSAL_DEVICE)),,--device $(REHEARSAL_DEVICE))
rehearsal: setup $(REHEARSAL)/hub/.done $(REHEARSAL)/data/.done
	$(REHEARSAL_DEVICE_FILE)
	$(REHEARSAL_ENV) $(BIN)/snakemake --cores 2 --rerun-incomplete --show-failed-logs \
		--configfile $(REHEARSAL_CONFIG) -- $(REHEARSAL_TARGETS)
	$(REHEARSAL_ENV) $(BIN)/snakemake --cores 2 --configfile $(REHEARSAL_CONFIG) \
		--report results/rehearsal/report.html -- $(REHEARSAL_TARGETS)
	$(REHEARSAL_ENV) $(BIN)/python -m d2s rehearse check --results results/rehearsal \
		$(foreach f,$(REHEARSAL_CONFIG),--configfile $(f)) $(REHEARSAL_DEVICE_CHECK)

# CI's reduced rehearsal (.ci/run): Table 1, one seed, on the paper path (results/rehearsal-ci/).
rehearsal-ci: setup $(REHEARSAL)/hub/.done $(REHEARSAL)/data-ci/.done
	$(REHEARSAL_DEVICE_FILE)
	$(REHEARSAL_ENV) $(BIN)/snakemake --cores 2 --rerun-incomplete --show-failed-logs \
		--configfile $(REHEARSAL_CONFIG) workflow/config/rehearsal-ci.yaml \
		-- results/rehearsal-ci/table1.csv
	$(REHEARSAL_ENV) $(BIN)/python -m d2s rehearse check --runs-only \
		--results results/rehearsal-ci $(REHEARSAL_DEVICE_CHECK)

# The GPU check (d2s/ops/gpu_check.py, about 5 minutes on one GPU): results/benchmarks/gpu_check.json
# and .md. `make gpu-check DEVICE=cpu` runs it tiny on the CPU.
DEVICE ?= cuda
gpu-check: setup
	$(BIN)/python -m d2s bench gpu --device $(DEVICE)

test: setup
	$(BIN)/pytest -n 2

# Style, and the package's layers: each imports only the ones below it (docs/architecture.md).
# `snakemake --lint` (the Snakemake catalog's conventions: a log and a conda env per rule, no
# absolute paths, params instead of inline code) under every config of docs/workflow.md.
WF := workflow/config
LINT_CONFIGS := "$(WF)/config.yaml" "$(WF)/demo.yaml" "$(WF)/demo.yaml $(WF)/ci.yaml" \
	"$(WF)/demo.yaml .test/config/config.yaml" "$(WF)/rehearsal.yaml" \
	"$(WF)/rehearsal.yaml $(WF)/rehearsal-ci.yaml"
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	@if [ -f Snakefile ]; then $(BIN)/snakefmt --check Snakefile workflow; fi
	@if [ -f Snakefile ]; then for configs in $(LINT_CONFIGS); do \
		echo "snakemake --lint --configfile $$configs"; \
		$(BIN)/snakemake --lint --configfile $$configs || exit 1; done; fi

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	@if [ -f Snakefile ]; then $(BIN)/snakefmt Snakefile workflow; fi

clean-venv:
	rm -rf $(VENV)

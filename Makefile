# posterqa — one-machine setup. `make demo` and `make test` work on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build of torch for tests (the RefineAnything backend's tests run tiny models on CPU).
# On a GPU worker install the CUDA build instead: pip install -e '.[refineanything]'.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup setup-dev system-deps demo test lint bench-all clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# light install: everything the demo needs (CPU compositor, OCR, S3, DB, Prefect)
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

# test install: + torch CPU / diffusers / transformers / peft and the test tools
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q '$(TORCH_SPEC)'
	$(BIN)/python -m pip install -q -e '.[refineanything,dev]'
	touch $(VENV)/.installed-base $@

setup: $(VENV)/.installed-base
setup-dev: $(VENV)/.installed-dev

# Debian's Chromium for the dashboard's browser tests (playwright cannot download one here).
system-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "note: /usr/bin/chromium missing and not root: browser tests will be skipped"; fi; \
	fi

demo: $(VENV)/.installed-base
	$(BIN)/posterqa demo

test: system-deps $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

clean:
	rm -rf .posterqa bench-out test-artifacts

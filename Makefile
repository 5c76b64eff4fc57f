# posterqa — one-machine setup. `make demo` and `make test` work on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The dev lock holds the CPU build of torch (the RefineAnything backend's tests run tiny
# models on CPU). On a GPU worker install the CUDA build instead: pip install -e '.[refineanything]'.
# Every install comes from the hashed locks in requirements/ (refresh: make lock), so a
# fresh clone gets the versions that were tested whatever appears upstream.
PIP_VERSION ?= 26.3
LOCK_BASE := requirements/lock-base.txt
LOCK_DEV := requirements/lock-dev.txt
PIP_LOCKED = $(BIN)/python -m pip install -q --require-hashes --no-deps
EDITABLE = $(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .

.PHONY: setup setup-dev system-deps demo test lint lock bench-all clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q 'pip==$(PIP_VERSION)'

# light install: everything the demo needs (CPU compositor, OCR, S3, DB, Prefect)
$(VENV)/.installed-base: pyproject.toml $(LOCK_BASE) | $(BIN)/python
	$(PIP_LOCKED) -r $(LOCK_BASE)
	$(EDITABLE)
	$(BIN)/python -m pip check
	touch $@

# test install: + torch CPU / diffusers / transformers / peft and the test tools
$(VENV)/.installed-dev: pyproject.toml $(LOCK_DEV) | $(BIN)/python
	$(PIP_LOCKED) -r $(LOCK_DEV)
	$(EDITABLE)
	$(BIN)/python -m pip check
	touch $(VENV)/.installed-base $@

setup: $(VENV)/.installed-base
setup-dev: $(VENV)/.installed-dev

# Debian packages the tests need: Chromium for the dashboard's browser tests (playwright
# cannot download one here), PostgreSQL 15 for the DB tests, iproute2 + util-linux for the
# unreachable-endpoint test (a network namespace). Installed when missing (as root).
SYSTEM_DEPS := chromium:/usr/bin/chromium postgresql-15:/usr/lib/postgresql/15/bin/initdb \
	iproute2:/usr/sbin/ip util-linux:/usr/bin/unshare
system-deps:
	@missing=""; for pair in $(SYSTEM_DEPS); do \
	  [ -x "$${pair#*:}" ] || missing="$$missing $${pair%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	  else echo "note: missing$$missing and not root: the tests that need them are skipped"; fi; \
	fi

demo: $(VENV)/.installed-base
	$(BIN)/posterqa demo

test: system-deps $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

# re-resolve pyproject's ranges into requirements/lock-*.txt (needs the registries)
lock:
	bash scripts/lock.sh

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

clean:
	rm -rf .posterqa bench-out test-artifacts

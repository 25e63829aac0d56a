# copyseal: `make demo` runs the main job end to end; `make test` runs every check.
# Both set everything up first on a fresh Debian/Ubuntu machine with Python >= 3.11.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CS     := $(VENV)/bin/copyseal
STAMP  := $(VENV)/.installed-stamp
CHROMIUM ?= /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: setup venv chromium replayweb anvil demo test lint typecheck pytest bench fuzz clean-demo

setup: venv chromium replayweb anvil

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "copyseal needs Python >= 3.11"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "installing Debian's chromium (apt-get)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	fi
	@test -x $(CHROMIUM) || { echo "chromium is missing at $(CHROMIUM)"; exit 1; }

# ReplayWeb.page (npm tarball, integrity-checked) for tests/integration/test_replay.py;
# standard-library Python only, a no-op once .cache/replaywebpage-*/.complete exists.
replayweb:
	@$(PYTHON) .ci/fetch_replayweb.py

# anvil, a local EVM node (npm tarball, integrity-checked) for the chain anchor's tests and
# the demo; standard-library Python only, a no-op once .cache/anvil-*/.complete exists.
anvil:
	@$(PYTHON) .ci/fetch_anvil.py

demo: setup
	$(PY) -m copyseal.demo --config config.yaml

clean-demo:
	@# Bundles are read-only on purpose; the demo's may go. evidence/demo holds the demo's
	@# site, its anvil chain, TSA, anchors config and anchor proofs; evidence/anchors the
	@# time stamps its anchoring kept.
	-chmod -R u+w evidence/bundles evidence/works evidence/anchors 2>/dev/null
	rm -rf evidence/copyseal.db* evidence/keys evidence/logs evidence/demo evidence/bundles \
	  evidence/works evidence/index evidence/.captures evidence/anchors

lint: venv
	$(VENV)/bin/ruff check src tests spiders benchmarks
	$(VENV)/bin/ruff format --check src tests spiders benchmarks

typecheck: venv
	$(VENV)/bin/mypy

pytest: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The long fuzz run: tests/fuzz with FUZZ_EXAMPLES random examples per target (make test
# runs the same targets derandomised, ~100-200 each), no per-test timeout; the statistics
# print the count of examples run per target. Failures are kept in .hypothesis/ and replayed.
FUZZ_EXAMPLES ?= 5000
fuzz: venv
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest tests/fuzz --timeout=0 \
	  --hypothesis-show-statistics -q $(PYTEST_ARGS)

bench: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	@for b in benchmarks/[a-z]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

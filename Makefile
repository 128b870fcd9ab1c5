# Drawbridge developer tasks (GNU make). Needs only Python 3.11+ and the package registries.
#   make demo    - start the demo server, Drawbridge in front of it, and a scripted agent through it
#   make test    - the test suite (parallel)
#   make lint    - ruff + mypy (strict)
#   make constraints - regenerate requirements/constraints.txt (the container's pinned dependency set)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Present once `pip install -e '.[dev]'` succeeded; redone when pyproject.toml changes.
STAMP  := $(VENV)/.drawbridge-dev-installed

.DEFAULT_GOAL := help
.PHONY: help venv demo test lint constraints bench clean distclean

help:
	@echo "make venv       create $(VENV) and install Drawbridge with its dev tools (once)"
	@echo "make demo       run the end-to-end demo (demo server -> Drawbridge -> scripted agent)"
	@echo "make test       run the tests (pytest -n auto)"
	@echo "make lint       ruff check + mypy"
	@echo "make constraints  regenerate requirements/constraints.txt (runtime pins for the image; CONSTRAINTS_FLAGS=--upgrade to move them)"
	@echo "make bench      run the benchmarks (when bench/ has a runner)"
	@echo "make clean      remove caches and build output (keeps $(VENV)); distclean also removes $(VENV)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(PY) ]; then \
		$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
			|| { echo "Drawbridge needs Python 3.11+ ($(PYTHON): $$($(PYTHON) -V 2>&1)); try make PYTHON=python3.11" >&2; exit 1; }; \
		echo "$(PYTHON) -m venv $(VENV)"; $(PYTHON) -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

demo: venv
	$(PY) -m proxy.demo.run

test: venv
	$(PY) -m pytest -n auto -q

lint: venv
	$(PY) -m ruff check .
	$(PY) -m mypy

# The runtime dependencies (no extras) resolved for Python 3.11 on every platform (markers kept), by a pinned uv
# in a throwaway venv; existing pins are kept unless pyproject.toml needs others or CONSTRAINTS_FLAGS=--upgrade.
UV_VERSION        ?= 0.13.9
CONSTRAINTS_FLAGS ?=
constraints: venv
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT \
		&& $(PYTHON) -m venv "$$tmp" && "$$tmp/bin/python" -m pip install -q "uv==$(UV_VERSION)" \
		&& "$$tmp/bin/uv" pip compile pyproject.toml --universal --python-version 3.11 --quiet $(CONSTRAINTS_FLAGS) \
			--custom-compile-command "make constraints" -o requirements/constraints.txt
	$(PY) scripts/check-constraints.py

bench: venv
	@if [ -f bench/__main__.py ]; then \
		$(PY) -m bench; \
	else \
		echo "bench: no runner yet (bench/__main__.py is not there yet)"; \
	fi

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

# The two commands of the README's Quickstart. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast venv clean

venv: $(STAMP)

# torch==2.13.0 is the CPU build these machines keep on disk; elsewhere any torch >= 2.2 will do.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0 || $(PY) -m pip install --quiet "torch>=2.2"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The default search (docs/default-search.md) on MNIST-1D: the whole command within 10 minutes on 2 cores.
demo: $(STAMP)
	$(VENV)/bin/archscout search --task mnist1d --study demo-mnist1d --time-budget 10m
	$(VENV)/bin/archscout report demo-mnist1d

test: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(VENV)/bin/lint-imports
	$(PY) -m mypy
	$(PY) -m pytest -q --durations=20

# The edit loop: lint, layers, types and the tests not marked slow (make test runs them all).
test-fast: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(VENV)/bin/lint-imports
	$(PY) -m mypy
	$(PY) -m pytest -q -m "not slow" --durations=10

clean:
	rm -rf $(VENV) build *.egg-info

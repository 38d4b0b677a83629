# Every target bootstraps a local virtual environment (.venv) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test demo bench bench-dask lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## make test: the test suite, the docstring examples of the package, then
## the kernel tests again as plain Python (NUMBA_DISABLE_JIT=1) so the kernel
## bodies themselves are exercised.
test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest -q --doctest-modules fastsvd
	NUMBA_DISABLE_JIT=1 $(BIN)/python -m pytest -q tests/test_kernels.py

## make demo: the benchmark comparison on built-in data (a few minutes).
demo: $(STAMP)
	$(BIN)/fastsvd bench --preset quick --output results/quick

## make bench: the pytest-benchmark suites (JSON in results/).
bench: $(STAMP)
	mkdir -p results
	$(BIN)/python -m pytest bench --benchmark-enable --benchmark-json=results/pytest-benchmark.json

## make bench-dask: the Dask path on a 2-worker LocalCluster against one process.
bench-dask: $(STAMP)
	mkdir -p results
	$(BIN)/fastsvd bench-dask --output results/dask.json

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Two commands set everything up: `make demo` and `make test`. Both create .venv when it is
# missing and install compleak-tf with its pinned dependencies into it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.compleak-installed
SCALE ?= quick
SEEDS ?=
ARGS ?=

.PHONY: install test demo reproduce-table3 bench clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

demo: $(STAMP)
	$(BIN)/compleak-tf demo

reproduce-table3: $(STAMP)
	$(BIN)/compleak-tf reproduce --scale $(SCALE) $(if $(SEEDS),--seeds $(SEEDS)) $(ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_compress.py
	$(BIN)/python benchmarks/bench_harvest.py
	$(BIN)/python benchmarks/bench_attacks.py

clean:
	rm -rf build *.egg-info .pytest_cache

# Two commands from a fresh clone:
#   make demo   set up .venv, initialise the sample app's database with a demo organization, serve it
#   make test   set up .venv, run style and type checks, the whole test suite and the docs build
# and, for the performance figures (docs/performance.rst):
#   make bench  every benchmark on SQLite and PostgreSQL (8-12 minutes on 2 cores):
#               a table of ratios, benchmarks/results/latest.json and the docs' plot;
#               BENCH_ARGS=--quick for a smoke run, --help for the other options
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT := $(or $(FLASK_RUN_PORT),5000)

.PHONY: demo test install lint typing pytest docs bench clean

# .[dev] brings the tests' and the benchmarks' extras too (pyproject.toml).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The demo mounts a simulated Okta (sample_app/demo.py): never set this in production.
demo: export FLASK_SAMPLE_SIMULATED_OKTA = 1
demo: $(STAMP)
	$(BIN)/flask --app sample_app init-db
	$(BIN)/flask --app sample_app seed-demo
	@echo "Serving the sample app at http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	$(BIN)/flask --app sample_app run --port $(PORT)

test: lint typing pytest docs

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typing: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

docs: $(STAMP)
	$(BIN)/sphinx-build -q -E -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) docs/_build .pytest_cache .mypy_cache .ruff_cache

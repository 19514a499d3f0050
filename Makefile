# Every entry point of the project. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := $(CURDIR)/.tools
UV := $(TOOLS)/bin/uv
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)

# The run's logical date (`make run DS=2024-01-31`); every other setting is an environment
# variable of the CLI, with its default in src/starlink42k/settings.py (`starlink42k config`).
DS ?=
# `make run ALLOW_STALE=1`: answer even with a source past its error threshold (marked stale).
ALLOW_STALE ?=

.PHONY: help help-all
# `## ` marks the entry points `make help` lists; `### ` the rest (building blocks, single steps).
help: ## Show the main entry points (make help-all: every one)
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*[^#]## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

help-all: ### Show every entry point, the building blocks too
	@awk 'BEGIN {FS = ":.*##+ "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# --- environments -------------------------------------------------------------------------------
$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

.PHONY: venv-run venv-dev
venv-run: $(UV) ### Install what `make run` needs into .venv (locked versions)
	$(UV) sync --locked --inexact --no-dev --extra embedded --extra dbt

venv-dev: $(UV) ### Install everything (pipeline, Airflow, test tools) into .venv
	$(UV) sync --locked --all-extras

# checkov's pins conflict with uv.lock, so it gets its own environment, locked with hashes.
CHECKOV_VENV := $(CURDIR)/.venv-checkov
$(CHECKOV_VENV)/bin/checkov: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --require-hashes -r requirements/checkov.txt
	touch $@

.PHONY: lock
lock: $(UV) ### Re-resolve uv.lock after editing pyproject.toml
	$(UV) lock

# --- the pipeline -------------------------------------------------------------------------------
.PHONY: run
run: venv-run ## Run the whole pipeline locally and print the answer (DS=YYYY-MM-DD, default today; ALLOW_STALE=1)
	$(BIN)/starlink42k run $(if $(DS),--ds $(DS)) $(if $(ALLOW_STALE),--allow-stale)

.PHONY: demo
demo: venv-run ## Run the whole pipeline on bundled sample data (no network needed) and print the answer
	$(BIN)/starlink42k demo $(if $(DS),--ds $(DS))

.PHONY: backup restore
backup: venv-run ## Back up the local lake and the warehouse to data/backups/<UTC time>/ (BACKUP_KEEP newest kept)
	$(BIN)/starlink42k backup

restore: venv-run ## Restore the newest backup (FROM=backup folder; FORCE=1 replaces a lake or warehouse with data)
	$(BIN)/starlink42k restore $(if $(FROM),--from $(FROM)) $(if $(FORCE),--force)

.PHONY: stop
stop: ## Stop the embedded PostgreSQL servers that `make run` and `make demo` leave running
	@if [ -x $(BIN)/starlink42k ]; then $(BIN)/starlink42k --quiet warehouse stop; fi

# --- checks -------------------------------------------------------------------------------------
.PHONY: test test-slow test-all lint fmt
# Tiers (pytest markers, pyproject.toml): `make test` runs what no slow tier marks, in minutes;
# the slow tiers are the fault suite, the cluster fakes, whole-pipeline runs and the containers.
SLOW_TIERS := pipeline or faults or cluster or images
# pytest-xdist workers: many tests wait (on dbt, helm, PostgreSQL, kills, retries) more than they compute.
TEST_WORKERS ?= 2
test: venv-dev $(CHECKOV_VENV)/bin/checkov ## Run the tests (minutes): library, dbt on a real PostgreSQL, DAGs, charts
	$(BIN)/pytest -m "not ($(SLOW_TIERS))" -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-slow: venv-dev ### Run the slow tiers but the containers: fault suite, cluster fakes, whole-pipeline runs
	$(BIN)/pytest -m "(pipeline or faults or cluster) and not images" -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-all: test test-slow test-images ## Run every test: make test, the slow tiers, the images (what CI runs)

.PHONY: faults secrets-baseline
faults: venv-dev ## Run the fault and abuse suite (tests/faults) and regenerate README's Reliability table
	status=0; $(BIN)/pytest tests/faults $(PYTEST_ARGS) || status=$$?; \
	$(BIN)/python scripts/reliability_table.py --write; exit $$status

secrets-baseline: venv-dev ### Add detect-secrets' new findings to .secrets.baseline (then audit them)
	git ls-files | grep -vx .secrets.baseline | xargs $(BIN)/detect-secrets scan --baseline .secrets.baseline
	@echo "now audit the new entries: $(BIN)/detect-secrets audit .secrets.baseline"

.PHONY: docs
docs: venv-dev ## Regenerate what restates the code: README's settings table, the chart's settings schema
	$(BIN)/python scripts/generated.py --write

lint: venv-dev hadolint ## Lint and format-check the Python code, lint the Dockerfiles
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: venv-dev ### Format the Python code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# --- benchmarks (not tests: numbers depend on the machine; tests/benchmarks/test_*.py run each tiny) --
# BENCH picks some: load (COPY vs pandas vs psql, BENCH_ROWS), dbt (real size and 42,000 satellites over
# 365 snapshots, BENCH_DAYS), scale (every step at 1x/3x/10x today's catalogue, BENCH_SCALES),
# dag (what a DAG run costs on a kind node: make airflow-bench).
BENCH ?= load dbt scale dag
.PHONY: bench
bench: venv-dev ## Run the benchmarks (BENCH=load|dbt|scale|dag, default all): numbers for the notes
	@set -e; for b in $(BENCH); do \
	  case "$$b" in \
	    load|dbt|scale) echo "==> tests/benchmarks/bench_$$b.py"; $(BIN)/python tests/benchmarks/bench_$$b.py ;; \
	    dag) $(MAKE) --no-print-directory airflow-bench ;; \
	    *) echo "BENCH=$$b: not a benchmark (load, dbt, scale, dag)" >&2; exit 2 ;; \
	  esac; \
	done

# --- Airflow on this machine, images, Kubernetes: kind cluster, charts -----------------------------------------
include airflow/airflow.mk
include images/images.mk
include k8s/cluster.mk
include k8s/observability.mk

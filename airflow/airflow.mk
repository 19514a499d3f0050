# The Airflow DAG on this machine, without Kubernetes (STARLINK_EXECUTION=local): the same DAG the
# cluster runs, its steps as subprocesses of the CLI and dbt through cosmos' local mode, against
# the embedded warehouse, the local lake and the API replay. Included by the top-level Makefile
# (SHELL, .SHELLFLAGS, help, BIN and venv-dev live there). The pipeline's settings and their
# defaults (DATA_DIR, LAKE_URL, ...) come from the CLI (`starlink42k config`), never from here.

AIRFLOW_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
# The local UI; kind already publishes the cluster's UI on 8080.
AIRFLOW_LOCAL_PORT ?= 8090
REPLAY_PORT ?= 8765
DBT_MANIFEST := dbt/target/manifest.json
# dbt parse reads every file of the project; rebuild the manifest when one changes.
DBT_SOURCES = $(shell find dbt -type f -not -path 'dbt/target/*' -not -path 'dbt/logs/*' -not -path 'dbt/dbt_packages/*')

# $airflow_home and $lake are shell variables of the prologue below: the local Airflow's home (SQLite
# metadata, logs, generated admin password) beside the pipeline's data, and the pipeline's lake.
AIRFLOW_LOCAL_ENV = \
	AIRFLOW_HOME="$$airflow_home" \
	AIRFLOW__CORE__DAGS_FOLDER='$(AIRFLOW_ROOT)/dags' \
	AIRFLOW__CORE__PLUGINS_FOLDER='$(AIRFLOW_ROOT)/plugins' \
	AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
	AIRFLOW__COSMOS__CACHE_DIR="$$airflow_home/cosmos" \
	AIRFLOW__COSMOS__DBT_DOCS_PROJECTS="{\"starlink42k\": {\"dir\": \"$${lake\#file://}/dbt-docs\", \"index\": \"index.html\", \"name\": \"dbt docs (Starlink 42k)\"}}" \
	AIRFLOW__API__HOST=127.0.0.1 \
	AIRFLOW__API__PORT=$(AIRFLOW_LOCAL_PORT) \
	AIRFLOW__API__BASE_URL=http://127.0.0.1:$(AIRFLOW_LOCAL_PORT) \
	PYTHONPATH='$(AIRFLOW_ROOT)/dags' \
	STARLINK_EXECUTION=local

# Shell prologue of the local targets: where the pipeline's data and lake are (the CLI's settings),
# the API replay (unless SPACEX_API_URL is set), stopped when the recipe ends, and the embedded
# warehouse (unless WAREHOUSE_URL is set), left running.
define AIRFLOW_LOCAL_SERVICES
airflow_home="$$($(BIN)/starlink42k config DATA_DIR)/airflow"; lake="$$($(BIN)/starlink42k config LAKE_URL)"; \
mkdir -p "$$airflow_home"; \
if [ -z "$${SPACEX_API_URL:-}" ]; then \
  $(BIN)/starlink42k replay --port $(REPLAY_PORT) >"$$airflow_home/replay.log" 2>&1 & replay_pid=$$!; \
  trap 'kill $$replay_pid 2>/dev/null || true' EXIT; trap 'exit 130' INT TERM; \
  for _ in $$(seq 100); do (: >/dev/tcp/127.0.0.1/$(REPLAY_PORT)) 2>/dev/null && break; sleep 0.1; done; \
  kill -0 $$replay_pid 2>/dev/null || { cat "$$airflow_home/replay.log"; echo "the API replay did not start (port $(REPLAY_PORT) taken? REPLAY_PORT=...)"; exit 1; }; \
  export SPACEX_API_URL=http://127.0.0.1:$(REPLAY_PORT)/v4 CELESTRAK_URL=http://127.0.0.1:$(REPLAY_PORT); \
  echo "API replay (bundled sample data): $$SPACEX_API_URL"; \
fi; \
if [ -z "$${WAREHOUSE_URL:-}" ]; then export WAREHOUSE_URL="$$($(BIN)/starlink42k -q warehouse url)"; fi; \
export $(AIRFLOW_LOCAL_ENV); \
$(BIN)/airflow db migrate >"$$airflow_home/db-migrate.log" 2>&1 || { cat "$$airflow_home/db-migrate.log"; exit 1; };
endef

.PHONY: manifest airflow-run airflow-ui airflow-test airflow-bench

manifest: $(DBT_MANIFEST) ### Parse the dbt project into dbt/target/manifest.json (no database needed)

$(DBT_MANIFEST): $(DBT_SOURCES) | venv-dev
	DBT_SEND_ANONYMOUS_USAGE_STATS=false $(BIN)/dbt parse --project-dir dbt --profiles-dir dbt \
	  --target-path target --log-path dbt/logs --quiet
	@touch $@

airflow-run: venv-dev manifest ## Run the Airflow DAG once on this machine, no Kubernetes (DS=YYYY-MM-DD, default today)
	@$(AIRFLOW_LOCAL_SERVICES) \
	ds="$(if $(DS),$(DS),$$(date -u +%F))"; start=$$(date +%s); \
	echo "airflow dags test starlink_pipeline $$ds (logs: $$airflow_home/dags-test.log)"; \
	$(BIN)/airflow dags test starlink_pipeline "$$ds" >"$$airflow_home/dags-test.log" 2>&1 || true; \
	state=$$(sed -n 's/.*DagRun Finished: dag_id=starlink_pipeline,.* state=\([a-z_]*\),.*/\1/p' "$$airflow_home/dags-test.log" | tail -n 1); \
	echo "run $${state:-unknown} in $$(( $$(date +%s) - start )) s"; \
	if [ "$$state" != success ]; then tail -n 40 "$$airflow_home/dags-test.log"; exit 1; fi; \
	echo "answer: $$lake/reports/starlink/ds=$$ds/answer.json"; \
	echo "dbt docs: $$lake/dbt-docs/index.html. Next: make airflow-ui"

# standalone starts its components as `airflow ...` subprocesses: the venv must be on PATH.
airflow-ui: venv-dev manifest ## Start a local Airflow UI (standalone) with the DAG in local mode; Ctrl-C stops it
	@$(AIRFLOW_LOCAL_SERVICES) \
	echo "Airflow UI: http://127.0.0.1:$(AIRFLOW_LOCAL_PORT)  user: admin  password: in $$airflow_home/simple_auth_manager_passwords.json.generated (written at start)"; \
	echo "dbt docs (after a run): Browse > dbt docs (Starlink 42k); logs: $$airflow_home/standalone.log"; \
	PATH="$(BIN):$$PATH" $(BIN)/airflow standalone 2>&1 | tee "$$airflow_home/standalone.log"

airflow-test: venv-dev ### Run the DAG tests only (tests/airflow)
	$(BIN)/pytest tests/airflow $(PYTEST_ARGS)

# The run's cost per design (tasks, worker and pipeline pods, peak requests against the kind node, wall
# time from per-pod costs), then the DAG's parse time per mode. PRODUCER_S: the `dbt build` pod's time.
airflow-bench: venv-dev manifest ### What a DAG run costs on a kind node, per design, and the DAG's parse time
	$(BIN)/python tests/benchmarks/dag_cost.py $(if $(PRODUCER_S),--producer-s $(PRODUCER_S))
	$(BIN)/python tests/benchmarks/bench_parse.py

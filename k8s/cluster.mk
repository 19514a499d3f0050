# The local Kubernetes cluster: kind + the starlink-platform chart + the official Airflow chart.
# Included by the top-level Makefile (SHELL, .SHELLFLAGS, `help` and the `images` target live
# there). Every step says what it does; every target ends with the next command to run.
# kubectl and helm always get an explicit context, so no other cluster of yours is touched.

# --- settings (override on the command line: make cluster-up GIT_BRANCH=my-branch) ----------
CLUSTER_NAME ?= starlink42k
# The images' tag (IMAGE_TAG) comes from images/images.mk: a hash of what they are built from.
# git-sync pulls the DAGs from this repository, branch and folder: push before you expect them.
GIT_REPO ?= $(shell git -C $(CLUSTER_ROOT) remote get-url origin 2>/dev/null)
GIT_BRANCH ?= $(shell git -C $(CLUSTER_ROOT) branch --show-current 2>/dev/null)
GIT_SUBPATH ?= airflow/dags
# For a private repository over SSH: a Secret in namespace airflow with key `gitSshKey`.
GIT_SSH_SECRET ?=
# The official chart (https://airflow.apache.org), pinned; its values schema is what
# tests/k8s validates k8s/airflow-values.yaml against.
AIRFLOW_CHART_VERSION ?= 1.22.0
AIRFLOW_CHART_REPO ?= https://airflow.apache.org
# Without the internet: a copy of that chart (a directory or the .tgz of `helm pull`). Default: the
# one `make airflow-chart` pulled into .charts/airflow, if any; else the repository above.
AIRFLOW_CHART ?= $(wildcard $(CLUSTER_ROOT)/.charts/airflow)
# Extra --set flags for the platform chart (`make e2e` turns the in-cluster API replay on with them)
# and for the Airflow chart (`make e2e` turns the scheduler's own runs off with them).
PLATFORM_SET ?=
AIRFLOW_EXTRA_SET ?=
# Local ports of `make port-forward`.
AIRFLOW_UI_PORT ?= 8080
MINIO_CONSOLE_PORT ?= 9001
MINIO_API_PORT ?= 9000
WAREHOUSE_PORT ?= 5432
# The optional metrics stack (`make observability`, k8s/observability.mk): its namespace (fixed:
# k8s/monitoring-namespace.yaml and the stack's values files name it too) and Grafana's local port.
MONITORING_NAMESPACE := monitoring
GRAFANA_PORT ?= 3000

# Tool versions this setup was written and checked against (`make tools` compares).
MIN_DOCKER := 24.0
MIN_KIND := 0.33.0
MIN_HELM := 3.19.0
MIN_KUBECTL := 1.36.0
# Older kinds cannot create the pinned node (Kubernetes 1.37): its kubeadm refuses their v1beta3
# config ("your configuration file uses an old API spec"). `make tools` fails below this one.
REQUIRED_KIND := 0.32.0
# After a failed cluster-up or e2e: kind's logs and `kubectl describe` of the pods not ready.
CLUSTER_LOGS ?= $(CLUSTER_ROOT)/.cluster-logs

CLUSTER_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
# The Makefile that included this one, for the sub-makes (`images` is defined there).
TOP_MAKEFILE := $(abspath $(firstword $(MAKEFILE_LIST)))
KIND_CONTEXT = kind-$(CLUSTER_NAME)
KUBECTL = kubectl --context $(KIND_CONTEXT)
HELM = helm --kube-context $(KIND_CONTEXT)
CLUSTER_IMAGES = starlink42k/pipeline:$(IMAGE_TAG) starlink42k/dbt:$(IMAGE_TAG) starlink42k/airflow:$(IMAGE_TAG)
# Without an SSH key Secret git-sync cannot use an SSH remote: `git@host:path` and
# `ssh://git@host[:port]/path` become https://host/path (anonymous HTTPS, for public repositories).
GIT_SYNC_REPO = $(if $(GIT_SSH_SECRET),$(GIT_REPO),$(shell printf '%s' '$(GIT_REPO)' | sed -E 's#^ssh://git@([^/:]+)(:[0-9]+)?/#https://\1/#; s#^git@([^:/]+):#https://\1/#'))
# The chart's Deployments that run Airflow itself (our image); step 8 checks each of them.
AIRFLOW_COMPONENTS := scheduler dag-processor api-server triggerer
empty :=
comma := ,
AIRFLOW_OWN_SELECTOR := release=airflow,component in ($(subst $(empty) $(empty),$(comma),$(AIRFLOW_COMPONENTS)))
# The Airflow image's ID as a pod annotation: a rebuilt image always rolls the Airflow deployments,
# even under an unchanged tag (e.g. the same sources on another base image). A shell variable that
# step 7 sets when its helm line runs, after step 3 built the image (make would expand a $(shell)
# before the recipe runs: empty on a first run, one build late after a rebuild).
AIRFLOW_SET = \
	--set-string images.airflow.tag=$(IMAGE_TAG) \
	--set-string defaultAirflowTag=$(IMAGE_TAG) \
	--set-string airflowPodAnnotations.starlink42k/image-id="$$airflow_image_id" \
	--set-string dags.gitSync.repo='$(GIT_SYNC_REPO)' \
	--set-string dags.gitSync.branch='$(GIT_BRANCH)' \
	--set-string dags.gitSync.ref='$(GIT_BRANCH)' \
	--set-string dags.gitSync.subPath='$(GIT_SUBPATH)' \
	$(if $(GIT_SSH_SECRET),--set-string dags.gitSync.sshKeySecret='$(GIT_SSH_SECRET)')

# The chart step 7 installs: the given copy, else the pinned version from the repository.
AIRFLOW_CHART_REF = $(if $(AIRFLOW_CHART),'$(AIRFLOW_CHART)',airflow --repo $(AIRFLOW_CHART_REPO) --version $(AIRFLOW_CHART_VERSION))

.PHONY: tools cluster-up cluster-steps cluster-info cluster-down port-forward slack-secret airflow-chart e2e

tools: ### Check docker, kind, helm and kubectl (versions against the tested ones)
	@echo "Cluster tools (tested with docker >= $(MIN_DOCKER), kind >= $(MIN_KIND), helm >= $(MIN_HELM), kubectl >= $(MIN_KUBECTL)):"
	@missing=0; too_old=0; \
	at_least() { awk -v a="$$1" -v b="$$2" 'BEGIN { split(a, x, "."); split(b, y, "."); \
	  for (i = 1; i <= 3; i++) { if (x[i] + 0 != y[i] + 0) exit !(x[i] + 0 > y[i] + 0) } }'; }; \
	check() { \
	  name=$$1; min=$$2; required=$$3; hint=$$4; shift 4; \
	  if ! command -v "$$name" >/dev/null 2>&1; then \
	    printf '  %-8s MISSING   install it: %s\n' "$$name" "$$hint"; missing=1; return 0; \
	  fi; \
	  ver=$$("$$@" 2>/dev/null | grep -Eo '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -n 1 || true); \
	  if [ -z "$$ver" ]; then status="installed, version not recognised"; \
	  elif [ -n "$$required" ] && ! at_least "$$ver" "$$required"; then status="TOO OLD: $$required or later is required"; too_old=1; \
	  elif at_least "$$ver" "$$min"; then status=ok; \
	  else status="older than tested ($$min): upgrade, see $$hint"; fi; \
	  printf '  %-8s %-9s %s\n' "$$name" "$${ver:-?}" "$$status"; \
	}; \
	check docker $(MIN_DOCKER) "" https://docs.docker.com/engine/install/ docker version --format '{{.Client.Version}}'; \
	check kind $(MIN_KIND) $(REQUIRED_KIND) https://kind.sigs.k8s.io/docs/user/quick-start/#installation kind version; \
	check helm $(MIN_HELM) "" https://helm.sh/docs/intro/install/ helm version --template '{{.Version}}'; \
	check kubectl $(MIN_KUBECTL) "" https://kubernetes.io/docs/tasks/tools/ kubectl version --client; \
	if [ "$$missing" -ne 0 ]; then echo "Install the missing tools, then run: make tools"; exit 1; fi; \
	if [ "$$too_old" -ne 0 ]; then \
	  echo "kind older than $(REQUIRED_KIND) cannot create the pinned Kubernetes 1.37 node (kubeadm refuses its old config API). Upgrade kind:"; \
	  echo "  go install sigs.k8s.io/kind@v$(MIN_KIND)    (or: brew upgrade kind; or the v$(MIN_KIND) binary from https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"; \
	  echo "then run: make tools"; exit 1; \
	fi; \
	if ! docker info >/dev/null 2>&1; then \
	  echo "docker is installed but its daemon does not answer: start Docker (or add yourself to the docker group), then run: make tools"; exit 1; \
	fi
	@$(if $(TOOLS_QUIET),:,echo "All tools found. Next: make cluster-up")

# Target-specific, so it also applies to the `tools` prerequisite: no "Next" line mid-run.
cluster-up: TOOLS_QUIET := 1
cluster-up: tools ## Create or update the kind cluster with images, platform and Airflow (idempotent)
	@$(MAKE) -f '$(TOP_MAKEFILE)' --no-print-directory cluster-steps IMAGE_TAG=$(IMAGE_TAG) || { \
	  '$(CLUSTER_ROOT)/k8s/cluster-logs.sh' '$(CLUSTER_NAME)' '$(CLUSTER_LOGS)'; exit 1; }

# The steps of cluster-up, which exports the logs when any of them fails.
cluster-steps:
	@test -n "$(GIT_REPO)" || { echo "GIT_REPO is empty: this checkout has no 'origin' remote, and git-sync needs the repository the DAGs are pushed to. Run: make cluster-up GIT_REPO=https://github.com/<you>/<repo>.git"; exit 1; }
	@test -n "$(GIT_BRANCH)" || { echo "GIT_BRANCH is empty (detached HEAD?). Run: make cluster-up GIT_BRANCH=main"; exit 1; }
	@echo "==> 1/8 git-sync's source: $(GIT_SYNC_REPO) @ $(GIT_BRANCH)"
	@'$(CLUSTER_ROOT)/k8s/git-preflight.sh' '$(GIT_SYNC_REPO)' '$(GIT_BRANCH)' '$(GIT_SSH_SECRET)'
	@echo "==> 2/8 kind cluster '$(CLUSTER_NAME)' ($(CLUSTER_ROOT)/kind-config.yaml)"
	@if kind get clusters 2>/dev/null | grep -qx '$(CLUSTER_NAME)'; then \
	  echo "    already exists: reusing it"; \
	else \
	  kind create cluster --name '$(CLUSTER_NAME)' --config '$(CLUSTER_ROOT)/kind-config.yaml' --wait 180s; \
	fi
	@echo "==> 3/8 building the images: $(CLUSTER_IMAGES)"
	@$(MAKE) -f '$(TOP_MAKEFILE)' images IMAGE_TAG=$(IMAGE_TAG)
	@echo "==> 4/8 copying the images into the cluster nodes (no registry; pulls stay IfNotPresent)"
	'$(CLUSTER_ROOT)/k8s/kind-load.sh' '$(CLUSTER_NAME)' $(CLUSTER_IMAGES)
	@echo "==> 5/8 namespaces starlink and airflow (with Pod Security labels)"
	$(KUBECTL) apply -f '$(CLUSTER_ROOT)/k8s/namespaces.yaml'
	@echo "==> 6/8 platform chart: MinIO, warehouse, Secrets, settings, RBAC, NetworkPolicies (waits until ready)"
	@# Once `make observability` has installed the metrics stack, its objects in this chart stay on.
	$(HELM) upgrade --install starlink '$(CLUSTER_ROOT)/charts/starlink-platform' --namespace starlink --wait --timeout 10m $(PLATFORM_SET) \
	  $$($(HELM) status prometheus --namespace $(MONITORING_NAMESPACE) >/dev/null 2>&1 && echo --set observability.enabled=true --set-string observability.namespace=$(MONITORING_NAMESPACE))
	@echo "==> 7/8 Airflow chart $(AIRFLOW_CHART_VERSION) ($(or $(AIRFLOW_CHART),$(AIRFLOW_CHART_REPO))), image starlink42k/airflow:$(IMAGE_TAG): DAGs from $(GIT_SYNC_REPO) @ $(GIT_BRANCH), folder $(GIT_SUBPATH)"
	@if [ -n '$(AIRFLOW_CHART)' ]; then \
	  version=$$(helm show chart '$(AIRFLOW_CHART)' | sed -n 's/^version: *//p'); \
	  [ "$$version" = '$(AIRFLOW_CHART_VERSION)' ] || { echo "AIRFLOW_CHART=$(AIRFLOW_CHART) is chart version $${version:-?}, not $(AIRFLOW_CHART_VERSION), the version k8s/airflow-values.yaml is tested with: bring that one (helm pull airflow --repo $(AIRFLOW_CHART_REPO) --version $(AIRFLOW_CHART_VERSION))"; exit 1; }; \
	fi
	@# No --wait: the chart migrates the database in a post-install hook that the pods wait for;
	@# helm waits for hooks anyway, and step 8 waits for the pods. A new image (tag or ID) changes
	@# the pod templates, so the deployments roll onto it.
	airflow_image_id=$$($(DOCKER) image inspect --format '{{.Id}}' starlink42k/airflow:$(IMAGE_TAG)) \
	  && $(HELM) upgrade --install airflow $(AIRFLOW_CHART_REF) \
	  --namespace airflow -f '$(CLUSTER_ROOT)/k8s/airflow-values.yaml' $(AIRFLOW_SET) $(AIRFLOW_EXTRA_SET) --timeout 15m
	@echo "==> 8/8 waiting until every Airflow deployment runs starlink42k/airflow:$(IMAGE_TAG)"
	$(KUBECTL) -n airflow rollout status deployment -l release=airflow --timeout=10m
	@# Airflow's own deployments only: the chart's StatsD exporter carries release=airflow too.
	@running=$$($(KUBECTL) -n airflow get deployment -l '$(AIRFLOW_OWN_SELECTOR)' \
	  -o jsonpath='{range .items[*]}{.metadata.name}={.spec.template.spec.containers[0].image}{"\n"}{end}'); \
	printf '%s\n' "$$running" | sed 's/^/    /'; \
	stale=""; \
	for component in $(AIRFLOW_COMPONENTS); do \
	  line=$$(printf '%s\n' "$$running" | grep "^airflow-$$component=" || true); \
	  [ "$$line" = "airflow-$$component=starlink42k/airflow:$(IMAGE_TAG)" ] || stale="$$stale $${line:-airflow-$$component (missing)}"; \
	done; \
	if [ -n "$$stale" ]; then echo "Airflow deployments not on starlink42k/airflow:$(IMAGE_TAG):$$stale"; exit 1; fi
	@$(MAKE) -f '$(TOP_MAKEFILE)' --no-print-directory cluster-info

cluster-info: ## Print the URLs, how to log in, and the next commands
	@echo ""
	@echo "Airflow UI     http://127.0.0.1:$(AIRFLOW_UI_PORT)   (published by kind; on another cluster: make port-forward)"
	@echo "  user admin, password:  $(KUBECTL) -n airflow exec deploy/airflow-api-server -- cat /tmp/simple_auth_manager_passwords.json.generated"
	@echo "MinIO console  http://127.0.0.1:$(MINIO_CONSOLE_PORT)   (after make port-forward; MinIO's root, for admins)"
	@echo "  login:       $(KUBECTL) -n starlink get secret starlink-minio-root -o jsonpath='{.data.access-key-id}' | base64 -d; echo"
	@echo "  password:    $(KUBECTL) -n starlink get secret starlink-minio-root -o jsonpath='{.data.secret-access-key}' | base64 -d; echo"
	@echo "Warehouse      postgresql://pipeline@127.0.0.1:$(WAREHOUSE_PORT)/warehouse   (after make port-forward)"
	@echo "  password:    $(KUBECTL) -n starlink get secret warehouse-credentials -o jsonpath='{.data.password}' | base64 -d; echo"
	@echo "DAGs           git-sync of $(GIT_SYNC_REPO) @ $(GIT_BRANCH), folder $(GIT_SUBPATH): push to deploy"
	@echo ""
	@echo "Next: make port-forward    (Slack alerts: make slack-secret SLACK_WEBHOOK_URL=https://hooks.slack.com/services/...)"

cluster-down: ## Delete the kind cluster and everything in it (lake, warehouse, Airflow)
	@if kind get clusters 2>/dev/null | grep -qx '$(CLUSTER_NAME)'; then \
	  echo "Deleting kind cluster '$(CLUSTER_NAME)' with its volumes"; kind delete cluster --name '$(CLUSTER_NAME)'; \
	else \
	  echo "No kind cluster '$(CLUSTER_NAME)': nothing to delete"; \
	fi
	@echo "Next: make cluster-up (starts from an empty cluster)"

# --- e2e: one whole DAG run on kind against an in-cluster replay of the APIs (k8s/e2e.py) --------
# The sample data's ds: a fixed date, so the freshness gate judges the same snapshot every time.
E2E_DS ?= 2024-01-31
E2E_REPLAY = http://starlink-api-replay:8000
E2E_PLATFORM_SET = --set apiReplay.enabled=true --set-string apiReplay.image.tag=$(IMAGE_TAG) \
	--set-string pipelineSettings.SPACEX_API_URL=$(E2E_REPLAY)/v4 \
	--set-string pipelineSettings.CELESTRAK_URL=$(E2E_REPLAY) \
	--set-string pipelineSettings.SAMPLE_DATA=1
# The e2e run must be the only run: the DAG is @daily with catchup=False, so an unpaused DAG gets
# the run of its latest slot from the scheduler at once (the e2e run then waited 12 minutes behind
# it, and a second answer was written). The e2e cluster's scheduler creates no run of its own (no
# timetable or asset runs; triggered runs still run); the next `make cluster-up` turns it back on.
E2E_AIRFLOW_SET = --set-string config.scheduler.use_job_schedule=False
e2e: venv-run ## On kind: cluster-up with an API replay, run the DAG over the REST API, check answer.json
	@$(MAKE) -f '$(TOP_MAKEFILE)' --no-print-directory cluster-up PLATFORM_SET='$(E2E_PLATFORM_SET)' AIRFLOW_EXTRA_SET='$(E2E_AIRFLOW_SET)'
	@$(BIN)/python '$(CLUSTER_ROOT)/k8s/e2e.py' --ds $(E2E_DS) --context $(KIND_CONTEXT) --airflow-url http://127.0.0.1:$(AIRFLOW_UI_PORT) || { \
	  '$(CLUSTER_ROOT)/k8s/cluster-logs.sh' '$(CLUSTER_NAME)' '$(CLUSTER_LOGS)'; \
	  echo "The cluster is left running: make port-forward, or make cluster-down"; exit 1; }
	@echo "Next: open http://127.0.0.1:$(AIRFLOW_UI_PORT), or make cluster-down"

# The chart the tests render (tests/k8s/test_k8s_airflow_chart.py) when it is here; without network
# they use AIRFLOW_CHART_DIR or the reference copy beside the project.
AIRFLOW_CHART_DIR_PULLED := $(CLUSTER_ROOT)/.charts
airflow-chart: ### Download the pinned Airflow chart into .charts/airflow (cluster-up and the chart tests use it)
	@command -v helm >/dev/null || { echo "helm is missing: make tools"; exit 1; }
	rm -rf '$(AIRFLOW_CHART_DIR_PULLED)/airflow'
	helm pull airflow --repo $(AIRFLOW_CHART_REPO) --version $(AIRFLOW_CHART_VERSION) --untar --untardir '$(AIRFLOW_CHART_DIR_PULLED)'
	@echo "Airflow chart $(AIRFLOW_CHART_VERSION) in $(AIRFLOW_CHART_DIR_PULLED)/airflow: make cluster-up installs it from there. Next: make test"

# Background port-forwards; the EXIT trap stops all of them on Ctrl-C or when one fails (e.g. a
# local port already in use), which the loop notices (not `wait -n`: macOS's bash 3.2 lacks it).
# Port-forward traffic enters the pod through the container runtime, inside the pod's network
# namespace, so the NetworkPolicies do not apply to it.
port-forward: ## Forward MinIO (9001, 9000), the warehouse (5432), Grafana (3000), the UI (8080) if kind does not
	@pids=""; \
	trap 'kill $$pids 2>/dev/null || true; echo; echo "Port-forwards stopped. Next: make port-forward, or make cluster-down"' EXIT; \
	trap 'exit 0' INT TERM; \
	$(KUBECTL) -n starlink port-forward svc/starlink-minio $(MINIO_CONSOLE_PORT):9001 $(MINIO_API_PORT):9000 >/dev/null & pids="$$pids $$!"; \
	$(KUBECTL) -n starlink port-forward svc/starlink-warehouse $(WAREHOUSE_PORT):5432 >/dev/null & pids="$$pids $$!"; \
	if (exec 3<>/dev/tcp/127.0.0.1/$(AIRFLOW_UI_PORT)) 2>/dev/null; then \
	  echo "Airflow UI     http://127.0.0.1:$(AIRFLOW_UI_PORT)   (already published by kind, not forwarded)"; \
	else \
	  $(KUBECTL) -n airflow port-forward svc/airflow-api-server $(AIRFLOW_UI_PORT):8080 >/dev/null & pids="$$pids $$!"; \
	  echo "Airflow UI     http://127.0.0.1:$(AIRFLOW_UI_PORT)"; \
	fi; \
	echo "MinIO console  http://127.0.0.1:$(MINIO_CONSOLE_PORT)   S3 API http://127.0.0.1:$(MINIO_API_PORT)"; \
	echo "Warehouse      postgresql://pipeline@127.0.0.1:$(WAREHOUSE_PORT)/warehouse"; \
	if $(KUBECTL) -n $(MONITORING_NAMESPACE) get service grafana >/dev/null 2>&1; then \
	  $(KUBECTL) -n $(MONITORING_NAMESPACE) port-forward svc/grafana $(GRAFANA_PORT):80 >/dev/null & pids="$$pids $$!"; \
	  echo "Grafana        http://127.0.0.1:$(GRAFANA_PORT)   (dashboard 'Starlink 42k: pipeline and platform')"; \
	else \
	  echo "Grafana        not installed: make observability"; \
	fi; \
	echo "Logins: make cluster-info. Press Ctrl-C to stop."; \
	while :; do \
	  for pid in $$pids; do \
	    kill -0 "$$pid" 2>/dev/null || { echo "A port-forward stopped (a local port in use? see above): stopping the others"; exit 1; }; \
	  done; \
	  sleep 1; \
	done

# The URL stays out of the command line: it reaches kubectl through the environment and stdin.
slack-secret: ### Create or update the Slack alerts Secret: make slack-secret SLACK_WEBHOOK_URL=https://...
	@test -n "$${SLACK_WEBHOOK_URL:-}" || { echo "Usage: make slack-secret SLACK_WEBHOOK_URL=https://hooks.slack.com/services/..."; exit 1; }
	@printf '%s' "$$SLACK_WEBHOOK_URL" | grep -Eq '^https?://[^"\\[:space:]]+$$' || { echo "SLACK_WEBHOOK_URL must be an http(s) URL without quotes, backslashes or spaces"; exit 1; }
	@echo "Writing Secret airflow/slack-alerts (Airflow connection slack_alerts, conn_type slackwebhook)"
	@printf '{"conn_type": "slackwebhook", "password": "%s"}' "$$SLACK_WEBHOOK_URL" \
	  | $(KUBECTL) -n airflow create secret generic slack-alerts --from-file=connection=/dev/stdin --dry-run=client -o yaml \
	  | $(KUBECTL) apply -f -
	@echo "Restarting the Airflow deployments so they read it (task pods read it when they start)"
	$(KUBECTL) -n airflow rollout restart deployment -l '$(AIRFLOW_OWN_SELECTOR)'
	@echo "Next: trigger a DAG run in the UI; a failed task now posts to Slack"

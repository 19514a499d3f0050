# The optional metrics stack on the kind cluster: Prometheus and Grafana in namespace `monitoring`,
# and the platform chart's observability objects (postgres_exporter, dashboard, read-only warehouse
# login). Off by default, so `make cluster-up` stays light; `make observability` adds it to a
# running cluster, and a later `make cluster-up` keeps it while it is installed.
# Included by the top-level Makefile after k8s/cluster.mk, whose settings (KUBECTL, HELM,
# CLUSTER_ROOT, MONITORING_NAMESPACE, GRAFANA_PORT, PLATFORM_SET) it uses.

# The charts, pinned; their values are committed (k8s/prometheus-values.yaml, k8s/grafana-values.yaml).
PROMETHEUS_CHART_REPO := https://prometheus-community.github.io/helm-charts
PROMETHEUS_CHART_VERSION ?= 28.10.0
GRAFANA_CHART_REPO := https://grafana-community.github.io/helm-charts
GRAFANA_CHART_VERSION ?= 11.1.7

.PHONY: observability observability-down

observability: ### Add Prometheus + Grafana with the pipeline dashboard to the cluster (optional)
	@echo "==> 1/4 namespace $(MONITORING_NAMESPACE) (k8s/monitoring-namespace.yaml, Pod Security labels)"
	$(KUBECTL) apply -f '$(CLUSTER_ROOT)/k8s/monitoring-namespace.yaml'
	@echo "==> 2/4 platform chart with observability on: postgres_exporter, dashboard, read-only warehouse login"
	$(HELM) upgrade --install starlink '$(CLUSTER_ROOT)/charts/starlink-platform' --namespace starlink --wait --timeout 10m \
	  $(PLATFORM_SET) --set observability.enabled=true --set-string observability.namespace=$(MONITORING_NAMESPACE)
	@echo "==> 3/4 Prometheus chart $(PROMETHEUS_CHART_VERSION): scrapes Airflow's statsd exporter, the warehouse's exporter, the kubelets"
	$(HELM) upgrade --install prometheus prometheus --repo $(PROMETHEUS_CHART_REPO) --version $(PROMETHEUS_CHART_VERSION) \
	  --namespace $(MONITORING_NAMESPACE) -f '$(CLUSTER_ROOT)/k8s/prometheus-values.yaml' --wait --timeout 10m
	@echo "==> 4/4 Grafana chart $(GRAFANA_CHART_VERSION): datasources Prometheus and Warehouse (read-only), the dashboard"
	$(HELM) upgrade --install grafana grafana --repo $(GRAFANA_CHART_REPO) --version $(GRAFANA_CHART_VERSION) \
	  --namespace $(MONITORING_NAMESPACE) -f '$(CLUSTER_ROOT)/k8s/grafana-values.yaml' --wait --timeout 10m
	@echo ""
	@echo "Grafana        http://127.0.0.1:$(GRAFANA_PORT)   (after make port-forward), dashboard 'Starlink 42k: pipeline and platform'"
	@echo "  user admin, password:  $(KUBECTL) -n $(MONITORING_NAMESPACE) get secret grafana -o jsonpath='{.data.admin-password}' | base64 -d; echo"
	@echo "Next: make port-forward"

observability-down: ### Remove Prometheus, Grafana and the platform chart's observability objects
	$(HELM) uninstall grafana prometheus --namespace $(MONITORING_NAMESPACE) --ignore-not-found
	$(HELM) upgrade --install starlink '$(CLUSTER_ROOT)/charts/starlink-platform' --namespace starlink --wait --timeout 10m $(PLATFORM_SET)
	$(KUBECTL) delete namespace $(MONITORING_NAMESPACE) --ignore-not-found
	@echo "Next: make observability (to add it again), or make cluster-down"

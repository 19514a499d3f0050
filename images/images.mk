# Container images: starlink42k/{extractor,dbt,airflow}:$(VERSION), built from the repository root
# with images/<name>/Dockerfile. Included by the top-level Makefile (SHELL, `help`, PYTHON, UV,
# VENV and BIN come from there); also usable alone: make -f images/images.mk images.
#
#   make images                        build with the public base images (python:3.11-slim-bookworm,
#                                      apache/airflow:3.3.2-python3.11)
#   make images BASE_IMAGE=... AIRFLOW_BASE_IMAGE=... CA_BUNDLE=/path/to/ca.pem
#                                      other bases (e.g. from a private registry); a CA bundle for a
#                                      TLS-intercepting proxy, passed to the builds as secret `ca`
#   make test-images                   where no registry is reachable (CI): local base images from
#                                      Debian packages, build, then the container tests

IMAGES_MK := $(abspath $(lastword $(MAKEFILE_LIST)))
IMAGES_ROOT := $(abspath $(dir $(IMAGES_MK))..)
# The Makefile that was called (the top-level one, or this file alone), for the sub-makes.
IMAGES_MAKEFILE := $(abspath $(firstword $(MAKEFILE_LIST)))
# Included by the top-level Makefile: its `venv-dev` provides hadolint and pytest first.
IMAGES_VENV_DEV = $(if $(filter-out $(IMAGES_MK),$(IMAGES_MAKEFILE)),@$(MAKE) -f '$(IMAGES_MAKEFILE)' --no-print-directory venv-dev)

# --- settings ------------------------------------------------------------------------------------
VERSION ?= 0.1.0
# Standalone defaults; the top-level Makefile defines the same.
BIN ?= $(IMAGES_ROOT)/.venv/bin
UV ?= $(IMAGES_ROOT)/.tools/bin/uv
# Debian's docker.io client has BuildKit built in; a static client without the buildx plugin
# (e.g. /usr/local/bin/docker here) cannot build with DOCKER_BUILDKIT=1. Prefer the former.
DOCKER ?= $(firstword $(wildcard /usr/bin/docker) docker)
# Empty: each Dockerfile's pinned public default.
BASE_IMAGE ?=
AIRFLOW_BASE_IMAGE ?=
# A CA bundle the builds trust for HTTPS (pip, uv), as build secret `ca`. Empty: none.
CA_BUNDLE ?=
# Extra `docker build` options, e.g. DOCKER_BUILD_FLAGS=--no-cache or --progress=plain.
DOCKER_BUILD_FLAGS ?=

EXTRACTOR_IMAGE = starlink42k/extractor:$(VERSION)
DBT_IMAGE = starlink42k/dbt:$(VERSION)
AIRFLOW_IMAGE = starlink42k/airflow:$(VERSION)
STARLINK_IMAGES = $(EXTRACTOR_IMAGE) $(DBT_IMAGE) $(AIRFLOW_IMAGE)

# test-images: the machine part (engine + Debian-built Python base) and the Airflow stand-in.
DOCKER_LOCAL_SH ?= $(IMAGES_ROOT)/images/local-engine.sh
LOCAL_BASE_IMAGE ?= local/python:3.11-bookworm
AIRFLOW_LOCAL_BASE_IMAGE ?= local/airflow:3.3.2-python3.11
HOST_CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt

HADOLINT ?= $(BIN)/hadolint
DOCKERFILES = $(sort $(wildcard $(IMAGES_ROOT)/images/*/Dockerfile $(IMAGES_ROOT)/images/*/*.Dockerfile))

# docker build with BuildKit (secrets, cache mounts), the version label and the optional CA.
DOCKER_BUILD = DOCKER_BUILDKIT=1 $(DOCKER) build --build-arg VERSION=$(VERSION) \
	$(if $(CA_BUNDLE),--secret id=ca$(comma)src=$(CA_BUNDLE)) $(DOCKER_BUILD_FLAGS)
comma := ,

# $(call build_image,<Dockerfile>,<tag>,<extra args>): build from the repository root, timed.
define build_image
	@echo "==> $(2)  ($(patsubst $(IMAGES_ROOT)/%,%,$(1)))"
	@start=$$(date +%s); \
	$(DOCKER_BUILD) -f $(1) $(3) -t $(2) $(IMAGES_ROOT); \
	echo "    built $(2) in $$(( $$(date +%s) - start ))s"
endef

.PHONY: images image-extractor image-dbt image-airflow image-sizes hadolint test-images airflow-local-base

images: image-extractor image-dbt image-airflow ## Build the three images starlink42k/{extractor,dbt,airflow}:VERSION
	@$(MAKE) -f '$(IMAGES_MAKEFILE)' --no-print-directory image-sizes VERSION=$(VERSION)

image-extractor: ## Build starlink42k/extractor:VERSION (the pipeline CLI)
	$(call build_image,$(IMAGES_ROOT)/images/extractor/Dockerfile,$(EXTRACTOR_IMAGE),$(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)))

image-dbt: ## Build starlink42k/dbt:VERSION (dbt + the project + its manifest)
	$(call build_image,$(IMAGES_ROOT)/images/dbt/Dockerfile,$(DBT_IMAGE),$(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)))

# The Airflow image copies the dbt manifest out of the dbt image of the same version.
image-airflow: image-dbt ## Build starlink42k/airflow:VERSION (Airflow 3 + cosmos + providers + manifest)
	$(call build_image,$(IMAGES_ROOT)/images/airflow/Dockerfile,$(AIRFLOW_IMAGE),$(if $(AIRFLOW_BASE_IMAGE),--build-arg BASE_IMAGE=$(AIRFLOW_BASE_IMAGE)) --build-arg DBT_IMAGE=$(DBT_IMAGE))

image-sizes: ## Print the size of each image
	@for image in $(STARLINK_IMAGES); do \
	  size=$$($(DOCKER) image ls --format '{{.Size}}' "$$image" 2>/dev/null | head -n 1); \
	  printf '  %-32s %s\n' "$$image" "$${size:-not built (make images)}"; \
	done

hadolint: ## Lint every Dockerfile under images/ with hadolint
	$(IMAGES_VENV_DEV)
	@test -x '$(HADOLINT)' || { echo "hadolint not found at $(HADOLINT): run make venv-dev"; exit 1; }
	$(HADOLINT) $(DOCKERFILES)
	@echo "hadolint: $(words $(DOCKERFILES)) Dockerfiles clean"

# The stand-in for apache/airflow:3.3.2-python3.11 (see images/airflow/local-base.Dockerfile).
airflow-local-base:
	$(call build_image,$(IMAGES_ROOT)/images/airflow/local-base.Dockerfile,$(AIRFLOW_LOCAL_BASE_IMAGE),--build-arg BASE_IMAGE=$(LOCAL_BASE_IMAGE))

# No registry here: images/local-engine.sh installs/starts the engine and builds the
# Python base from Debian packages; the Airflow base is a stand-in built on it. Then the real
# Dockerfiles are built on those bases and tested (tests/images, IMAGE_TESTS=required: a missing
# image or engine fails instead of skipping).
test-images: ## Build the images on local base images (no registry needed) and run tests/images
	$(IMAGES_VENV_DEV)
	@if [ -f '$(DOCKER_LOCAL_SH)' ]; then \
	  echo "==> Docker engine and $(LOCAL_BASE_IMAGE): $(DOCKER_LOCAL_SH)"; \
	  BASE_IMAGE_NAME='$(LOCAL_BASE_IMAGE)' bash '$(DOCKER_LOCAL_SH)' | tail -n 1; \
	else \
	  echo "==> no $(DOCKER_LOCAL_SH) (set DOCKER_LOCAL_SH): using the running engine and $(LOCAL_BASE_IMAGE)"; \
	  $(DOCKER) image inspect '$(LOCAL_BASE_IMAGE)' >/dev/null || { echo "$(LOCAL_BASE_IMAGE) is missing: build it or set LOCAL_BASE_IMAGE"; exit 1; }; \
	fi
	@$(MAKE) -f '$(IMAGES_MAKEFILE)' --no-print-directory airflow-local-base images VERSION=$(VERSION) \
	  BASE_IMAGE='$(LOCAL_BASE_IMAGE)' AIRFLOW_BASE_IMAGE='$(AIRFLOW_LOCAL_BASE_IMAGE)' \
	  CA_BUNDLE='$(or $(CA_BUNDLE),$(wildcard $(HOST_CA_BUNDLE)))'
	IMAGE_TESTS=required IMAGES_VERSION=$(VERSION) IMAGES_DOCKER='$(DOCKER)' $(BIN)/pytest $(IMAGES_ROOT)/tests/images $(PYTEST_ARGS)

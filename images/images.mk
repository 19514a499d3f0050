# Container images: starlink42k/{pipeline,dbt,airflow}:$(IMAGE_TAG), built from the repository root
# with images/<name>/Dockerfile. IMAGE_TAG is the one tag of all three, a hash of what they are built
# from (images/tag.sh); the Airflow image carries it (STARLINK_IMAGE_TAG), so the DAG asks for the
# pipeline and dbt images it was built with. Included by the top-level Makefile (SHELL, `help`, PYTHON, UV,
# VENV and BIN come from there); also usable alone: make -f images/images.mk images.
#
#   make images                        build with the public base images (python:3.11-slim-bookworm,
#                                      apache/airflow:3.3.2-python3.11)
#   make images BASE_IMAGE=... AIRFLOW_BASE_IMAGE=... CA_BUNDLE=/path/to/ca.pem
#                                      other bases (e.g. from a private registry); a CA bundle for a
#                                      TLS-intercepting proxy, passed to the builds as secret `ca`
#   make test-images                   where no registry is reachable (CI): local base images from
#                                      Debian packages, build, then the container tests

# The top-level Makefile's shell settings, for this file used alone: without -e and pipefail a failed
# `docker build` went on to "built ... in 0s" and exit 0. (The same values when included.)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

IMAGES_MK := $(abspath $(lastword $(MAKEFILE_LIST)))
IMAGES_ROOT := $(abspath $(dir $(IMAGES_MK))..)
# The Makefile that was called (the top-level one, or this file alone), for the sub-makes.
IMAGES_MAKEFILE := $(abspath $(firstword $(MAKEFILE_LIST)))
# Included by the top-level Makefile: its `venv-dev` provides hadolint and pytest first.
IMAGES_VENV_DEV = $(if $(filter-out $(IMAGES_MK),$(IMAGES_MAKEFILE)),@$(MAKE) -f '$(IMAGES_MAKEFILE)' --no-print-directory venv-dev)

# --- settings ------------------------------------------------------------------------------------
# Computed once per make run (`:=`): every target of it builds, loads and deploys the same tag.
IMAGE_TAG ?= $(shell '$(IMAGES_ROOT)/images/tag.sh' 2>/dev/null)
override IMAGE_TAG := $(IMAGE_TAG)
# Prerequisite of every target that needs the tag (outside a git checkout there is none).
.PHONY: require-image-tag
require-image-tag:
	@test -n '$(IMAGE_TAG)' || { echo "no image tag: images/tag.sh needs a git checkout; set IMAGE_TAG=<tag>"; exit 1; }
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

PIPELINE_IMAGE = starlink42k/pipeline:$(IMAGE_TAG)
DBT_IMAGE = starlink42k/dbt:$(IMAGE_TAG)
AIRFLOW_IMAGE = starlink42k/airflow:$(IMAGE_TAG)
STARLINK_IMAGES = $(PIPELINE_IMAGE) $(DBT_IMAGE) $(AIRFLOW_IMAGE)

# test-images: the machine part (engine + Debian-built Python base) and the Airflow stand-in.
DOCKER_LOCAL_SH ?= $(IMAGES_ROOT)/images/local-engine.sh
LOCAL_BASE_IMAGE ?= local/python:3.11-bookworm
AIRFLOW_LOCAL_BASE_IMAGE ?= local/airflow:3.3.2-python3.11
HOST_CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt

HADOLINT ?= $(BIN)/hadolint
DOCKERFILES = $(sort $(wildcard $(IMAGES_ROOT)/images/*/Dockerfile $(IMAGES_ROOT)/images/*/*.Dockerfile))

# docker build with BuildKit (secrets, cache mounts), the tag as a label and the optional CA.
# No provenance or SBOM attestations: with them `kind load docker-image` fails on Docker's
# containerd image store ("content digest ... not found"); the flags need buildx, so only then.
DOCKER_BUILD = DOCKER_BUILDKIT=1 $(DOCKER) build --build-arg IMAGE_TAG=$(IMAGE_TAG) \
	$(if $(shell $(DOCKER) buildx version 2>/dev/null),--provenance=false --sbom=false) \
	$(if $(CA_BUNDLE),--secret id=ca$(comma)src=$(CA_BUNDLE)) $(DOCKER_BUILD_FLAGS)
comma := ,

# $(call build_image,<Dockerfile>,<tag>,<extra args>): build from the repository root, timed.
define build_image
	@echo "==> $(2)  ($(patsubst $(IMAGES_ROOT)/%,%,$(1)))"
	@start=$$(date +%s); \
	$(DOCKER_BUILD) -f $(1) $(3) -t $(2) $(IMAGES_ROOT); \
	echo "    built $(2) in $$(( $$(date +%s) - start ))s"
endef

.PHONY: images image-pipeline image-dbt image-airflow image-sizes image-tag hadolint test-images airflow-local-base

images: require-image-tag image-pipeline image-dbt image-airflow ## Build the three images starlink42k/{pipeline,dbt,airflow}:IMAGE_TAG
	@$(MAKE) -f '$(IMAGES_MAKEFILE)' --no-print-directory image-sizes IMAGE_TAG=$(IMAGE_TAG)

image-tag: require-image-tag ### Print the images' tag (a hash of what they are built from)
	@echo $(IMAGE_TAG)

image-pipeline: require-image-tag ### Build starlink42k/pipeline:IMAGE_TAG (the pipeline CLI)
	$(call build_image,$(IMAGES_ROOT)/images/pipeline/Dockerfile,$(PIPELINE_IMAGE),$(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)))

image-dbt: require-image-tag ### Build starlink42k/dbt:IMAGE_TAG (dbt + the project + its manifest)
	$(call build_image,$(IMAGES_ROOT)/images/dbt/Dockerfile,$(DBT_IMAGE),$(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)))

# The Airflow image copies the dbt manifest out of the dbt image of the same tag.
image-airflow: require-image-tag image-dbt ### Build starlink42k/airflow:IMAGE_TAG (Airflow 3 + cosmos + providers + manifest)
	$(call build_image,$(IMAGES_ROOT)/images/airflow/Dockerfile,$(AIRFLOW_IMAGE),$(if $(AIRFLOW_BASE_IMAGE),--build-arg BASE_IMAGE=$(AIRFLOW_BASE_IMAGE)))

image-sizes: ### Print the size of each image
	@for image in $(STARLINK_IMAGES); do \
	  size=$$($(DOCKER) image ls --format '{{.Size}}' "$$image" 2>/dev/null | head -n 1); \
	  printf '  %-32s %s\n' "$$image" "$${size:-not built (make images)}"; \
	done

hadolint: ### Lint every Dockerfile under images/ with hadolint
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
test-images: ### Build the images on local base images (no registry needed) and run tests/images
	$(IMAGES_VENV_DEV)
	@if [ -f '$(DOCKER_LOCAL_SH)' ]; then \
	  echo "==> Docker engine and $(LOCAL_BASE_IMAGE): $(DOCKER_LOCAL_SH)"; \
	  BASE_IMAGE_NAME='$(LOCAL_BASE_IMAGE)' bash '$(DOCKER_LOCAL_SH)' | tail -n 1; \
	else \
	  echo "==> no $(DOCKER_LOCAL_SH) (set DOCKER_LOCAL_SH): using the running engine and $(LOCAL_BASE_IMAGE)"; \
	  $(DOCKER) image inspect '$(LOCAL_BASE_IMAGE)' >/dev/null || { echo "$(LOCAL_BASE_IMAGE) is missing: build it or set LOCAL_BASE_IMAGE"; exit 1; }; \
	fi
	@$(MAKE) -f '$(IMAGES_MAKEFILE)' --no-print-directory airflow-local-base images IMAGE_TAG=$(IMAGE_TAG) \
	  BASE_IMAGE='$(LOCAL_BASE_IMAGE)' AIRFLOW_BASE_IMAGE='$(AIRFLOW_LOCAL_BASE_IMAGE)' \
	  CA_BUNDLE='$(or $(CA_BUNDLE),$(wildcard $(HOST_CA_BUNDLE)))'
	IMAGE_TESTS=required IMAGE_TAG=$(IMAGE_TAG) IMAGES_DOCKER='$(DOCKER)' $(BIN)/pytest $(IMAGES_ROOT)/tests/images -m images $(PYTEST_ARGS)

# A STAND-IN for the official image apache/airflow:3.3.2-python3.11, for machines that reach no
# image registry (CI here: only PyPI and Debian). images/airflow/Dockerfile is written for the
# official image; to build and test it here, build this first and pass it as its base:
#
#   DOCKER_BUILDKIT=1 docker build -f images/airflow/local-base.Dockerfile \
#       --build-arg BASE_IMAGE=local/python:3.11-bookworm -t local/airflow:3.3.2-python3.11 .
#   DOCKER_BUILDKIT=1 docker build -f images/airflow/Dockerfile \
#       --build-arg BASE_IMAGE=local/airflow:3.3.2-python3.11 --build-arg IMAGE_TAG=<tag> -t starlink42k/airflow:<tag> .
#
# (`make test-images` does both.) What it reproduces of the official image, as far as the project
# relies on it: apache-airflow 3.3.2 (here at uv.lock's versions) in a virtualenv at
# /home/airflow/.local that is first on PATH and where `pip install` goes; user airflow,
# uid 50000, gid 0, HOME /home/airflow; AIRFLOW_HOME=/opt/airflow (dags/, logs/, plugins/, config/)
# group-writable and the working directory; AIRFLOW__CORE__LOAD_EXAMPLES=false; the ENTRYPOINT
# `dumb-init -- /entrypoint` (DUMB_INIT_SETSID=1) and CMD [], with the official command semantics
# (local-base-entrypoint.sh); /clean-logs, which the chart's log-groomer sidecars run
# (local-base-clean-logs.sh); the metadata database's drivers psycopg2 and asyncpg, and the StatsD
# client. Not reproduced:
# the official image's ~30 preinstalled providers, its own CPython build under /usr/python,
# database clients.

ARG BASE_IMAGE=local/python:3.11-bookworm

FROM ${BASE_IMAGE} AS build
SHELL ["/bin/bash", "-eu", "-o", "pipefail", "-c"]
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock ./
# apache-airflow and exactly what it needs (its lock closure): the `airflow` extra without the
# packages the real image adds on top (cosmos, the providers) and the project's own dependencies.
RUN --mount=type=secret,id=ca,required=false \
    --mount=type=cache,target=/root/.cache/uv \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi; \
    /opt/uv/bin/uv export --frozen --no-dev --no-emit-project --extra airflow \
        --prune astronomer-cosmos --prune apache-airflow-providers-cncf-kubernetes \
        --prune apache-airflow-providers-slack --prune apache-airflow-providers-amazon \
        --prune apache-airflow-providers-openlineage \
        --prune boto3 --prune matplotlib --prune psycopg \
        --format requirements-txt --output-file /src/requirements.txt --quiet \
    && python3 -m venv /home/airflow/.local \
    && /opt/uv/bin/uv pip install --quiet --python /home/airflow/.local/bin/python --require-hashes \
        --no-deps -r /src/requirements.txt
# What the official image's default extras add and the chart relies on: the metadata database's
# drivers (`postgres`; the chart's `postgresql://` connection): psycopg2, and asyncpg for Airflow's
# async engine; and the StatsD client (`statsd`; the chart sets [metrics] statsd_on). psycopg2-binary
# at uv.lock's version and hashes (the lock has it for dbt-postgres); asyncpg and statsd are not in
# the lock (nothing of the project imports them), so they are pinned here.
ARG ASYNCPG_VERSION=0.32.0
ARG STATSD_VERSION=4.0.1
RUN --mount=type=secret,id=ca,required=false \
    --mount=type=cache,target=/root/.cache/uv \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi; \
    /opt/uv/bin/uv export --frozen --no-dev --no-emit-project --extra dbt --no-annotate --no-header \
        --format requirements-txt --quiet \
        | awk '/^psycopg2-binary==/ {keep = 1; print; next} keep && /^[[:space:]]/ {print; next} {keep = 0}' \
        > /src/drivers.txt \
    && grep -q '^psycopg2-binary==' /src/drivers.txt \
    && /opt/uv/bin/uv pip install --quiet --python /home/airflow/.local/bin/python --require-hashes \
        --no-deps -r /src/drivers.txt \
    && /opt/uv/bin/uv pip install --quiet --python /home/airflow/.local/bin/python --no-deps \
        "asyncpg==${ASYNCPG_VERSION}" "statsd==${STATSD_VERSION}" \
    && /home/airflow/.local/bin/python -c 'import psycopg2, asyncpg, statsd'

FROM ${BASE_IMAGE}
SHELL ["/bin/bash", "-eu", "-o", "pipefail", "-c"]
# dumb-init is PID 1 of the official image too: it forwards signals to the whole process group.
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dumb-init=1.2.5-2 \
    && rm -rf /var/lib/apt/lists/*
ENV AIRFLOW_VERSION=3.3.2 \
    AIRFLOW_UID=50000 \
    AIRFLOW_USER_HOME_DIR=/home/airflow \
    AIRFLOW_HOME=/opt/airflow \
    VIRTUAL_ENV=/home/airflow/.local \
    PATH=/home/airflow/.local/bin:$PATH \
    AIRFLOW__CORE__LOAD_EXAMPLES=false \
    LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DUMB_INIT_SETSID=1
RUN useradd --uid 50000 --gid 0 --home-dir /home/airflow --create-home --shell /bin/bash airflow \
    && mkdir -p /opt/airflow/dags /opt/airflow/logs /opt/airflow/plugins /opt/airflow/config \
    && chown -R 50000:0 /home/airflow /opt/airflow \
    && chmod -R g+rwX /home/airflow /opt/airflow
COPY --from=build --chown=50000:0 /home/airflow/.local /home/airflow/.local
COPY images/airflow/local-base-entrypoint.sh /entrypoint
COPY images/airflow/local-base-clean-logs.sh /clean-logs
RUN chmod 0755 /entrypoint /clean-logs
WORKDIR /opt/airflow
EXPOSE 8080
USER 50000
ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"]
CMD []

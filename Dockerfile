# syntax=docker/dockerfile:1
# One image for every part of Clef Pro: `clef-pro serve` (the default),
# `clef-pro migrate` and `clef-pro operator`.
#
#   docker build -t clef-pro:dev .
#   docker run --rm -p 8000:8000 clef-pro:dev serve --host 0.0.0.0 --demo
#
# The base image is pinned by its exact version tag. To pin it by digest too
# (recommended for production builds), resolve the digest where a registry
# is reachable and append it to both FROM lines, e.g.
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm
#   FROM python:3.11.14-slim-bookworm@sha256:<digest> AS build

# The base of both stages. The default is the official image; a build on a
# machine without a registry may name a local image with the same Python
# (hack/cluster.sh builds one from Debian's packages):
#   docker build --build-arg BASE_IMAGE=localhost/my-python:3.11 -t clef-pro:dev .
ARG BASE_IMAGE=python:3.11.14-slim-bookworm

# ---------------------------------------------------------------- build
# Builds the wheels of Clef Pro and of every dependency, and installs them
# into a virtual environment; only that environment reaches the final image.
FROM ${BASE_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY clef_pro/ clef_pro/
COPY api/ api/
COPY operator/ operator/

RUN pip wheel --wheel-dir /wheels . \
 && python -m venv --without-pip /opt/clef-pro \
 && pip --python /opt/clef-pro/bin/python install --no-index --find-links /wheels /wheels/*.whl

# ---------------------------------------------------------------- runtime
FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.title="Clef Pro" \
      org.opencontainers.image.description="Reporting and alerting for Clef secrets governance: service, migrations and operator" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed, unprivileged user; the Helm chart runs as the same ids.
RUN groupadd --system --gid 10001 clef-pro \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin clef-pro

COPY --from=build /opt/clef-pro /opt/clef-pro

# Nothing is written to the image at run time (read-only root filesystem
# friendly): no bytecode files, and the data directory lives under /tmp
# (an emptyDir in Kubernetes).
ENV PATH=/opt/clef-pro/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CLEF_PRO_DATA_DIR=/tmp/clef-pro

USER 10001:10001
WORKDIR /tmp

# 8000: the API and dashboard; 8081: the operator's liveness endpoint.
EXPOSE 8000 8081

ENTRYPOINT ["clef-pro"]
CMD ["serve", "--host", "0.0.0.0"]

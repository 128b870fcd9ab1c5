# syntax=docker/dockerfile:1
# Drawbridge container image.
#
#   docker build -t drawbridge:0.1.0 .
#   docker run --rm -p 8080:8080 drawbridge:0.1.0 \
#       serve --config /etc/drawbridge/drawbridge.yaml --upstream http://mcp-server:8080/mcp
#
# Stage 1 builds a wheelhouse (Drawbridge + its dependencies, at the versions pinned in
# requirements/constraints.txt); stage 2 installs it offline into a venv. The runtime image has no
# compiler, no build tools, no pip cache and no secrets; it runs as uid 10001 and writes nothing
# outside /tmp and /var/lib/drawbridge (mount both when the root filesystem is read-only).
# See deploy/README.md.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# README.m[d]: copied when present (pyproject.toml names it), without failing when absent.
COPY pyproject.toml README.m[d] ./
COPY proxy/ proxy/
# The pinned dependency set (`make constraints`; CI checks it against pyproject.toml).
COPY requirements/constraints.txt requirements/constraints.txt
# Wheels for Drawbridge and every dependency, at the pinned versions (all ship manylinux wheels: no
# compiler needed). The runtime stage installs from this wheelhouse only, so it gets the same set.
RUN python -m pip wheel --wheel-dir /wheels --constraint requirements/constraints.txt .

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
# Set at build time by CI (e.g. --build-arg SOURCE_URL=https://… --build-arg REVISION=$(git rev-parse HEAD)).
ARG SOURCE_URL=""
ARG REVISION=""

LABEL org.opencontainers.image.title="Drawbridge" \
      org.opencontainers.image.description="Inline guardrail proxy for the Model Context Protocol (MCP)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/drawbridge \
    PATH=/opt/drawbridge/bin:$PATH

# The venv gets no pip of its own; the base image's pip installs into it from the wheelhouse,
# which is bind-mounted from the builder so no wheel ends up in a layer. Bytecode is compiled
# at install time, so a read-only root filesystem costs no start-up time.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv --without-pip /opt/drawbridge \
 && python -m pip --python /opt/drawbridge/bin/python install --no-index --find-links=/wheels mcp-drawbridge \
 && /opt/drawbridge/bin/drawbridge --version

# Unprivileged user; /var/lib/drawbridge is the only state directory (audit files, if not stdout).
RUN groupadd --system --gid 10001 drawbridge \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin drawbridge \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/drawbridge

# Policies: the embedded default (proxy/policies/default: policies/default is only a symlink to it)
# and the examples. Config and policies are root-owned and read-only for the proxy.
COPY proxy/policies/default/ /etc/drawbridge/policies/default/
COPY policies/examples/ /etc/drawbridge/policies/examples/
COPY deploy/docker/drawbridge.yaml /etc/drawbridge/drawbridge.yaml

VOLUME ["/var/lib/drawbridge"]
WORKDIR /var/lib/drawbridge
USER 10001:10001
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3).status != 200)"]

ENTRYPOINT ["drawbridge"]
CMD ["serve", "--config", "/etc/drawbridge/drawbridge.yaml"]

# syntax=docker/dockerfile:1
# Cloud Conductor image: `conductor serve` on 0.0.0.0:8080 as an unprivileged user.
# Build: docker build -t cloud-conductor .    Deploy: docs/deploy.md

# --- build stage: pip, setuptools and the package build live here only --------------------
# Every dependency ships manylinux wheels, so no compiler is installed even here.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/conductor
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY detectors ./detectors
COPY runbooks ./runbooks
COPY integrations ./integrations
RUN /opt/conductor/bin/pip install --no-compile . \
 && /opt/conductor/bin/python -m compileall -q /opt/conductor/lib

# --- runtime stage: the virtualenv and nothing that builds (no pip use, no compiler) -------
FROM python:3.11-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="cloud-conductor" \
      org.opencontainers.image.description="AIOps incident-remediation bot" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/conductor/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CONDUCTOR_DATA_DIR=/var/lib/conductor \
    CONDUCTOR_CONFIG=/etc/conductor/config.toml
RUN groupadd --system --gid 10001 conductor \
 && useradd --system --uid 10001 --gid conductor --home-dir /var/lib/conductor --shell /usr/sbin/nologin conductor \
 && mkdir -p /var/lib/conductor /etc/conductor \
 && chown conductor:conductor /var/lib/conductor
COPY --from=build /opt/conductor /opt/conductor
COPY config.example.toml /etc/conductor/config.toml
USER 10001:10001
WORKDIR /var/lib/conductor
EXPOSE 8080
# Liveness only (the process answers); readiness (/readyz) is for the load balancer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["conductor"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--json-logs"]

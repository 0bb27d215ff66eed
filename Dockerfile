# integration-service container image.
#
#   docker build -t integration-service .
#   docker run --rm -p 8080:8080 -v integration-data:/app integration-service
#
# With no configuration it runs in development mode on a SQLite file in /app (a volume), with a
# generated development key beside it. In production set ENVIRONMENT=production, DATABASE_URL,
# JWT_SECRET, ENCRYPTION_KEY and MESSAGING_SIGNING_SECRET (see deploy/ and .env.example).
# Needs BuildKit (the default builder since Docker 23) for the RUN --mount below.
#
# PYTHON_IMAGE is any Debian-based image with python3 >= 3.11, pip, `python` and `pip` on PATH,
# and groupadd/useradd. CI (`nox -s container`, tools/container_check.py) cannot pull from public
# registries: it builds one from Debian packages with debootstrap and passes it here.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------- builder
# Builds the project's wheel and a wheel of every dependency, so the runtime stage installs
# from local files only, with no compiler and no source tree.
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /build
COPY pyproject.toml README.md ./
COPY core ./core
COPY src ./src

# pip's cache lives in a BuildKit cache mount: a change in src/ rebuilds the wheels from it
# instead of downloading every dependency again, and the cache never enters a layer.
# Two wheels: integration-core (core/), and integration-service built to depend on it by
# version (INTEGRATION_CORE_SPECIFIER) rather than by the path to ./core, which runtime lacks.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels ./core \
    && core_version="$(python -c 'import tomllib; print(tomllib.load(open("core/pyproject.toml", "rb"))["project"]["version"])')" \
    && INTEGRATION_CORE_SPECIFIER="==${core_version}" pip wheel --no-deps --wheel-dir /wheels . \
    && pip wheel --wheel-dir /wheels --find-links /wheels /wheels/integration_service-*.whl

# ---------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="integration-service" \
      org.opencontainers.image.description="Connects tenants to messaging and payment platforms: setup, verified webhooks, forwarding, payments." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://example.invalid/integration-service" \
      org.opencontainers.image.documentation="https://example.invalid/integration-service/docs/runbook.md"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8080 \
    HOST=0.0.0.0

# The wheels are bind-mounted from the builder, so they never land in a layer of this image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels integration-service \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app \
    && install --directory --owner=10001 --group=10001 --mode=0750 /app

# The working directory holds the default SQLite file and the development key file beside it:
# keep it on a volume so both survive a new container.
WORKDIR /app
VOLUME ["/app"]
USER 10001:10001

EXPOSE 8080

# slim has no curl: ask with Python. /api/v1/health answers 503 (an error here) when the
# database is down. `serve --role worker` serves health, ready and metrics on PORT too (and
# nothing else), so the check holds for workers as well.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/api/v1/health', timeout=4)"]

ENTRYPOINT ["integration-service"]
CMD ["serve"]

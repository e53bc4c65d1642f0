# syntax=docker/dockerfile:1
# Multi-stage: build a wheel-installed virtualenv, then copy it into a slim runtime running as a non-root user.
# Base images are pinned to a release (update them deliberately, with the test suite).
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY app ./app
RUN /opt/venv/bin/pip install --upgrade pip && /opt/venv/bin/pip install .

FROM python:3.11.11-slim-bookworm AS runtime
RUN useradd --create-home --uid 10001 matchready
WORKDIR /srv
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
# The data directory (the embedded SQLite database, development mail, metrics of several workers) belongs to the
# user the service runs as.
RUN mkdir -p /srv/var && chown matchready:matchready /srv/var
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    WEB_CONCURRENCY=2 \
    PORT=8000 \
    FORWARDED_ALLOW_IPS=127.0.0.1 \
    GRACEFUL_SECONDS=20
VOLUME ["/srv/var"]
USER matchready
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/livez', timeout=2)"
# Migrations are a separate step, run once per release before the workers start:
#   docker run --rm -e DATABASE_URL=... -e SECRET_KEY=... IMAGE python -m app migrate
# X-Forwarded-For and -Proto are believed only from FORWARDED_ALLOW_IPS (the proxy's address; never "*" on a
# network others share). On SIGTERM, requests in flight get GRACEFUL_SECONDS to finish.
CMD ["sh", "-c", "exec uvicorn app.main:app --host 0.0.0.0 --port ${PORT} --workers ${WEB_CONCURRENCY} --http app.core.server:HeadTimeoutH11Protocol --no-access-log --no-server-header --log-config app/logging.json --proxy-headers --forwarded-allow-ips ${FORWARDED_ALLOW_IPS} --timeout-graceful-shutdown ${GRACEFUL_SECONDS}"]

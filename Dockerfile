# ota-stream worker image. Build: `docker build -t ota-stream .`; run: `docker run ota-stream` (worker) or
# `docker run ota-stream migrate`. Every setting is an environment variable (README, Configuration).

# --- builder: a wheel of the project (schema/ is force-included by hatch) and of every dependency ---------
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

# A compiler only for a dependency that has no wheel for this platform; it stays in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY schema ./schema
COPY ota_stream ./ota_stream

RUN pip wheel --wheel-dir /wheels . \
    && pip install --no-index --find-links /wheels --prefix /install ota-stream

# --- runtime: the installed packages only, no compiler, no sources ------------------------------------------
FROM python:3.11-slim AS runtime

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SERVER_HOST=0.0.0.0 \
    DATA_DIR=/var/lib/ota-stream

RUN groupadd --system --gid 10001 ota \
    && useradd --system --uid 10001 --gid ota --home-dir /app --shell /usr/sbin/nologin ota \
    && mkdir -p /app /var/lib/ota-stream \
    && chown ota:ota /app /var/lib/ota-stream

# Same base image and interpreter path as the builder, so /install's scripts and extensions work as is.
COPY --from=builder /install /usr/local

WORKDIR /app
USER ota:ota

# Created and owned above, before VOLUME: a new named volume starts as a copy of it, owned by ota.
VOLUME ["/var/lib/ota-stream"]

EXPOSE 6400

# /health answers 503 only when it is unhealthy (200 when healthy or degraded); urlopen raises on 503.
# It also refreshes the ota_pipeline_consumer_lag gauge that Prometheus scrapes.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SERVER_PORT', '6400'), timeout=4)"]

ENTRYPOINT ["ota-stream"]
CMD ["worker"]

#!/usr/bin/env bash
# The main job for development: the local Kafka broker plus one worker on embedded chDB, serving :6400.
# Keys are required (docs/security.md): without ADMIN_API_KEY in the environment, one is generated and kept in
# $DATA_DIR/admin-api-key, and demo ingest and read keys for tenant "demo" are made once and printed.
# Ctrl-C stops the worker, then the broker.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export KAFKA_PORT=${KAFKA_PORT:-9092}
export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}
export DATA_DIR=${DATA_DIR:-$root/var}
# The local broker is a single development broker: topics with one replica (docs/scaling.md).
export KAFKA_DEV_BROKER=${KAFKA_DEV_BROKER:-true}
mkdir -p "$DATA_DIR"

if [[ -z "${ADMIN_API_KEY:-}" ]]; then
  if [[ ! -s "$DATA_DIR/admin-api-key" ]]; then
    (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' >"$DATA_DIR/admin-api-key")
  fi
  ADMIN_API_KEY=$(cat "$DATA_DIR/admin-api-key")
  export ADMIN_API_KEY
fi

scripts/kafka/kafka.sh up
trap 'scripts/kafka/kafka.sh down' EXIT

# Demo keys, made once per data folder (a key is shown only when it is made).
if [[ ! -s "$DATA_DIR/demo-keys" ]]; then
  ingest=$(.venv/bin/ota-stream keys create --tenant demo --scope ingest --name "make dev ingest" | tail -n 1)
  read=$(.venv/bin/ota-stream keys create --tenant demo --scope read --name "make dev read" | tail -n 1)
  (umask 077 && printf 'INGEST_KEY=%s\nREAD_KEY=%s\n' "$ingest" "$read" >"$DATA_DIR/demo-keys")
fi
cat <<EOF
----------------------------------------------------------------------------------------------------------------
ota-stream on http://127.0.0.1:${SERVER_PORT:-6400}   (keys kept in $DATA_DIR; never commit them)
  ADMIN_API_KEY=$ADMIN_API_KEY
  $(sed -n 1p "$DATA_DIR/demo-keys")    (tenant demo)
  $(sed -n 2p "$DATA_DIR/demo-keys")      (tenant demo)
----------------------------------------------------------------------------------------------------------------
EOF
.venv/bin/ota-stream worker

#!/usr/bin/env bash
# The main job for development: the local Kafka broker plus one worker on embedded chDB, serving :6400.
# Ctrl-C stops the worker, then the broker.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export KAFKA_PORT=${KAFKA_PORT:-9092}
export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}
export DATA_DIR=${DATA_DIR:-$root/var}
scripts/kafka/kafka.sh up
trap 'scripts/kafka/kafka.sh down' EXIT
.venv/bin/ota-stream worker

#!/usr/bin/env bash
# Local Apache Kafka for development and tests: one KRaft broker+controller on 127.0.0.1.
#
#   scripts/kafka/kafka.sh up      resolve jars (first run only), format storage, start, wait until ready
#   scripts/kafka/kafka.sh down    stop the broker started by `up` (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka/kafka.sh status  exit 0 when the broker answers metadata requests
#
# Environment:
#   KAFKA_PORT      listener port (default 9092); the controller uses KAFKA_PORT+1
#   KAFKA_DIR       state folder: logs, pid, config (default ./var/kafka)
#   KAFKA_LIB_DIR   jar cache (default ./.cache/kafka-libs); filled by Maven from scripts/kafka/pom.xml
#   KAFKA_HEAP      JVM heap (default 512m)
#   KAFKA_READY_TIMEOUT  seconds to wait for readiness (default 90)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
port=${KAFKA_PORT:-9092}
controller_port=$((port + 1))
state=${KAFKA_DIR:-$root/var/kafka}
libs=${KAFKA_LIB_DIR:-$root/.cache/kafka-libs}
heap=${KAFKA_HEAP:-512m}
ready_timeout=${KAFKA_READY_TIMEOUT:-90}
pidfile=$state/kafka.pid

log() { printf 'kafka.sh: %s\n' "$*" >&2; }

resolve_jars() {
  if [ -f "$libs/.complete" ]; then return; fi
  command -v mvn >/dev/null || { log "mvn is required to resolve Kafka from Maven Central"; exit 1; }
  log "resolving Apache Kafka jars with Maven into $libs"
  rm -rf "$libs" && mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs"
  touch "$libs/.complete"
}

java_cmd() {
  # `exec` so that a backgrounded call is the JVM itself and its pid is the broker's.
  if [ "${1:-}" = --exec ]; then shift; set -- exec "$@"; else set -- command "$@"; fi
  "$1" "${JAVA_HOME:+$JAVA_HOME/bin/}java" -Xms128m -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$state/log4j2.properties" \
    -cp "$libs/*" "${@:2}"
}

write_config() {
  mkdir -p "$state/data"
  cat > "$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$state/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
PROPS
  cat > "$state/log4j2.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $state/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
PROPS
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

ready() {
  # A metadata request through the broker's own admin tool proves the listener answers.
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || return 1
  java_cmd org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" --list \
    >/dev/null 2>&1
}

up() {
  if running; then log "already running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; return; fi
  resolve_jars
  write_config
  if [ ! -f "$state/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid)
    java_cmd kafka.tools.StorageTool format --standalone -t "$cluster_id" \
      -c "$state/server.properties" >/dev/null
  fi
  log "starting broker on 127.0.0.1:$port (state in $state)"
  java_cmd --exec kafka.Kafka "$state/server.properties" >"$state/stdout.log" 2>&1 </dev/null &
  echo $! > "$pidfile"
  local waited=0
  until ready; do
    if ! running; then log "broker exited; see $state/server.log and $state/stdout.log"; exit 1; fi
    if [ "$waited" -ge "$ready_timeout" ]; then log "not ready after ${ready_timeout}s"; down; exit 1; fi
    sleep 1; waited=$((waited + 1))
  done
  log "ready on 127.0.0.1:$port"
}

down() {
  running || { rm -f "$pidfile"; return; }
  local pid; pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  log "stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) running && ready ;;
  resolve) resolve_jars ;;
  *) echo "usage: $0 up|down|status|resolve" >&2; exit 2 ;;
esac

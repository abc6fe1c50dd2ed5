#!/usr/bin/env bash
# Local Apache Kafka for development and tests: one KRaft broker+controller on 127.0.0.1, or a cluster of three.
#
#   scripts/kafka/kafka.sh up            resolve jars (first run only), format storage, start, wait until ready
#   scripts/kafka/kafka.sh down          stop what `up` started (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka/kafka.sh status        exit 0 when every node runs and answers metadata requests
#   scripts/kafka/kafka.sh stop-node N   (KAFKA_NODES=3) stop node N (1..3) as `down` does, leave the others
#   scripts/kafka/kafka.sh start-node N  (KAFKA_NODES=3) start node N again and wait until it answers
#
# Environment:
#   KAFKA_NODES     1 (default): one node, listener KAFKA_PORT, controller KAFKA_PORT+1.
#                   3: three nodes, each a broker and a controller of one KRaft quorum; node N (1..3) listens on
#                   KAFKA_PORT+N-1 and its controller on KAFKA_PORT+N+2 (so KAFKA_PORT .. KAFKA_PORT+5) and keeps
#                   its state in KAFKA_DIR/node-N; topics default to 3 replicas and min.insync.replicas 2
#   KAFKA_PORT      listener port (default 9092); the first port of the ranges above
#   KAFKA_DIR       state folder: logs, pid, config (default ./var/kafka)
#   KAFKA_LIB_DIR   jar cache (default ./.cache/kafka-libs); filled by Maven from scripts/kafka/pom.xml
#   KAFKA_HEAP      JVM heap of each node (default 512m, or 384m with KAFKA_NODES=3)
#   KAFKA_READY_TIMEOUT  seconds to wait for readiness (default 90)
#   KAFKA_SECURITY  secured listeners next to PLAINTEXT, comma-separated (default none; `all` is all three;
#                   one node only):
#                     ssl             TLS on KAFKA_PORT+2 (client certificate required, see KAFKA_SSL_CLIENT_AUTH)
#                     sasl_plaintext  SASL without TLS on KAFKA_PORT+3
#                     sasl_ssl        SASL over TLS on KAFKA_PORT+4
#                   SASL listeners take PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 for one user. Certificates (a CA, the
#                   broker's for 127.0.0.1 and localhost, a client's) are made with openssl and keytool at start when
#                   missing or expiring, in $KAFKA_DIR/security/; clients read ca.pem, client.pem, client.key, and
#                   client.env holds the variables a worker needs (`set -a; . client.env`).
#   KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD  the SASL user (default ota, and a password generated once and kept
#                   in $KAFKA_DIR/security/client.env); letters, digits and ._~- only
#   KAFKA_SSL_CLIENT_AUTH  required (default), requested or none: client certificates on the ssl listener
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
port=${KAFKA_PORT:-9092}
nodes=${KAFKA_NODES:-1}
state=${KAFKA_DIR:-$root/var/kafka}
libs=${KAFKA_LIB_DIR:-$root/.cache/kafka-libs}
if [ "$nodes" = 1 ]; then heap=${KAFKA_HEAP:-512m}; else heap=${KAFKA_HEAP:-384m}; fi
ready_timeout=${KAFKA_READY_TIMEOUT:-90}
security=${KAFKA_SECURITY:-}
# The JVM's logging; a node's own for the node, this one (server.log, or tools.log for a cluster) for the tools.
log_config=$state/log4j2.properties
[ "$security" = all ] && security=ssl,sasl_plaintext,sasl_ssl
secrets=$state/security

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
    -Dlog4j2.configurationFile="$log_config" \
    -cp "$libs/*" "${@:2}"
}

# shellcheck source=scripts/kafka/security.sh
. "$here/security.sh"

# --- Nodes: the single node keeps its files in $state itself; node N of a cluster in $state/node-N ----------------

node_dir() { if [ "$nodes" = 1 ]; then echo "$state"; else echo "$state/node-$1"; fi; }
client_port() { echo $((port + $1 - 1)); }
controller_port() { if [ "$nodes" = 1 ]; then echo $((port + 1)); else echo $((port + nodes + $1 - 1)); fi; }
pidfile() { echo "$(node_dir "$1")/kafka.pid"; }
all_nodes() { seq 1 "$nodes"; }

check_nodes() {
  case "$nodes" in 1 | 3) ;; *) log "KAFKA_NODES: 1 or 3"; exit 2 ;; esac
  if [ "$nodes" != 1 ] && [ -n "$security" ]; then
    log "KAFKA_SECURITY: secured listeners are for the single node only (KAFKA_NODES=1)"; exit 2
  fi
}

# The argument of stop-node and start-node: a node of a cluster.
check_node() {
  [ "$nodes" != 1 ] || { log "stop-node and start-node need a cluster (KAFKA_NODES=3)"; exit 2; }
  [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$nodes" ] || { log "node: 1 to $nodes"; exit 2; }
  [ -f "$(node_dir "$1")/server.properties" ] || { log "node $1 has no configuration in $state; run up first"; exit 1; }
}

# log4j2 configuration writing to FILE.
write_log_config() {
  cat > "$1" <<PROPS
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $2
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

write_config() {
  local n=$1 dir; dir=$(node_dir "$1")
  mkdir -p "$dir/data"
  local client; client=$(client_port "$n")
  local listeners="PLAINTEXT://127.0.0.1:$client" map="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT" name upper
  for name in ssl sasl_plaintext sasl_ssl; do
    wanted "$name" || continue
    upper=${name^^}
    listeners="$listeners,$upper://127.0.0.1:$(listener_port "$name")"
    map="$map,$upper:$upper"
  done
  # One copy of everything on one node. On a cluster, as docs/scaling.md asks of production brokers: three copies of
  # every topic (the consumer offsets and Faust's own topics included), two in sync for a write with acks=all.
  local replicas=$nodes min_isr=$((nodes > 1 ? 2 : 1)) quorum="" i
  for i in $(all_nodes); do quorum="$quorum${quorum:+,}127.0.0.1:$(controller_port "$i")"; done
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.bootstrap.servers=$quorum
listeners=$listeners,CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$map
log.dirs=$dir/data
num.partitions=4
default.replication.factor=$replicas
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$replicas
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=$min_isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
PROPS
  [ -z "$security" ] || write_security_config >> "$dir/server.properties"
  write_log_config "$dir/log4j2.properties" "$dir/server.log"
}

running() { local pidfile; pidfile=$(pidfile "$1"); [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$(client_port "$1")") 2>/dev/null; }

# Print those of the nodes given that do not serve requests yet. A KRaft broker serves requests only once the
# controller has unfenced it. One node: a metadata request through the broker's own admin tool. A cluster: one
# ApiVersions request to each broker the metadata lists, which names the unfenced brokers that answer.
unready() {
  local n bootstrap="" answering
  if [ "$nodes" = 1 ]; then
    listening 1 && java_cmd org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" --list \
      >/dev/null 2>&1 || echo 1
    return
  fi
  for n in "$@"; do
    listening "$n" || { printf '%s\n' "$@"; return; }
    bootstrap="$bootstrap${bootstrap:+,}127.0.0.1:$(client_port "$n")"
  done
  answering=$(java_cmd org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$bootstrap" 2>/dev/null |
    sed -n 's/^[^ ]* (id: \([0-9]*\) rack: [^ ]* isFenced: false) -> (.*/\1/p') || true
  for n in "$@"; do grep -qx "$n" <<<"$answering" || echo "$n"; done
}

# Kafka ids are 16 random bytes in URL-safe base64 without padding, and never start with "-".
random_id() {
  local id="-"
  while [[ "$id" == -* ]]; do id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='); done
  echo "$id"
}

# Format each node's storage once. One node is its own quorum (--standalone); the nodes of a cluster are formatted
# with one cluster id and the same --initial-controllers (each controller's id, address and metadata directory id),
# both kept in $state/cluster.env so that a node formatted later joins the same cluster.
format() {
  local n cluster_id initial="" scram=()
  if [ "$nodes" = 1 ]; then
    [ ! -f "$state/data/meta.properties" ] || return 0
    cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid)
    if [ -n "$security" ]; then
      while read -r spec; do scram+=(--add-scram "$spec"); done < <(scram_specs)
    fi
    java_cmd kafka.tools.StorageTool format --standalone -t "$cluster_id" \
      -c "$state/server.properties" "${scram[@]}" >/dev/null
    [ -z "$security" ] || scram_specs | sha256sum > "$secrets/scram.applied"
    return 0
  fi
  if [ ! -f "$state/cluster.env" ]; then
    for n in $(all_nodes); do initial="$initial${initial:+,}$n@127.0.0.1:$(controller_port "$n"):$(random_id)"; done
    printf 'CLUSTER_ID=%s\nINITIAL_CONTROLLERS=%s\n' "$(random_id)" "$initial" > "$state/cluster.env"
  fi
  cluster_id=$(sed -n 's/^CLUSTER_ID=//p' "$state/cluster.env")
  initial=$(sed -n 's/^INITIAL_CONTROLLERS=//p' "$state/cluster.env")
  local formatting=() pid
  for n in $(all_nodes); do  # together: three JVMs started one after another take three times as long
    [ ! -f "$(node_dir "$n")/data/meta.properties" ] || continue
    java_cmd kafka.tools.StorageTool format -t "$cluster_id" --initial-controllers "$initial" \
      -c "$(node_dir "$n")/server.properties" >/dev/null &
    formatting+=("$!")
  done
  for pid in "${formatting[@]}"; do wait "$pid"; done
}

# Start node N's JVM in the background (nothing when it runs already).
launch() {
  local n=$1 dir; dir=$(node_dir "$1")
  running "$n" && return 0
  local log_config=$dir/log4j2.properties
  java_cmd --exec kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 </dev/null &
  echo $! > "$(pidfile "$n")"
}

# Why node N exited, on stderr: whoever started it (a test, CI) may remove its folder before anyone reads it.
exit_report() {
  local dir; dir=$(node_dir "$1")
  log "the last lines node $1 wrote:"
  tail -n 40 "$dir/stdout.log" >&2 2>/dev/null || true
  grep -E 'ERROR|FATAL|Exception' "$dir/server.log" 2>/dev/null | tail -n 20 >&2 || true
}

# Wait until every node given answers; on a timeout stop them all (a half-started cluster helps no one).
await_ready() {
  local waited=0 n pending=("$@")
  while :; do
    for n in "${pending[@]}"; do
      running "$n" && continue
      log "node $n exited; see $(node_dir "$n")/server.log and $(node_dir "$n")/stdout.log"; exit_report "$n"
      stop "$@"; exit 1
    done
    mapfile -t pending < <(unready "${pending[@]}")
    [ "${#pending[@]}" -gt 0 ] || return 0
    if [ "$waited" -ge "$ready_timeout" ]; then log "not ready after ${ready_timeout}s"; stop "$@"; exit 1; fi
    sleep 1; waited=$((waited + 1))
  done
}

up() {
  check_nodes
  local n started=()
  for n in $(all_nodes); do running "$n" || started+=("$n"); done
  if [ "${#started[@]}" = 0 ]; then
    log "already running (pid $(cat "$(pidfile 1)")) on 127.0.0.1:$port"
    return
  fi
  check_security
  resolve_jars
  prepare_security
  mkdir -p "$state"
  for n in $(all_nodes); do write_config "$n"; done
  [ "$nodes" = 1 ] || write_log_config "$log_config" "$state/tools.log"
  format
  if [ "$nodes" = 1 ]; then
    log "starting broker on 127.0.0.1:$port (state in $state)"
  else
    log "starting ${#started[@]} of $nodes nodes on 127.0.0.1:$port-$(client_port "$nodes"), controllers on" \
      "$(controller_port 1)-$(controller_port "$nodes") (state in $state)"
  fi
  for n in "${started[@]}"; do launch "$n"; done
  await_ready "${started[@]}"
  if ! apply_scram; then log "could not set the SCRAM credentials; see $state/scram.log"; down; exit 1; fi
  log "ready on 127.0.0.1:$port${security:+ (and $(describe_listeners))}"
}

# SIGTERM to each node given, then SIGKILL to those still running 30 s later. Together, not one after another: a
# cluster's nodes shut down in parallel.
stop() {
  local n pid pids=()
  for n in "$@"; do
    if running "$n"; then
      pid=$(cat "$(pidfile "$n")")
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for _ in $(seq 1 30); do
    alive "${pids[@]}" || break
    sleep 1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for n in "$@"; do rm -f "$(pidfile "$n")"; done
}

alive() {
  local pid
  for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}

down() {
  local n every running_nodes=()
  for n in $(all_nodes); do running "$n" && running_nodes+=("$n"); done
  mapfile -t every < <(all_nodes)
  stop "${every[@]}"
  [ "${#running_nodes[@]}" = 0 ] || log "stopped"
}

stop_node() {
  check_nodes
  check_node "${1:-}"
  running "$1" || { log "node $1 is not running"; return; }
  stop "$1"
  log "node $1 stopped"
}

start_node() {
  check_nodes
  check_node "${1:-}"
  launch "$1"
  await_ready "$1"
  log "node $1 ready on 127.0.0.1:$(client_port "$1")"
}

status() {
  local n every
  mapfile -t every < <(all_nodes)
  for n in "${every[@]}"; do running "$n" || return 1; done
  [ -z "$(unready "${every[@]}")" ]
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  stop-node) stop_node "${2:-}" ;;
  start-node) start_node "${2:-}" ;;
  resolve) resolve_jars ;;
  *) echo "usage: $0 up|down|status|stop-node N|start-node N|resolve" >&2; exit 2 ;;
esac

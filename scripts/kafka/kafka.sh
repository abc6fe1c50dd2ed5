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
#   KAFKA_SECURITY  secured listeners next to PLAINTEXT, comma-separated (default none; `all` is all three):
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
controller_port=$((port + 1))
state=${KAFKA_DIR:-$root/var/kafka}
libs=${KAFKA_LIB_DIR:-$root/.cache/kafka-libs}
heap=${KAFKA_HEAP:-512m}
ready_timeout=${KAFKA_READY_TIMEOUT:-90}
pidfile=$state/kafka.pid
security=${KAFKA_SECURITY:-}
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
    -Dlog4j2.configurationFile="$state/log4j2.properties" \
    -cp "$libs/*" "${@:2}"
}

# The port of each secured listener, and whether KAFKA_SECURITY asks for it.
listener_port() {
  case "$1" in ssl) echo $((port + 2)) ;; sasl_plaintext) echo $((port + 3)) ;; sasl_ssl) echo $((port + 4)) ;; esac
}
wanted() { [[ ",$security," == *",$1,"* ]]; }

check_security() {
  local name
  for name in ${security//,/ }; do
    [ -n "$(listener_port "$name")" ] || { log "KAFKA_SECURITY: unknown listener '$name' (ssl, sasl_plaintext, sasl_ssl, all)"; exit 2; }
  done
  case "${KAFKA_SSL_CLIENT_AUTH:-required}" in required | requested | none) ;;
    *) log "KAFKA_SSL_CLIENT_AUTH: expected required, requested or none"; exit 2 ;;
  esac
}

write_config() {
  mkdir -p "$state/data"
  local listeners="PLAINTEXT://127.0.0.1:$port" map="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT" name upper
  for name in ssl sasl_plaintext sasl_ssl; do
    wanted "$name" || continue
    upper=${name^^}
    listeners="$listeners,$upper://127.0.0.1:$(listener_port "$name")"
    map="$map,$upper:$upper"
  done
  cat > "$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=$listeners,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$map
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
  [ -z "$security" ] || write_security_config >> "$state/server.properties"
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

# --- Secured listeners (KAFKA_SECURITY) ---------------------------------------------------------------------

# The SASL user and a generated password, kept in client.env so that every `up` (and every client) agrees.
load_credentials() {
  mkdir -p "$secrets" && chmod 700 "$secrets"
  local kept_user="" kept_password=""
  if [ -f "$secrets/client.env" ]; then
    kept_user=$(sed -n 's/^KAFKA_SASL_USERNAME=//p' "$secrets/client.env")
    kept_password=$(sed -n 's/^KAFKA_SASL_PASSWORD=//p' "$secrets/client.env")
  fi
  sasl_user=${KAFKA_SASL_USERNAME:-${kept_user:-ota}}
  sasl_password=${KAFKA_SASL_PASSWORD:-${kept_password:-$(openssl rand -hex 16)}}
  # They end up in a JAAS line and in a SCRAM spec ([password=...]), where quotes, commas and brackets break.
  local value
  for value in "$sasl_user" "$sasl_password"; do
    [[ "$value" =~ ^[A-Za-z0-9._~-]+$ ]] || { log "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD: letters, digits and ._~- only"; exit 2; }
  done
  if [ ! -f "$secrets/store.password" ]; then
    (umask 077; openssl rand -hex 16 > "$secrets/store.password")
  fi
  store_password=$(cat "$secrets/store.password")
}

# sign NAME CN EXTENSIONS: a P-256 key and a certificate for it signed by the local CA.
sign() {
  local name=$1 subject=$2 extensions=$3
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$subject" \
    -keyout "$secrets/$name.key" -out "$secrets/$name.csr" 2>/dev/null
  printf '%s\n' "$extensions" "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" > "$secrets/$name.ext"
  openssl x509 -req -in "$secrets/$name.csr" -CA "$secrets/ca.pem" -CAkey "$secrets/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 825 -extfile "$secrets/$name.ext" -out "$secrets/$name.pem" 2>/dev/null
  rm -f "$secrets/$name.csr" "$secrets/$name.ext"
}

# A CA, the broker's certificate for 127.0.0.1 and localhost (PKCS#12 keystore), a truststore holding the CA (for
# client certificates) and a client certificate; made again when missing or expiring within a day.
make_certificates() {
  if [ -f "$secrets/broker.p12" ] && [ -f "$secrets/client.pem" ] &&
    openssl x509 -checkend 86400 -noout -in "$secrets/broker.pem" >/dev/null 2>&1 &&
    openssl x509 -checkend 86400 -noout -in "$secrets/client.pem" >/dev/null 2>&1; then
    return
  fi
  command -v openssl >/dev/null || { log "openssl is required for KAFKA_SECURITY"; exit 1; }
  log "making a CA and certificates in $secrets"
  rm -f "$secrets"/*.pem "$secrets"/*.key "$secrets"/*.p12
  (
    umask 077
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/CN=ota-stream local Kafka CA $(openssl rand -hex 4)" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$secrets/ca.key" -out "$secrets/ca.pem" 2>/dev/null
    sign broker localhost "subjectAltName=DNS:localhost,IP:127.0.0.1"$'\n'"extendedKeyUsage=serverAuth"
    sign client ota-stream-client "extendedKeyUsage=clientAuth"
    openssl pkcs12 -export -name broker -in "$secrets/broker.pem" -inkey "$secrets/broker.key" \
      -certfile "$secrets/ca.pem" -passout "pass:$store_password" -out "$secrets/broker.p12"
    "${JAVA_HOME:+$JAVA_HOME/bin/}keytool" -importcert -noprompt -alias ca -file "$secrets/ca.pem" \
      -storetype PKCS12 -keystore "$secrets/truststore.p12" -storepass "$store_password" >/dev/null 2>&1
  )
  chmod 644 "$secrets/ca.pem"
}

write_client_env() {
  (umask 077; cat > "$secrets/client.env" <<ENV
KAFKA_SSL_CA_FILE=$secrets/ca.pem
KAFKA_SSL_CERT_FILE=$secrets/client.pem
KAFKA_SSL_KEY_FILE=$secrets/client.key
KAFKA_SASL_USERNAME=$sasl_user
KAFKA_SASL_PASSWORD=$sasl_password
ENV
  )
}

prepare_security() {
  [ -n "$security" ] || return 0
  load_credentials
  make_certificates
  write_client_env
}

write_security_config() {
  local name jaas
  cat <<PROPS
ssl.keystore.type=PKCS12
ssl.keystore.location=$secrets/broker.p12
ssl.keystore.password=$store_password
ssl.key.password=$store_password
ssl.truststore.type=PKCS12
ssl.truststore.location=$secrets/truststore.p12
ssl.truststore.password=$store_password
listener.name.ssl.ssl.client.auth=${KAFKA_SSL_CLIENT_AUTH:-required}
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
PROPS
  for name in sasl_plaintext sasl_ssl; do
    wanted "$name" || continue
    jaas="org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user=\"$sasl_password\";"
    printf 'listener.name.%s.plain.sasl.jaas.config=%s\n' "$name" "$jaas"
    printf 'listener.name.%s.scram-sha-%s.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n' \
      "$name" 256 "$name" 512
  done
}

# SCRAM credentials live in the cluster metadata: given to `format` on new storage, else set through the broker.
describe_listeners() {
  local name out=()
  for name in ssl sasl_plaintext sasl_ssl; do wanted "$name" && out+=("${name^^} :$(listener_port "$name")"); done
  local IFS=,; echo "${out[*]}" | sed 's/,/, /g'
}

scram_specs() {
  printf 'SCRAM-SHA-256=[name=%s,password=%s]\n' "$sasl_user" "$sasl_password"
  printf 'SCRAM-SHA-512=[name=%s,password=%s]\n' "$sasl_user" "$sasl_password"
}

scram_applied() { [ -f "$secrets/scram.applied" ] && [ "$(cat "$secrets/scram.applied")" = "$(scram_specs | sha256sum)" ]; }

apply_scram() {
  [ -n "$security" ] && ! scram_applied || return 0
  local mechanism
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do  # one per request: the broker refuses two for one user
    java_cmd org.apache.kafka.tools.ConfigCommand --bootstrap-server "127.0.0.1:$port" --alter \
      --entity-type users --entity-name "$sasl_user" --add-config "$mechanism=[password=$sasl_password]" \
      >"$state/scram.log" 2>&1 || return 1
  done
  scram_specs | sha256sum > "$secrets/scram.applied"
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
  check_security
  resolve_jars
  prepare_security
  write_config
  if [ ! -f "$state/data/meta.properties" ]; then
    local cluster_id scram=()
    cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid)
    if [ -n "$security" ]; then
      while read -r spec; do scram+=(--add-scram "$spec"); done < <(scram_specs)
    fi
    java_cmd kafka.tools.StorageTool format --standalone -t "$cluster_id" \
      -c "$state/server.properties" "${scram[@]}" >/dev/null
    [ -z "$security" ] || scram_specs | sha256sum > "$secrets/scram.applied"
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
  if ! apply_scram; then log "could not set the SCRAM credentials; see $state/scram.log"; down; exit 1; fi
  log "ready on 127.0.0.1:$port${security:+ (and $(describe_listeners))}"
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

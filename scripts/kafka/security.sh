# Secured listeners of the single local broker (KAFKA_SECURITY), for scripts/kafka/kafka.sh, which sources this
# file after setting port, state, security and secrets and defining log and java_cmd: the listeners' ports, the SASL
# user, the certificates, the broker's security properties and the SCRAM credentials.
# shellcheck shell=bash

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

# Helpers for the session-gate suites (tests/gate-*.bats): a test CA and the device UI
# certificate, a nexus-bind database where alice owns dev1 and bob owns dev2, and
# relay → hub → nexus-tunnel with the gate for dev1.ui.test and dev2.ui.test (app.test on
# the same tunnel is passed through to a TLS web server untouched).
# In a suite:  load lib/common; load lib/tunnel; load lib/gate
#
#   gate_stack              everything above (gate_keys, then gate_start [UI args]); UI_PORT, UI_LOG (the UI's request log);
#                           GATE_TUNNEL_ARGS (an array) are added to nexus-tunnel's options
#   session_url USER DEV    nexus-bind session … → the https://DEV.ui.test/?nx=… URL
#   gcurl ARGS...           curl with the test CA, *.ui.test:443 and app.test:443 → the relay

gate_certs() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$T/ca.key" -out "$T/ca.crt" -subj /CN=nexus-test-ca 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ui.key" \
    -out "$T/ui.csr" -subj /CN=dev1.ui.test 2>/dev/null
  openssl x509 -req -in "$T/ui.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
    -days 2 -out "$T/ui.crt" \
    -extfile <(printf 'subjectAltName=DNS:dev1.ui.test,DNS:dev2.ui.test\n') 2>/dev/null
}

gate_bind() {
  export NEXUS_DB="$T/bind.db"
  nexus-token keygen -t es256 -o "$T/grant.key" >/dev/null
  nexus-token keygen -t hs256 -o "$T/users.secret" >/dev/null
  local c
  c=$(nexus-bind code --owner alice) && nexus-bind claim "$c" --device dev1 >/dev/null
  c=$(nexus-bind code --owner bob) && nexus-bind claim "$c" --device dev2 >/dev/null
  nexus-token issue -k "$T/users.secret" --sub alice --ttl 1h --scope sessions > "$T/alice.tok"
  nexus-token issue -k "$T/users.secret" --sub bob --ttl 1h --scope sessions > "$T/bob.tok"
}

session_url() {
  nexus-bind session "$2" --user-token "$T/$1.tok" --verify-key "$T/users.secret" \
    --grant-key "$T/grant.key" --host '{device}.ui.test'
}

gate_stack() {
  gate_keys
  gate_start "$@"
}

gate_keys() {
  tunnel_keys
  gate_certs
  gate_bind
}

gate_start() {
  UI_LOG="$T/ui-requests.jsonl"
  : > "$UI_LOG"
  bg ui "$HELPERS/gate-ui" --log "$UI_LOG" "$@"
  wait_log "$T/ui.log" '^listening ' || return 1
  UI_PORT=$(awk '/^listening /{print $2; exit}' "$T/ui.log")
  start_web secure --cert "$T/web.crt" --key "$T/web.key"
  start_hub
  start_relay
  start_tunnel gate --hostname dev1.ui.test --hostname dev2.ui.test --hostname app.test \
    --map "app.test=127.0.0.1:$WEB_PORT" --to "127.0.0.1:$UI_PORT" \
    --gate-host dev1.ui.test --gate-host dev2.ui.test \
    --gate-verify-key "$T/grant.key.pub" --gate-cert "$T/ui.crt" --gate-cert-key "$T/ui.key" \
    ${GATE_TUNNEL_ARGS[@]+"${GATE_TUNNEL_ARGS[@]}"}
  TUNNEL_PID=$BG_PID
  wait_backends 1
}

gcurl() {
  curl -sS --max-time 60 --cacert "$T/ca.crt" \
    --connect-to "dev1.ui.test:443:127.0.0.1:$RELAY_PORT" \
    --connect-to "dev2.ui.test:443:127.0.0.1:$RELAY_PORT" "$@"
}

# The __Host-nx value of a Set-Cookie in the headers file $1.
cookie_of() {
  sed -n 's/^[Ss]et-[Cc]ookie: __Host-nx=\([^;]*\);.*/\1/p' "$1" | tr -d '\r'
}

# Helpers for the ACME suites: Debian's pebble (ACME test server) and pebble-challtestsrv
# (its DNS, answering 127.0.0.1 for every name), all on loopback (shared/FACTS.md §10).
# In a suite:  load lib/common; load lib/acme
#
#   start_pebble [VALIDITY_S]  pebble on PEBBLE_PORT (ACME) and PEBBLE_MGMT (management),
#                              its HTTP-01 validations dialling 127.0.0.1:$ACME_HTTP_PORT
#                              (set it first: the port that answers the challenges);
#                              PEBBLE_DIR is the directory URL, $T/pebble-ca.pem the CA of
#                              pebble's own HTTPS, $T/pebble-root.pem the issuing root.
#                              PEBBLE_WFE_NONCEREJECT defaults to 0 here (set it to test).

start_pebble() {
  local validity=${1:-0}
  export PEBBLE_AUTHZREUSE=${PEBBLE_AUTHZREUSE:-0}
  command -v pebble >/dev/null || skip "pebble is not installed (scripts/install-deps)"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$T/pebble-ca.key" -out "$T/pebble-ca.pem" -subj /CN=pebble-test-ca \
    -addext basicConstraints=critical,CA:TRUE 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/pebble.key" \
    -out "$T/pebble.csr" -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$T/pebble.ext"
  openssl x509 -req -in "$T/pebble.csr" -CA "$T/pebble-ca.pem" -CAkey "$T/pebble-ca.key" \
    -CAcreateserial -days 2 -extfile "$T/pebble.ext" -out "$T/pebble.crt" 2>/dev/null
  # Ports are picked free but another suite may take one before pebble binds it: a pebble
  # that exits (address in use) is started again on other ports, three times at most.
  local try
  for try in 1 2 3; do
    PEBBLE_PORT=$(free_port)
    PEBBLE_MGMT=$(free_port)
    local dns=$(free_port) cmgmt=$(free_port)
    local vp=""
    [ "$validity" -gt 0 ] && vp=", \"certificateValidityPeriod\": $validity"
    cat > "$T/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$PEBBLE_PORT",
 "managementListenAddress": "127.0.0.1:$PEBBLE_MGMT",
 "certificate": "$T/pebble.crt", "privateKey": "$T/pebble.key",
 "httpPort": $ACME_HTTP_PORT, "tlsPort": $(free_port),
 "ocspResponderURL": "", "externalAccountBindingRequired": false$vp}}
JSON
    bg challtestsrv pebble-challtestsrv -dns01 "127.0.0.1:$dns" -http01 "" -https01 "" \
      -tlsalpn01 "" -management "127.0.0.1:$cmgmt" -defaultIPv4 127.0.0.1 -defaultIPv6 ""
    CHALL_PID=$BG_PID
    wait_log "$T/challtestsrv.log" 'DNS' 1 10 || true
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=${PEBBLE_WFE_NONCEREJECT:-0} \
      bg pebble pebble -config "$T/pebble.json" -dnsserver "127.0.0.1:$dns"
    PEBBLE_PID=$BG_PID
    local i up=0
    for i in $(seq 600); do  # 30 s: pebble makes its CA keys at start
      if (exec 3<>"/dev/tcp/127.0.0.1/$PEBBLE_PORT") 2>/dev/null &&
         (exec 3<>"/dev/tcp/127.0.0.1/$PEBBLE_MGMT") 2>/dev/null; then
        up=1; break
      fi
      kill -0 "$PEBBLE_PID" 2>/dev/null && kill -0 "$CHALL_PID" 2>/dev/null || break
      sleep 0.05
    done
    [ "$up" = 1 ] && break
    echo "# pebble did not come up (try $try):" >&3; tail -3 "$T/pebble.log" "$T/challtestsrv.log" | sed 's/^/# /' >&3
    kill "$PEBBLE_PID" "$CHALL_PID" 2>/dev/null; wait "$PEBBLE_PID" "$CHALL_PID" 2>/dev/null
    [ "$try" = 3 ] && { echo "pebble would not start" >&2; return 1; }
  done
  PEBBLE_DIR="https://127.0.0.1:$PEBBLE_PORT/dir"
  curl -sS --cacert "$T/pebble-ca.pem" "https://127.0.0.1:$PEBBLE_MGMT/roots/0" \
    > "$T/pebble-root.pem"
  grep -q 'BEGIN CERTIFICATE' "$T/pebble-root.pem"
}

# Helpers for the end-to-end tunnel suites (tests/tunnel-*.bats): throw-away certificates
# and secrets, and starters for web services, nexus-hub, nexus-relay and backends.
# In a suite:  load lib/common; load lib/tunnel
#
#   tunnel_keys                  $T/hub.{crt,key} (localhost, 127.0.0.1), $T/web.{crt,key}
#                                (app.test, *.wild.test), $T/hub.secret
#   start_web NAME [args]        tests/helpers/web-server on a free port: WEB_PORT
#   start_hub [args]             nexus-hub on a free port: HUB_PORT, relay socket $T/hub.sock
#   start_relay [args]           nexus-relay on RELAY_PORT (a free port unless set)
#   start_fake NAME [args]       tests/helpers/fake-backend (python) against the hub
#   start_tunnel NAME [args]     nexus-tunnel against the hub
#   wait_log FILE REGEX [N] [S]  wait until FILE has N lines matching REGEX (default 1, 10 s)
#   wait_backends N              the hub has registered N backends in total
#   streams_spread_over N        30 requests to app.test through the relay are served, and the
#                                hub opened their streams on N distinct sessions
#   bulk_both_ways               100 MB down and up through the relay to app.test (a web
#                                service started by start_web), intact, beside 20 requests

HELPERS="$NEXUS_SRC/tests/helpers"

tunnel_keys() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$T/hub.key" -out "$T/hub.crt" \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$T/web.key" -out "$T/web.crt" \
    -subj /CN=app.test -addext 'subjectAltName=DNS:app.test,DNS:*.wild.test,DNS:other.test' \
    2>/dev/null
  # Leak checking off for this one call: under ASan, nexus-token's option vector is reported
  # as a leak at exit (not this suite's subject; the token suites cover nexus-token).
  nexus-token keygen -t hs256 -o "$T/hub.secret" >/dev/null
}

wait_log() {
  local f=$1 re=$2 n=${3:-1} secs=${4:-10} i
  for i in $(seq $((secs * 20))); do
    [ "$(grep -cE -- "$re" "$f" 2>/dev/null)" -ge "$n" ] && return 0
    sleep 0.05
  done
  echo "$f: fewer than $n lines matching '$re' after ${secs}s:" >&2
  tail -20 "$f" >&2
  return 1
}

start_web() {
  local name=$1; shift
  bg "web-$name" "$HELPERS/web-server" --root "$T" --name "$name" "$@"
  wait_log "$T/web-$name.log" '^listening ' || return 1
  WEB_PORT=$(awk '/^listening /{print $2; exit}' "$T/web-$name.log")
}

start_hub() {
  bg_listener hub "msg=listening backends=@PORT@ " nexus-hub --listen "127.0.0.1:@PORT@" \
    --cert "$T/hub.crt" --key "$T/hub.key" --secret-file "$T/hub.secret" \
    --relay-socket "$T/hub.sock" -v "$@" || return 1
  HUB_PORT=$BG_PORT HUB_PID=$BG_PID
}

# start_relay [ARGS...]: on RELAY_PORT if set, else on a free port
start_relay() {
  LISTEN_PORT=${RELAY_PORT:-} bg_listener relay "msg=listening addr=127.0.0.1:@PORT@( |$)" \
    nexus-relay --listen "127.0.0.1:@PORT@" --hub "$T/hub.sock" "$@" || return 1
  RELAY_PORT=$BG_PORT RELAY_PID=$BG_PID
}

start_fake() {
  local name=$1; shift
  bg "backend-$name" "$HELPERS/fake-backend" --hub "127.0.0.1:$HUB_PORT" --ca "$T/hub.crt" \
    --secret "$T/hub.secret" --name "$name" "$@"
}

start_tunnel() {
  local name=$1; shift
  bg "tunnel-$name" nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" \
    --servername localhost --cafile "$T/hub.crt" --secret-file "$T/hub.secret" \
    --name "$name" -v "$@"
}

wait_backends() {
  wait_log "$T/hub.log" 'msg="backend registered"' "$1" 15
}

streams_spread_over() {
  local i sessions
  for i in $(seq 30); do
    run relay_curl "http://app.test:$RELAY_PORT/who"
    assert_output svc
  done
  sessions=$(grep 'msg="stream open"' "$T/hub.log" | grep -oE 'session=[0-9]+' | sort -u | wc -l)
  echo "# 30 streams over $sessions sessions" >&3
  [ "$sessions" = "$1" ]
}

bulk_both_ways() {
  local down up
  head -c 100000000 /dev/urandom > "$T/big"
  relay_curl -o "$T/got" "http://app.test:$RELAY_PORT/big" &
  down=$!
  relay_curl -o "$T/up.sha" -T "$T/big" "http://app.test:$RELAY_PORT/upload" &
  up=$!
  for i in $(seq 20); do
    run relay_curl "http://app.test:$RELAY_PORT/who"
    assert_output svc
  done
  wait "$down"
  wait "$up"
  [ "$(sha256sum < "$T/got")" = "$(sha256sum < "$T/big")" ]
  [ "$(cat "$T/up.sha")" = "$(sha256sum "$T/big" | cut -d' ' -f1) 100000000" ]
}

# curl through the relay with app names resolved to 127.0.0.1.
relay_curl() {
  curl -sS --max-time 60 --cacert "$T/web.crt" \
    --resolve "app.test:$RELAY_PORT:127.0.0.1" \
    --resolve "a.wild.test:$RELAY_PORT:127.0.0.1" \
    --resolve "other.test:$RELAY_PORT:127.0.0.1" "$@"
}

# start_backend NAME --hostname H... --target ADDR [--weight N]: the suites' backend:
# nexus-tunnel when it is built (--target becomes --to), else the scripted fake-backend.
# NEXUS_TEST_BACKEND=fake forces the fake one.
start_backend() {
  if [ "${NEXUS_TEST_BACKEND:-}" != fake ] && command -v nexus-tunnel >/dev/null; then
    local name=$1 a=(); shift
    while [ $# -gt 0 ]; do
      case "$1" in --target) a+=(--to "$2"); shift 2 ;; *) a+=("$1"); shift ;; esac
    done
    start_tunnel "$name" "${a[@]}"
  else
    start_fake "$@"
  fi
}

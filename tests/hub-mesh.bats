#!/usr/bin/env bats
# Hubs in a mesh (issue 16): three hubs on loopback. Hub B has the backends and offers them
# to hub A (--peer wss://A/mesh); hub C is a peer of A with no backends. End users reach
# B's backends through A's relay, by SNI and by Host; when B goes, A drops the routes and
# answers 502 at once; when B returns, traffic flows again; a silent peer is dropped by
# the read deadline (both ways); bulk data arrives intact; a peer with a wrong secret, a
# hub certificate from another CA, or (mutual TLS) a client certificate from another CA or
# with a name outside the rule is refused.
load lib/common
load lib/tunnel

# start_mesh_hub NAME [args]: a hub with the peer secret on ${NAME}_PORT (kept if set),
# relay socket $T/NAME.sock, log $T/hub-NAME.log.
start_mesh_hub() {
  local name=$1 var="${1}_PORT"; shift
  [ -n "${!var:-}" ] || printf -v "$var" '%s' "$(free_port)"
  bg "hub-$name" nexus-hub --listen "127.0.0.1:${!var}" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/$name.sock" \
    --peer-secret-file "$T/peer.secret" --node-name "hub-$name" \
    --ping-interval 1s --backend-timeout 4s -v "$@"
  printf -v "${name}_PID" '%s' "$BG_PID"
  wait_port "${!var}"
}

start_b() {
  start_mesh_hub B --peer "wss://127.0.0.1:$A_PORT/mesh" --peer-ca "$T/hub.crt" \
    --metrics "127.0.0.1:$B_METRICS"
}

suite_setup() {
  tunnel_keys
  nexus-token keygen -t hs256 -o "$T/peer.secret" >/dev/null
  echo "hello through the mesh" > "$T/hello.txt"
  start_web secure --cert "$T/web.crt" --key "$T/web.key"; SECURE_PORT=$WEB_PORT
  start_web plain; PLAIN_PORT=$WEB_PORT
  A_METRICS=$(free_port); B_METRICS=$(free_port)
  start_mesh_hub A --metrics "127.0.0.1:$A_METRICS"
  bg relay nexus-relay --listen "127.0.0.1:${RELAY_PORT:=$(free_port)}" --hub "$T/A.sock"
  wait_port "$RELAY_PORT"
  start_b
  start_mesh_hub C --peer "wss://127.0.0.1:$A_PORT/mesh" --peer-ca "$T/hub.crt"
  HUB_PORT=$B_PORT
  start_tunnel tls --hostname app.test --to "127.0.0.1:$SECURE_PORT" --retry
  start_tunnel plain --hostname other.test --to "127.0.0.1:$PLAIN_PORT" --retry
  wait_log "$T/hub-B.log" 'msg="backend registered"' 2 15
  wait_log "$T/hub-A.log" 'msg="peer routes".*node=hub-B.*app\.test' 1 15
  wait_log "$T/hub-A.log" 'msg="peer routes".*node=hub-B.*other\.test' 1 15
}

http_code() { relay_curl -o /dev/null -w '%{http_code}' "$@" || true; }

# dialled_fake_peer NAME [fake-mesh-peer args]: a scripted accepting peer
# (tests/helpers/fake-mesh-peer, log $T/fake-peer.log) that a fresh hub NAME (log
# $T/hub-NAME.log) dials, with a tunnel for other.test on that hub; the peer asks once
# other.test is announced.
dialled_fake_peer() {
  local name=$1 port; shift
  bg fake-peer "$HELPERS/fake-mesh-peer" --cert "$T/hub.crt" --key "$T/hub.key" \
    --wait-route other.test "$@"
  wait_log "$T/fake-peer.log" '^listening '
  port=$(awk '/^listening /{print $2; exit}' "$T/fake-peer.log")
  HUB_PORT=$(free_port)
  bg "hub-$name" nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/$name.sock" --node-name "hub-$name" \
    --peer-secret-file "$T/peer.secret" --peer "wss://127.0.0.1:$port/mesh" \
    --peer-ca "$T/hub.crt"
  wait_port "$HUB_PORT"
  start_tunnel "plain-$name" --hostname other.test --to "127.0.0.1:$PLAIN_PORT" --retry
}

@test "a backend on hub B answers through hub A's relay, by SNI and by Host" {
  run relay_curl "https://app.test:$RELAY_PORT/hello.txt"
  assert_success
  assert_output "hello through the mesh"
  run relay_curl "http://other.test:$RELAY_PORT/hello.txt"
  assert_success
  assert_output "hello through the mesh"
  # both peers are linked; C (no backends) announced an empty set
  wait_log "$T/hub-A.log" 'msg="peer routes".*node=hub-C.*routes=-'
  grep -q 'msg="peer link up".*node=hub-B' "$T/hub-A.log"
  # metrics: B has one link up, A learned B's two keys, and neither counts a peer link as
  # a backend session
  run curl -sS "http://127.0.0.1:$B_METRICS/metrics"
  assert_line "nexus_hub_peer_links_up 1"
  assert_line "nexus_hub_sessions 2"
  run curl -sS "http://127.0.0.1:$A_METRICS/metrics"
  assert_line "nexus_hub_peer_routes 2"
  assert_line "nexus_hub_sessions 0"
  run curl -sS "http://127.0.0.1:$A_METRICS/backends"
  assert_output "[]"
  kill -USR1 "$A_PID"
  wait_log "$T/hub-A.log" 'msg=status backends=0 .* peer_links_up=0 peer_routes=2$'
  # a name nobody serves, at A or at a peer, is still "no route" at once
  run curl -sS --max-time 20 -o /dev/null -w '%{http_code}' \
    --resolve "nobody.test:$RELAY_PORT:127.0.0.1" "http://nobody.test:$RELAY_PORT/"
  assert_output 502
}

@test "hub B goes: A drops its routes and answers 502 at once; B returns: traffic flows again" {
  [ "$(http_code "http://other.test:$RELAY_PORT/hello.txt")" = 200 ]
  kill -KILL "$B_PID"
  wait_log "$T/hub-A.log" 'msg="peer link down".*node=hub-B'
  [ "$(http_code "http://other.test:$RELAY_PORT/hello.txt")" = 502 ]
  run relay_curl "https://app.test:$RELAY_PORT/hello.txt"
  assert_failure
  start_b
  wait_log "$T/hub-B.log" 'msg="backend registered"' 2 30
  wait_log "$T/hub-A.log" 'msg="peer routes".*node=hub-B.*other\.test' 2 30
  run relay_curl "http://other.test:$RELAY_PORT/hello.txt"
  assert_success
  assert_output "hello through the mesh"
}

@test "a peer that goes silent is dropped by the read deadline, and comes back after" {
  [ "$(http_code "http://other.test:$RELAY_PORT/hello.txt")" = 200 ]
  kill -STOP "$B_PID"
  wait_log "$T/hub-A.log" 'msg="backend session ended".*backend=hub-B.*reason="backend silent' 1 30
  [ "$(http_code "http://other.test:$RELAY_PORT/hello.txt")" = 502 ]
  kill -CONT "$B_PID"
  local i code=
  for i in $(seq 60); do
    code=$(http_code "http://other.test:$RELAY_PORT/hello.txt")
    [ "$code" = 200 ] && break
    sleep 0.5
  done
  [ "$code" = 200 ]
  # the other way: the hub B dialled goes silent, B's read deadline drops the link, redials
  local ups downs
  # (grep -c says 0 and fails when B never had to drop the link before: not an error)
  ups=$(grep -c 'msg="peer link up"' "$T/hub-B.log" || true)
  downs=$(grep -c 'msg="peer link down".*reason="peer silent' "$T/hub-B.log" || true)
  kill -STOP "$A_PID"
  wait_log "$T/hub-B.log" 'msg="peer link down".*reason="peer silent' $((downs + 1)) 30
  kill -CONT "$A_PID"
  wait_log "$T/hub-B.log" 'msg="peer link up"' $((ups + 1)) 30
}

@test "a backend leaving hub B withdraws its route at A" {
  grep -q 'other\.test' "$T/hub-A.log"
  # the plain tunnel is the last one started by suite_setup
  kill -TERM "${NX_PIDS[-1]}"
  wait_log "$T/hub-A.log" 'msg="peer routes".*node=hub-B.*version=[0-9]+ routes=app\.test$'
  [ "$(http_code "http://other.test:$RELAY_PORT/hello.txt")" = 502 ]
  run relay_curl "https://app.test:$RELAY_PORT/hello.txt"
  assert_output "hello through the mesh"
}

@test "100 MB each way through two hubs arrive intact" {
  head -c 100000000 /dev/urandom > "$T/big.bin"
  relay_curl -o "$T/got.bin" "https://app.test:$RELAY_PORT/big.bin"
  [ "$(sha256sum < "$T/got.bin")" = "$(sha256sum < "$T/big.bin")" ]
  run relay_curl -H 'Expect:' -T "$T/big.bin" "http://other.test:$RELAY_PORT/upload"
  assert_success
  assert_output "$(sha256sum < "$T/big.bin" | cut -d' ' -f1) 100000000"
}

@test "a peer with a wrong secret is refused, and so is a hub certificate from another CA" {
  nexus-token keygen -t hs256 -o "$T/wrong.secret" >/dev/null
  D_PORT=$(free_port)
  bg hub-D nexus-hub --listen "127.0.0.1:$D_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/D.sock" --node-name hub-D \
    --peer-secret-file "$T/wrong.secret" --peer "wss://127.0.0.1:$A_PORT/mesh" \
    --peer-ca "$T/hub.crt"
  wait_log "$T/hub-A.log" 'msg="backend refused".*code=1008 reason="peer token refused'
  wait_log "$T/hub-D.log" 'msg="peer link failed".*1008: peer token refused'
  run grep -c 'msg="peer link up"' "$T/hub-D.log"
  assert_output 0
  run grep -c 'msg="peer link up".*node=hub-D' "$T/hub-A.log"
  assert_output 0
  E_PORT=$(free_port)
  bg hub-E nexus-hub --listen "127.0.0.1:$E_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/E.sock" --node-name hub-E \
    --peer-secret-file "$T/peer.secret" --peer "wss://127.0.0.1:$A_PORT/mesh" \
    --peer-ca "$T/web.crt"
  wait_log "$T/hub-E.log" 'msg="peer link failed".*tls'
  run grep -c 'msg="peer link up".*node=hub-E' "$T/hub-A.log"
  assert_output 0
}

@test "a stream for a key the dialling hub no longer serves is refused at once; one it serves is delivered locally" {
  # a scripted accepting peer (tests/helpers/fake-mesh-peer) that B dials: it asks B for a
  # key B has no backend for (the race after B lost a route), then for one it has
  dialled_fake_peer F --ask ghost.test --ask other.test \
    --request $'GET /hello.txt HTTP/1.0\r\nHost: other.test\r\n\r\n'
  wait_log "$T/fake-peer.log" '^disconnect ghost\.test reason=no route' 1 30
  wait_log "$T/fake-peer.log" '^reply other\.test HTTP/1\.[01] 200 .*hello through the mesh' 1 30
  grep -q '^token$' "$T/fake-peer.log"
  grep -q 'msg="peer stream refused: no local route" route=ghost.test' "$T/hub-F.log"
}

@test "a peer's connect with a forged client address is refused, and nothing is injected into the log" {
  # the client address and route key a peer sends land in our log lines and in the backend's
  # connect: a newline in either is a hostile peer, refused before anything is logged or dialled
  dialled_fake_peer F --ask other.test --ask 'other.test
msg=injected' --client-ip $'127.0.0.1:9\nlevel=ERROR msg=injected'
  wait_log "$T/fake-peer.log" '^disconnect other\.test reason=bad request' 1 30
  wait_log "$T/fake-peer.log" '^disconnect other\.test' 2 30
  [ "$(grep -c 'reason=bad request' "$T/fake-peer.log")" = 2 ]
  grep -q 'msg="peer stream refused: malformed route or client address"' "$T/hub-F.log"
  run grep -E '^(level=ERROR )?msg=injected' "$T/hub-F.log"
  [ "$status" = 1 ]
}

@test "a peer token whose sub is not a node name is refused (it would name the peer in our logs)" {
  run timeout 30 "$HELPERS/fake-mesh-peer" --dial "wss://127.0.0.1:$A_PORT/mesh" \
    --secret "$T/peer.secret" --ca "$T/hub.crt" --announce forged.test --sub 'x peer=evil'
  assert_failure
  refute_line up
  wait_log "$T/hub-A.log" 'msg="backend refused".*code=1008 reason="peer token refused: sub is not a node name"'
  run grep 'peer=evil' "$T/hub-A.log"
  assert_failure
}

@test "a peer that lost the route: the end user gets 502 / unrecognized_name at once" {
  # a dialling peer that announces ghost.test but answers every stream with "no route"
  bg liar "$HELPERS/fake-mesh-peer" --dial "wss://127.0.0.1:$A_PORT/mesh" \
    --secret "$T/peer.secret" --ca "$T/hub.crt" --announce ghost.test
  wait_log "$T/liar.log" '^up$'
  wait_log "$T/hub-A.log" 'msg="peer routes".*node=liar.*routes=ghost\.test'
  run curl -sS --max-time 20 -o /dev/null -w '%{http_code}' \
    --resolve "ghost.test:$RELAY_PORT:127.0.0.1" "http://ghost.test:$RELAY_PORT/"
  assert_output 502
  run curl -sS --max-time 20 --cacert "$T/web.crt" \
    --resolve "ghost.test:$RELAY_PORT:127.0.0.1" "https://ghost.test:$RELAY_PORT/"
  assert_failure
  assert_output --partial "unrecognized name"
  wait_log "$T/liar.log" '^refused ' 2
  grep -q 'msg="peer has no route".*route=ghost.test' "$T/hub-A.log"
}

@test "a peer may announce thousands of keys (one 100 KB message)" {
  bg liar "$HELPERS/fake-mesh-peer" --dial "wss://127.0.0.1:$A_PORT/mesh" \
    --secret "$T/peer.secret" --ca "$T/hub.crt" --announce-many 4000
  wait_log "$T/liar.log" '^up$'
  wait_log "$T/hub-A.log" 'msg="peer routes".*node=liar'
  run curl -sS "http://127.0.0.1:$A_METRICS/metrics"
  assert_line "nexus_hub_peer_routes 4002"
  run curl -sS --max-time 20 -o /dev/null -w '%{http_code}' \
    --resolve "n3999.many.test:$RELAY_PORT:127.0.0.1" "http://n3999.many.test:$RELAY_PORT/"
  assert_output 502
  wait_log "$T/liar.log" '^refused '
}

# mesh_cert NAME SAN [KEYOPTS...]: $T/NAME.{key,crt} signed by $T/mesh-ca.
mesh_cert() {
  local name=$1 san=$2; shift 2
  openssl req -newkey "$@" -nodes -keyout "$T/$name.key" -out "$T/$name.csr" -subj "/CN=$name" \
    2>/dev/null
  printf 'subjectAltName=%s\n' "$san" > "$T/$name.ext"
  openssl x509 -req -in "$T/$name.csr" -CA "$T/mesh-ca.crt" -CAkey "$T/mesh-ca.key" \
    -CAcreateserial -days 2 -out "$T/$name.crt" -extfile "$T/$name.ext" 2>/dev/null
}

# start_dialler NAME CERT: a hub with CERT that offers nothing to G over mutual TLS.
start_dialler() {
  local name=$1 cert=$2 port; port=$(free_port)
  bg "hub-$name" nexus-hub --listen "127.0.0.1:$port" --cert "$T/$cert.crt" --key "$T/$cert.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/$name.sock" --node-name "hub-$name" \
    --peer-secret-file "$T/peer.secret" --peer "wss://127.0.0.1:$G_PORT/mesh" \
    --peer-ca "$T/mesh-ca.crt"
}

@test "mutual TLS: a peer needs a certificate from --peer-client-ca with a name --peer-client-name allows" {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$T/mesh-ca.key" \
    -out "$T/mesh-ca.crt" -subj /CN=mesh-ca 2>/dev/null
  mesh_cert g 'DNS:localhost,IP:127.0.0.1' rsa:2048
  mesh_cert h 'DNS:hub-h.mesh.test' ec -pkeyopt ec_paramgen_curve:prime256v1
  mesh_cert j 'DNS:hub-j.other.test' rsa:2048
  G_PORT=$(free_port)
  bg hub-G nexus-hub --listen "127.0.0.1:$G_PORT" --cert "$T/g.crt" --key "$T/g.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/G.sock" --node-name hub-G \
    --peer-secret-file "$T/peer.secret" --peer-client-ca "$T/mesh-ca.crt" \
    --peer-client-name '*.mesh.test'
  wait_port "$G_PORT"
  start_dialler H h    # the mesh CA, an allowed name, an EC key: taken
  wait_log "$T/hub-G.log" 'msg="peer link up".*node=hub-H'
  wait_log "$T/hub-H.log" 'msg="peer link up"'
  start_dialler J j    # the mesh CA, a name outside *.mesh.test: refused
  wait_log "$T/hub-G.log" 'msg="backend refused".*code=1008 reason="peer certificate has no name matching'
  start_dialler I hub  # another CA (the suite's self-signed hub certificate): refused
  wait_log "$T/hub-G.log" 'msg="backend refused".*code=1008 reason="peer certificate required"'
  wait_log "$T/hub-I.log" 'msg="peer link failed".*1008: peer certificate required'
  run cat "$T/hub-J.log" "$T/hub-I.log"
  refute_output --partial 'msg="peer link up"'
  run grep -c 'msg="peer link up"' "$T/hub-G.log"
  assert_output 1
  # backends on /connect show no certificate and are served as before
  HUB_PORT=$G_PORT
  bg tunnel-g nexus-tunnel --hub "wss://127.0.0.1:$G_PORT/connect" --cafile "$T/mesh-ca.crt" \
    --secret-file "$T/hub.secret" --hostname g.test --to "127.0.0.1:$PLAIN_PORT" -v
  wait_log "$T/hub-G.log" 'msg="backend registered".*routes=g\.test'
}

@test "bad mesh options are usage errors" {
  run nexus-hub --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/x.sock" --peer "wss://127.0.0.1:1/mesh"
  assert_failure 2
  assert_line --index 0 "nexus-hub: --peer needs --peer-secret-file FILE"
  run nexus-hub --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/x.sock" --peer "https://h/mesh" \
    --peer-secret-file "$T/peer.secret"
  assert_failure 2
  assert_line --index 0 "nexus-hub: --peer: want a wss:// URL, not 'https://h/mesh'"
  run nexus-hub --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/x.sock" --peer-secret-file "$T/peer.secret" \
    --peer-client-name '*.mesh.test'
  assert_failure 2
  assert_line --index 0 "nexus-hub: --peer-client-name needs --peer-client-ca FILE"
  run nexus-hub -n --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/x.sock" --peer "wss://h:1/mesh" \
    --peer-secret-file "$T/peer.secret"
  assert_success
  assert_output --regexp '^nexus-hub: configuration OK: .* mesh=on peers=1$'
  # -n loads the peer secret too: a missing one is a runtime failure naming it
  run nexus-hub -n --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/x.sock" --peer "wss://h:1/mesh" \
    --peer-secret-file "$T/missing.secret"
  assert_failure 1
  assert_output --partial "missing.secret"
}

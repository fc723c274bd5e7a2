#!/usr/bin/env bats
# A hub dialled by IP address: the tunnel matches the IP against the certificate's
# iPAddress SANs (as curl, openssl and Go do), never against its DNS names; a certificate
# that does not match is refused with the names it has and a hint at --servername.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web plain; PLAIN_PORT=$WEB_PORT
}

# cert NAME SAN: a self-signed hub certificate $T/NAME.{crt,key} with that subjectAltName.
cert() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$T/$1.key" -out "$T/$1.crt" \
    -subj "/CN=${3:-nexus hub}" -addext "subjectAltName=$2" 2>/dev/null
}

# hub_with NAME [LISTEN_HOST]: nexus-hub with certificate NAME.
hub_with() {
  HUB_PORT=$(free_port)
  local host=${2:-127.0.0.1}
  case "$host" in *:*) host="[$host]" ;; esac
  bg hub nexus-hub --listen "$host:$HUB_PORT" --cert "$T/$1.crt" --key "$T/$1.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/hub.sock" -v
  wait_log "$T/hub.log" 'msg=listening|listening' 1 10
}

# tunnel_to URL CAFILE [args]: nexus-tunnel publishing app.test without --servername.
tunnel_to() {
  local url=$1 ca=$2; shift 2
  bg tunnel nexus-tunnel --hub "$url" --cafile "$ca" --secret-file "$T/hub.secret" \
    --name dev --hostname app.test --to "127.0.0.1:$PLAIN_PORT" "$@"
}

@test "a certificate with IP:127.0.0.1 only: the tunnel dials wss://127.0.0.1 and serves" {
  cert ip 'IP:127.0.0.1'
  hub_with ip
  start_relay
  tunnel_to "wss://127.0.0.1:$HUB_PORT/connect" "$T/ip.crt"
  wait_log "$T/tunnel.log" "serving app.test"
  wait_backends 1
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
}

@test "a DNS-only certificate dialled by IP is refused, naming what it has and --servername" {
  cert dns 'DNS:localhost,DNS:hub.example.com'
  hub_with dns
  tunnel_to "wss://127.0.0.1:$HUB_PORT/connect" "$T/dns.crt"
  wait_log "$T/tunnel.log" 'certificate does not match'
  run grep -m1 'certificate does not match' "$T/tunnel.log"
  assert_output --partial "IP address '127.0.0.1'"
  assert_output --partial 'DNS:localhost, DNS:hub.example.com'
  assert_output --partial '--servername'
  run grep -c 'serving' "$T/tunnel.log"
  assert_output 0
}

@test "a dNSName that spells the IP does not count as an IP SAN" {
  cert dnsip 'DNS:127.0.0.1' 127.0.0.1
  hub_with dnsip
  tunnel_to "wss://127.0.0.1:$HUB_PORT/connect" "$T/dnsip.crt"
  wait_log "$T/tunnel.log" 'certificate does not match'
  run grep -m1 'certificate does not match' "$T/tunnel.log"
  assert_output --partial 'DNS:127.0.0.1'
  run grep -c 'serving' "$T/tunnel.log"
  assert_output 0
}

@test "a certificate for another IP is refused; --servername with its DNS name serves" {
  cert other 'DNS:localhost,IP:10.9.8.7'
  hub_with other
  tunnel_to "wss://127.0.0.1:$HUB_PORT/connect" "$T/other.crt"
  wait_log "$T/tunnel.log" 'certificate does not match'
  run grep -m1 'certificate does not match' "$T/tunnel.log"
  assert_output --partial 'DNS:localhost, IP:10.9.8.7'
  kill "$BG_PID" 2>/dev/null || true  # a refusal before the first session may have ended it (exit 1)
  wait "$BG_PID" 2>/dev/null || true
  start_relay
  tunnel_to "wss://127.0.0.1:$HUB_PORT/connect" "$T/other.crt" --servername localhost
  wait_log "$T/tunnel.log" "serving app.test"
  wait_backends 1
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output plain
}

@test "a DNS name still does not match a certificate for other names, and says which" {
  cert dns 'DNS:hub.example.com'
  hub_with dns
  tunnel_to "wss://localhost:$HUB_PORT/connect" "$T/dns.crt"
  wait_log "$T/tunnel.log" 'certificate does not match'
  run grep -m1 'certificate does not match' "$T/tunnel.log"
  assert_output --partial "host 'localhost': it is for DNS:hub.example.com"
}

@test "IPv6: a certificate with IP:::1 serves a tunnel dialling wss://[::1]" {
  python3 -c 'import socket;s=socket.socket(socket.AF_INET6);s.bind(("::1",0))' 2>/dev/null ||
    skip "no IPv6 loopback"
  cert ip6 'IP:::1'
  hub_with ip6 ::1
  start_relay
  tunnel_to "wss://[::1]:$HUB_PORT/connect" "$T/ip6.crt"
  wait_log "$T/tunnel.log" "serving app.test"
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output plain
}

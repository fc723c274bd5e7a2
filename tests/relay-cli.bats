#!/usr/bin/env bats
# nexus-relay's command line: help, version, -n configuration check, usage errors (exit 2).
load lib/common

@test "--help prints usage on stdout and exits 0; --version prints the version" {
  run nexus-relay --help
  assert_success
  assert_output --partial "usage: nexus-relay --listen ADDR"
  run nexus-relay --version
  assert_success
  assert_output --regexp '^nexus-relay [0-9]+\.[0-9]+'
}

@test "-n checks a good configuration and exits 0 without binding" {
  run nexus-relay -n --listen 127.0.0.1:1 --route 'a.test=127.0.0.1:9' --route '*.w.test=127.0.0.1:9' --hub /nonexistent/hub.sock
  assert_success
  assert_output --partial "configuration OK (1 listen address, 2 routes, hub /nonexistent/hub.sock)"
}

@test "-n reads a --config file and NEXUS_RELAY_* variables" {
  printf 'listen 127.0.0.1:1\nroute a.test=127.0.0.1:9\n# comment\nroute b.test=127.0.0.1:9\n' > "$T/relay.conf"
  NEXUS_RELAY_HUB=/run/hub.sock run nexus-relay -n --config "$T/relay.conf"
  assert_success
  assert_output --partial "2 routes, hub /run/hub.sock"
}

@test "bad routes are usage errors (exit 2) with a clear message" {
  run nexus-relay -n --listen 127.0.0.1:1 --route 'a.test'
  assert_failure 2
  assert_output --partial "want NAME=HOST:PORT"
  run nexus-relay -n --listen 127.0.0.1:1 --route '*.com=127.0.0.1:9'
  assert_failure 2
  assert_output --partial "at least two labels"
  run nexus-relay -n --listen 127.0.0.1:1 --route 'tcp:99999=127.0.0.1:9'
  assert_failure 2
  run nexus-relay -n --listen 127.0.0.1:1 --route 'a.test=127.0.0.1'
  assert_failure 2
  assert_output --partial "bad address"
  run nexus-relay -n --listen 127.0.0.1:1 --route 'a.test=127.0.0.1:9' --route 'A.TEST.=127.0.0.1:8'
  assert_failure 2
  assert_output --partial "given twice"
}

@test "other usage errors exit 2" {
  run nexus-relay --listen 127.0.0.1:1
  assert_failure 2
  assert_output --partial "nothing to route to"
  run nexus-relay -n --inetd --listen 127.0.0.1:1 --hub /x
  assert_failure 2
  run nexus-relay -n --listen nocolon --hub /x
  assert_failure 2
  run nexus-relay -n --header-timeout soon --hub /x
  assert_failure 2
  assert_output --partial "header-timeout"
  run nexus-relay -n --user no-such-user-here --hub /x --listen 127.0.0.1:1
  assert_failure 2
  run nexus-relay --bogus
  assert_failure 2
}

@test "a port already in use is a runtime failure (exit 1), said in one line" {
  P=$(free_port)
  python3 -c 'import socket,sys,time;s=socket.socket();s.bind(("127.0.0.1",int(sys.argv[1])));s.listen();time.sleep(5)' "$P" &
  pid=$!
  wait_port "$P"
  run nexus-relay --listen "127.0.0.1:$P" --hub /x
  kill $pid
  assert_failure 1
  assert_output --partial "cannot listen"
}

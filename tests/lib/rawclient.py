#!/usr/bin/env python3
"""Raw TCP client for the relay tests.

rawclient.py PORT [--send-file F] [--send STR] [--chunk N | --split N] [--delay S]
             [--half-close] [--hold S] [--timeout S] [--hex]
Connects to 127.0.0.1:PORT, sends the bytes (in chunks of N with S seconds between them, or
with --split the first N bytes, then after S seconds all the rest in one write),
optionally half-closes, then prints what comes back until EOF ("EOF" on stderr) or the
timeout ("TIMEOUT" on stderr).  --hold waits before sending anything (a silent client).

rawclient.py PORT --tls SNI --cafile CA --chunk N [--path /who]
TLS client whose ClientHello leaves in N-byte writes: handshake, GET PATH, print the reply.
"""
import argparse, socket, ssl, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("--send-file")
ap.add_argument("--send")
ap.add_argument("--chunk", type=int, default=0)
ap.add_argument("--split", type=int, default=0)
ap.add_argument("--delay", type=float, default=0.0)
ap.add_argument("--half-close", action="store_true")
ap.add_argument("--hold", type=float, default=0.0)
ap.add_argument("--timeout", type=float, default=10.0)
ap.add_argument("--hex", action="store_true")
ap.add_argument("--tls")
ap.add_argument("--cafile")
ap.add_argument("--path", default="/who")
a = ap.parse_args()

s = socket.create_connection(("127.0.0.1", a.port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.settimeout(a.timeout)


def send_chunked(data):
    if a.split:
        s.sendall(data[:a.split])
        time.sleep(a.delay)
        s.sendall(data[a.split:])
        return
    n = a.chunk or len(data) or 1
    for i in range(0, len(data), n):
        s.sendall(data[i:i + n])
        if a.delay:
            time.sleep(a.delay)


if a.tls:
    ctx = ssl.create_default_context(cafile=a.cafile)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=a.tls)

    def pump_out():
        d = out.read()
        if d:
            send_chunked(d)

    def pump_in():
        d = s.recv(65536)
        if not d:
            raise SystemExit("EOF during TLS")
        inc.write(d)

    while True:
        try:
            obj.do_handshake()
            pump_out()
            break
        except ssl.SSLWantReadError:
            pump_out()
            pump_in()
    obj.write(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (a.path, a.tls)).encode())
    pump_out()
    resp = b""
    while True:
        try:
            d = obj.read(65536)
            if not d:
                break
            resp += d
        except ssl.SSLWantReadError:
            try:
                pump_in()
            except SystemExit:
                break
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
    sys.stdout.write(resp.decode(errors="replace"))
    sys.exit(0)

if a.hold:
    time.sleep(a.hold)
data = b""
if a.send_file:
    data = open(a.send_file, "rb").read()
if a.send:
    data += a.send.encode().decode("unicode_escape").encode("latin-1")
if data:
    send_chunked(data)
if a.half_close:
    s.shutdown(socket.SHUT_WR)
got = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            print("EOF", file=sys.stderr)
            break
        got += d
except socket.timeout:
    print("TIMEOUT", file=sys.stderr)
except ConnectionResetError:
    print("RESET", file=sys.stderr)
if a.hex:
    print(got.hex())
else:
    sys.stdout.buffer.write(got)

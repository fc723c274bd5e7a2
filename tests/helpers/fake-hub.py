#!/usr/bin/python3
"""A small Nexus-Proxy-like hub for testing nexus-tunnel before (and besides) nexus-hub.

It speaks the backend protocol of shared/protocol.md with an independent WebSocket stack
(python3-websockets), checks what the tunnel sends, and writes one JSON object per event to
--events so a bats test can assert on it.

  fake-hub.py --port P --cert C --key K --secret-file S --relay-port R --route app.test
              [--mode normal|legacy|eof-after-stage0|reauth|silent|hold-credits|big-frame]
              [--events FILE]

End users connect to 127.0.0.1:R; each connection becomes a stream to the tunnel
(connect + data both ways with credits, disconnect both ways), like a real hub would do.
"""
import argparse
import asyncio
import base64
import hashlib
import hmac
import http
import json
import os
import ssl
import sys
import time
import uuid

import websockets

WINDOW, BATCH = 64, 8

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--secret-file", required=True)
ap.add_argument("--relay-port", type=int, default=0)
ap.add_argument("--route", default="app.test")
ap.add_argument("--mode", default="normal")
ap.add_argument("--events", default=None)
args = ap.parse_args()

SECRET = open(args.secret_file, "rb").read().strip()
events_f = open(args.events, "a", buffering=1) if args.events else sys.stderr
session = None  # the one backend session (enough for tests)


def event(kind, **kw):
    kw["event"] = kind
    kw["t"] = round(time.monotonic(), 3)
    events_f.write(json.dumps(kw) + "\n")


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify(token):
    """HS256 check as the Go server does it; returns claims or raises ValueError."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWS")
    head = json.loads(b64d(parts[0]))
    if head.get("alg") != "HS256":
        raise ValueError("alg " + str(head.get("alg")))
    mac = hmac.new(SECRET, (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(mac, b64d(parts[2])):
        raise ValueError("token signature is invalid")
    claims = json.loads(b64d(parts[1]))
    if claims.get("iss") != "authorizer":
        raise ValueError("bad iss")
    aud = claims.get("aud")
    if aud != "nexus" and (not isinstance(aud, list) or "nexus" not in aud):
        raise ValueError("bad aud")
    if "exp" in claims and claims["exp"] < time.time():
        raise ValueError("expired")
    return claims


def control(obj):
    return b"\x02" + json.dumps(obj, separators=(",", ":")).encode()


class Stream:
    def __init__(self, sess, reader, writer):
        self.sess = sess
        self.reader, self.writer = reader, writer
        self.id = uuid.uuid4()
        self.credits = None  # None: backend has not granted yet (send without limit)
        self.can_send = asyncio.Event()
        self.can_send.set()
        self.backend_credits = WINDOW  # what we granted the backend
        self.written = 0
        self.closed = False
        self.max_in_flight = 0


class Session:
    def __init__(self, ws):
        self.ws = ws
        self.streams = {}

    async def send(self, data):
        await self.ws.send(data)

    async def pump_user(self, st):
        """end user → backend, limited by the backend's grants once it made one"""
        try:
            while True:
                data = await st.reader.read(32768)
                if not data:
                    break
                if args.mode == "big-frame":
                    # like a Nexus Proxy server with an HTTP head over 32 KiB: the whole
                    # head as one message (protocol.md §7)
                    while b"\r\n\r\n" not in data and len(data) < 4 << 20:
                        more = await st.reader.read(65536)
                        if not more:
                            break
                        data += more
                    event("sent_frame", size=17 + len(data))
                while st.credits is not None and st.credits <= 0:
                    event("waiting_for_credits", client_id=str(st.id))
                    st.can_send.clear()
                    await st.can_send.wait()
                    if st.closed:
                        return
                if st.credits is not None:
                    st.credits -= 1
                await self.send(b"\x01" + st.id.bytes + data)
        except (ConnectionError, websockets.ConnectionClosed):
            pass
        if not st.closed:
            st.closed = True
            self.streams.pop(st.id, None)
            event("user_closed", client_id=str(st.id))
            try:
                await self.send(control({"event": "disconnect", "client_id": str(st.id)}))
            except websockets.ConnectionClosed:
                pass

    async def on_binary(self, msg):
        if msg[0] == 1:
            sid = uuid.UUID(bytes=bytes(msg[1:17]))
            st = self.streams.get(sid)
            if not st:
                event("data_unknown", client_id=str(sid))
                return
            st.backend_credits -= 1
            if st.backend_credits < 0:
                event("credit_violation", client_id=str(sid))
            if args.mode == "hold-credits":
                st.max_in_flight = max(st.max_in_flight, WINDOW - st.backend_credits)
                event("in_flight", n=WINDOW - st.backend_credits)
            st.writer.write(bytes(msg[17:]))
            await st.writer.drain()
            st.written += 1
            if st.written % BATCH == 0 and args.mode not in ("legacy", "hold-credits"):
                st.backend_credits += BATCH
                await self.send(control({"event": "resume_stream", "client_id": str(sid),
                                         "credits": BATCH}))
            return
        c = json.loads(bytes(msg[1:]))
        event("control", **{"c": c})
        sid = uuid.UUID(c["client_id"])
        st = self.streams.get(sid)
        if c["event"] == "resume_stream" and st and args.mode != "legacy":
            st.credits = (st.credits or 0) + c.get("credits", 0)
            st.can_send.set()
        elif c["event"] == "disconnect" and st:
            st.closed = True
            self.streams.pop(sid, None)
            st.can_send.set()
            try:
                await st.writer.drain()
                st.writer.close()
            except ConnectionError:
                pass


async def handler(ws, path=None):
    global session
    req = ws.request_headers
    event("upgrade", path=ws.path, headers=list(req.raw_items()))
    try:
        t0 = await asyncio.wait_for(ws.recv(), 10)
        try:
            c0 = verify(t0)
        except ValueError as e:
            event("stage0_rejected", reason=str(e))
            await ws.close(1008, "stage0 token validation failed: " + str(e))
            return
        event("stage0", claims=c0)
        if args.mode == "eof-after-stage0":
            ws.transport.close()
            return
        nonce = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        await ws.send(json.dumps({"type": "handshake_challenge", "nonce": nonce},
                                 separators=(",", ":")))
        t1 = await asyncio.wait_for(ws.recv(), 10)
        c1 = verify(t1)
        if c1.get("session_nonce") != nonce:
            event("stage1_rejected", reason="nonce")
            await ws.close(1008, "stage1 nonce mismatch")
            return
        for k in ("hostnames", "tcp_ports", "weight"):
            if c0.get(k) != c1.get(k):
                await ws.close(1008, "stage1 claims differ")
                return
        event("registered", claims=c1)
        session = Session(ws)
        if args.mode == "silent":
            ws.transport.pause_reading()
            await asyncio.sleep(3600)
        if args.mode == "garbage":
            ws.transport.write(b"\xff\x00")  # RSV bits and an unknown opcode
        if args.mode == "oversized":
            ws.max_size = None
            await ws.send(b"\x01" + os.urandom(16) + b"x" * (1 << 20))  # over 1 MiB
        if args.mode == "reauth":
            asyncio.get_running_loop().create_task(reauth(ws))
        async for msg in ws:
            if isinstance(msg, str):
                if session.reauth_nonce:
                    c = verify(msg)
                    event("reauth_ok" if c.get("session_nonce") == session.reauth_nonce
                          else "reauth_bad")
                    session.reauth_nonce = None
                continue
            await session.on_binary(msg)
    except websockets.ConnectionClosed as e:
        event("session_closed", code=e.code)
    except asyncio.TimeoutError:
        event("auth_timeout")
    finally:
        if session and session.ws is ws:
            for st in list(session.streams.values()):
                st.closed = True
                st.writer.close()
            session = None
        event("session_end")


Session.reauth_nonce = None


async def reauth(ws):
    await asyncio.sleep(1)
    if session is None:
        return
    nonce = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    session.reauth_nonce = nonce
    event("reauth_sent")
    await ws.send(json.dumps({"type": "reauth_challenge", "nonce": nonce}, separators=(",", ":")))


async def on_user(reader, writer):
    if session is None:
        event("no_backend")
        writer.close()
        return
    st = Stream(session, reader, writer)
    session.streams[st.id] = st
    peer = writer.get_extra_info("peername")
    c = {"event": "connect", "client_id": str(st.id), "conn_port": args.relay_port,
         "client_ip": "%s:%d" % (peer[0], peer[1]), "transport": "tcp", "hostname": args.route}
    if args.mode != "legacy":
        c["credits"] = WINDOW
    await session.send(control(c))
    event("stream_open", client_id=str(st.id))
    asyncio.get_running_loop().create_task(session.pump_user(st))


async def process_request(path, headers):
    if path != "/connect":
        return (http.HTTPStatus.NOT_FOUND, [], b"404 page not found\n")
    return None


async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    async with websockets.serve(handler, "127.0.0.1", args.port, ssl=ctx,
                                process_request=process_request, max_size=32785,
                                ping_interval=None, compression=None):
        if args.relay_port:
            await asyncio.start_server(on_user, "127.0.0.1", args.relay_port)
        event("ready")
        await asyncio.Future()


try:
    asyncio.run(main())
except KeyboardInterrupt:
    pass

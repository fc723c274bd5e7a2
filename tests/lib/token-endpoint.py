# A token endpoint for the nexus-vault refresh suite: answers the refresh_token grant.
# argv: PORT DIR. Per request it reads DIR/mode: "ok" (a new access token, no new refresh
# token), "rotate" (also a new refresh token), "error" (400 invalid_grant), "slow" (ok after
# 1 s). Every request is appended to DIR/requests as its form, one line.
import http.server, os, sys, time, json, urllib.parse

port, d = int(sys.argv[1]), sys.argv[2]

class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        with open(os.path.join(d, "requests"), "a") as f:
            f.write(json.dumps({k: v[0] for k, v in form.items()}) + "\n")
        with open(os.path.join(d, "requests")) as f:
            count = sum(1 for _ in f)
        mode = open(os.path.join(d, "mode")).read().strip()
        if mode == "slow":
            time.sleep(1)
        if mode == "error" or form.get("grant_type") != ["refresh_token"]:
            code, body = 400, {"error": "invalid_grant", "error_description": "revoked"}
        else:
            code, body = 200, {"access_token": "at-new-%d" % count, "token_type": "Bearer",
                               "expires_in": 3600}
            if mode == "rotate":
                body["refresh_token"] = "rt-new-%d" % count
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass

open(os.path.join(d, "ready"), "w").close()
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()

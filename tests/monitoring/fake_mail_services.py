"""Loopback stand-ins for the probe's peers, for tests only.

One HTTP server plays Mailgun (a sent message is "delivered" into the IMAP store unless
--drop), the Pushgateway and Uptime Kuma; one IMAPS server (certificate from the command line)
answers the few commands the probe uses. Prints {"http": port, "imap": port} once listening;
on SIGTERM writes what it saw to --state as JSON and exits.
"""

import argparse
import json
import re
import signal
import socketserver
import ssl
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"mailgun": [], "pushes": [], "kuma": [], "imap_logins": [], "store": {}}
LOCK = threading.Lock()


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--drop", action="store_true", help="accept mail but never deliver it")
    return p.parse_args()


ARGS = None


class Http(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, body=b"{}"):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with LOCK:
            if re.fullmatch(r"/v3/[^/]+/messages", self.path):
                form = dict(urllib.parse.parse_qsl(body))
                STATE["mailgun"].append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "form": form}
                )
                if not ARGS.drop:
                    uid = len(STATE["store"]) + 100
                    STATE["store"][str(uid)] = {"mailbox": "INBOX", "subject": form["subject"]}
                return self.reply(200, b'{"id": "<x@mailgun>", "message": "Queued"}')
            if self.path.startswith("/metrics/job/"):
                STATE["pushes"].append({"path": self.path, "body": body})
                return self.reply(200)
        self.reply(404)

    def do_GET(self):
        with LOCK:
            if self.path.startswith("/api/push/"):
                STATE["kuma"].append(self.path)
                return self.reply(200, b'{"ok": true}')
        self.reply(404)


class Imap(socketserver.StreamRequestHandler):
    def send(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.send("* OK fake IMAP ready")
        selected = None
        for raw in self.rfile:
            parts = raw.decode().rstrip("\r\n").split(" ")
            tag, cmd, rest = parts[0], parts[1].upper(), parts[2:]
            with LOCK:
                if cmd == "CAPABILITY":
                    self.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
                elif cmd == "LOGIN":
                    user, password = (a.strip('"') for a in rest)
                    STATE["imap_logins"].append(user)
                    if (user, password) != (ARGS.user, ARGS.password):
                        self.send(tag + " NO [AUTHENTICATIONFAILED] Authentication failed.")
                        continue
                elif cmd == "SELECT":
                    selected = rest[0].strip('"')
                    self.send("* {} EXISTS".format(len(STATE["store"])))
                elif cmd == "UID" and rest[0].upper() == "SEARCH":
                    needle = rest[-1].strip('"')
                    uids = [
                        u
                        for u, m in STATE["store"].items()
                        if m["mailbox"] == selected and needle in m["subject"]
                    ]
                    self.send("* SEARCH " + " ".join(uids))
                elif cmd == "UID" and rest[0].upper() == "STORE":
                    for u in rest[1].split(","):
                        STATE["store"][u]["deleted"] = True
                elif cmd == "EXPUNGE":
                    for u in [u for u, m in STATE["store"].items() if m.get("deleted")]:
                        del STATE["store"][u]
                elif cmd == "LOGOUT":
                    self.send("* BYE")
                    self.send(tag + " OK LOGOUT completed")
                    return
            self.send(tag + " OK done")


class ImapServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, context):
        super().__init__(addr, handler)
        self.context = context

    def get_request(self):
        sock, addr = super().get_request()
        return self.context.wrap_socket(sock, server_side=True), addr


def main():
    global ARGS
    ARGS = parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    http = ThreadingHTTPServer(("127.0.0.1", 0), Http)
    imap = ImapServer(("127.0.0.1", 0), Imap, ctx)
    for server in (http, imap):
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(*_):
        with LOCK, open(ARGS.state, "w") as f:
            json.dump(STATE, f)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(json.dumps({"http": http.server_address[1], "imap": imap.server_address[1]}), flush=True)
    signal.pause()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A loopback webhook receiver that verifies Standard Webhooks signatures.

Usage: webhook_receiver.py

Binds 127.0.0.1 on a free port and prints `LISTENING <port>` on stdout. Every
POST to a path other than /_control is a delivery: it is recorded with its
`webhook-id`, `webhook-timestamp` and `webhook-signature` headers and body, and
verified with PyPI `standardwebhooks` (`Webhook(secret).verify(body, headers)`)
against each secret configured for that path, separately. The answer is 500
for the first `fail_first` deliveries to the path (or all of them while
`fail_all` is set), else 204.

Control (JSON):
  POST /_control {"path": "/a", "secrets": ["whsec_..."], "fail_first": 3,
                  "fail_all": false, "status": 500}
      sets the behaviour of a path (fields not given keep their value)
  GET /_received?path=/a
      [{"webhook_id", "timestamp", "signature", "body", "verified": [bool per
        secret], "error": reason or null, "status": answer}, ...] in order
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

LOCK = threading.Lock()
BEHAVIOUR = {}  # path -> {"secrets": [...], "fail_first": int, "fail_all": bool, "status": int}
RECEIVED = {}  # path -> [record, ...]


def behaviour(path):
    return BEHAVIOUR.setdefault(
        path, {"secrets": [], "fail_first": 0, "fail_all": False, "status": 500}
    )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _answer(self, status, payload=None):
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        if payload is not None:
            self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/_received":
            return self._answer(404, {"error": "not_found"})
        path = parse_qs(url.query).get("path", ["/"])[0]
        with LOCK:
            records = list(RECEIVED.get(path, []))
        self._answer(200, records)

    def do_POST(self):
        url = urlparse(self.path)
        body = self._body()
        if url.path == "/_control":
            settings = json.loads(body or b"{}")
            with LOCK:
                current = behaviour(settings.pop("path", "/"))
                current.update(settings)
            return self._answer(200, {"ok": True})
        headers = {k.lower(): v for k, v in self.headers.items()}
        with LOCK:
            current = dict(behaviour(url.path))
            seen = len(RECEIVED.setdefault(url.path, []))
        verified = []
        error = None
        for secret in current["secrets"]:
            try:
                Webhook(secret).verify(body, headers)
                verified.append(True)
            except WebhookVerificationError as exc:
                verified.append(False)
                error = str(exc)
        refuse = current["fail_all"] or seen < current["fail_first"]
        status = current["status"] if refuse else 204
        record = {
            "webhook_id": headers.get("webhook-id"),
            "timestamp": headers.get("webhook-timestamp"),
            "signature": headers.get("webhook-signature"),
            "content_type": headers.get("content-type"),
            "body": body.decode("utf-8", "replace"),
            "verified": verified,
            "error": error,
            "status": status,
        }
        with LOCK:
            RECEIVED[url.path].append(record)
        self._answer(status)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

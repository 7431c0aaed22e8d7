#!/usr/bin/env python3
"""A loopback SMTP server that records what it receives (PyPI `aiosmtpd`).

Usage: smtp_sink.py

Listens on 127.0.0.1 on a free port and prints `LISTENING <port>` on stdout,
then one JSON line per message accepted:
  {"mail_from", "rcpt_tos": [...], "from", "to", "subject", "text"}
where `from`, `to` and `subject` are the parsed headers and `text` the
text/plain body, as Python's `email` package reads the message (so a
malformed message shows up as a parse failure, not as what Tessera meant).
Stops when stdin closes.
"""

import email
import email.policy
import json
import socket
import sys

from aiosmtpd.controller import Controller


class Recorder:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "text": body.get_content() if body is not None else None,
        }
        print(json.dumps(record), flush=True)
        return "250 Message accepted for delivery"


def free_port():
    # aiosmtpd's Controller cannot bind port 0 itself.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    port = free_port()
    controller = Controller(Recorder(), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"LISTENING {port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

"""A one-route HTTPS stand-in for api.trakt.tv on loopback, for .ci/cross:
the Windows build proxies one request to it. It answers GET /users/settings
with a small JSON user and anything else with 404, prints its port on the
first line, and stops by itself after `lifetime` seconds.

Usage: python3 .ci/fake_trakt.py CERT.pem KEY.pem LIFETIME_SECS
"""

import http.server
import json
import ssl
import sys
import threading

BODY = json.dumps({"user": {"username": "cross-check", "private": False}}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/users/settings":
            status, body = 200, BODY
        else:
            status, body = 404, b'{"error":"not found"}'
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_trakt: " + (fmt % args) + "\n")


def main():
    cert, key, lifetime = sys.argv[1], sys.argv[2], float(sys.argv[3])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    threading.Timer(lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()

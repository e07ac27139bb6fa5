"""A webhook receiver for the compose test (a test fixture): answers 204 to every POST and prints
each request as one JSON line on stdout, where `docker logs` reads it:
{"headers": {...}, "body": "<base64>"}."""
import base64
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = base64.b64encode(self.rfile.read(length)).decode()
        headers = {name.lower(): value for name, value in self.headers.items()}
        print(json.dumps({"headers": headers, "body": body}), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()

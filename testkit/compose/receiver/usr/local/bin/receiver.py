"""A webhook receiver for the compose test (a test fixture): answers 204 to every POST and prints
each request as one JSON line on stdout, where `docker logs` reads it:
{"headers": {...}, "body": "<base64>"}."""
import base64
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Requests are handled on threads at once: one whole line per write, never two interleaved.
printing = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = base64.b64encode(self.rfile.read(length)).decode()
        headers = {name.lower(): value for name, value in self.headers.items()}
        line = json.dumps({"headers": headers, "body": body}) + "\n"
        with printing:
            sys.stdout.write(line)
            sys.stdout.flush()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    # Two workers send many requests at once; socketserver's default backlog is 5.
    request_queue_size = 128


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
Server(("0.0.0.0", 8000), Handler).serve_forever()

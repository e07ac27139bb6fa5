"""A minimal OTLP/HTTP trace collector for the tests: accepts `POST /v1/traces` with a protobuf
`ExportTraceServiceRequest` (decoded with the PyPI `opentelemetry-proto` messages), prints one
JSON line per span on stdout, and answers with an empty `ExportTraceServiceResponse`. Anything
else is a 400 or 404, so a malformed export shows up as a missing span. Prints the port it
listens on first. With `--discard` (for benchmarks) it reads each export and answers without
decoding it, and needs no packages.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DISCARD = "--discard" in sys.argv[1:]
if not DISCARD:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )


def value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class Collector(BaseHTTPRequestHandler):
    def do_POST(self):
        if self.path != "/v1/traces" or self.headers.get("content-type") != "application/x-protobuf":
            self.send_response(404 if self.path != "/v1/traces" else 400)
            self.end_headers()
            return
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if DISCARD:
            # An empty ExportTraceServiceResponse is zero bytes.
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    line = {
                        "service": resource.get("service.name"),
                        "name": span.name,
                        "kind": span.kind,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "start": span.start_time_unix_nano,
                        "end": span.end_time_unix_nano,
                        "status": span.status.code,
                        "attributes": {a.key: value(a.value) for a in span.attributes},
                        "links": [{"trace_id": l.trace_id.hex(), "span_id": l.span_id.hex()} for l in span.links],
                    }
                    print(json.dumps(line), flush=True)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

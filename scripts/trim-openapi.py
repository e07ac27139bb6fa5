#!/usr/bin/env python3
"""Extracts from Svix's OpenAPI document (../shared/reference/svix-openapi.json, MIT) the
operations Herald implements and the schemas they reference, into
web/src/api/openapi/svix-subset.json. herald-web builds its served document from that file and
its own route table. Rerun after adding routes: scripts/trim-openapi.py
"""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "reference" / "svix-openapi.json"
TARGET = ROOT / "web" / "src" / "api" / "openapi" / "svix-subset.json"

# Every path Herald serves under /api/v1 (methods are taken from the route table at run time).
PATHS = [
    "/api/v1/app",
    "/api/v1/app/{app_id}",
    "/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}",
    "/api/v1/app/{app_id}/attempt/msg/{msg_id}",
    "/api/v1/app/{app_id}/endpoint",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats",
    "/api/v1/app/{app_id}/msg",
    "/api/v1/app/{app_id}/msg/{msg_id}",
    "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}",
    "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content",
    "/api/v1/app/{app_id}/msg/{msg_id}/content",
    "/api/v1/app/{app_id}/msg/{msg_id}/endpoint",
    "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend",
    "/api/v1/auth/app-portal-access/{app_id}",
    "/api/v1/auth/logout",
    "/api/v1/event-type",
    "/api/v1/event-type/{event_type_name}",
    "/api/v1/health",
    "/api/v1/health/ping",
]


def refs(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            refs(value, found)
    elif isinstance(node, list):
        for value in node:
            refs(value, found)


def main():
    doc = json.loads(SOURCE.read_text())
    paths = {p: doc["paths"][p] for p in PATHS}
    missing = [p for p in PATHS if p not in doc["paths"]]
    if missing:
        sys.exit(f"not in the source document: {missing}")
    schemas = doc["components"]["schemas"]
    wanted, queue = set(), set()
    refs(paths, queue)
    while queue:
        name = queue.pop()
        if name in wanted:
            continue
        wanted.add(name)
        found = set()
        refs(schemas[name], found)
        queue |= found - wanted
    subset = {
        "openapi": doc["openapi"],
        "info": {"title": "Herald", "description": "Herald's management API, compatible with Svix API v1."},
        "paths": paths,
        "components": {
            "schemas": {name: schemas[name] for name in sorted(wanted)},
            "securitySchemes": doc["components"]["securitySchemes"],
        },
        "security": doc.get("security", [{"HTTPBearer": []}]),
        "tags": [t for t in doc.get("tags", []) if any(t["name"] in op.get("tags", []) for ops in paths.values() for op in ops.values() if isinstance(op, dict))],
    }
    TARGET.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n")
    print(f"wrote {TARGET.relative_to(ROOT)}: {len(paths)} paths, {len(wanted)} schemas")


if __name__ == "__main__":
    main()

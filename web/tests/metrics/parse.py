"""Reads Prometheus text on stdin with the prometheus_client parser; prints every sample as JSON
lines {"name", "labels", "value"}, and each family's name and type. A malformed exposition raises."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

for family in text_string_to_metric_families(sys.stdin.read()):
    print(json.dumps({"family": family.name, "type": family.type}))
    for sample in family.samples:
        print(json.dumps({"name": sample.name, "labels": sample.labels, "value": sample.value}))

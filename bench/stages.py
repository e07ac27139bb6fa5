#!/usr/bin/env python3
"""Where a message's time goes: reads two scrapes of herald_message_progress_seconds (before and
after a run, from web and worker /metrics concatenated) and prints, for each point of a
message's way, how many messages reached it during the run, the mean and median time from the
message's creation to that point, and the mean time spent since the point before.

    stages.py BEFORE AFTER
"""
import re
import sys

ORDER = ["stored", "picked", "fanned_out", "sending", "answered", "recorded"]
WHAT = {
    "stored": "web: insert committed",
    "picked": "worker: read by a fan-out (woken by NOTIFY, the wake file or a dispatch job)",
    "fanned_out": "worker: deliveries committed",
    "sending": "worker: first attempt about to be sent",
    "answered": "worker: receiver answered",
    "recorded": "worker: outcome committed",
}
LINE = re.compile(r'^herald_message_progress_seconds_(bucket|sum|count)\{([^}]*)\} (\S+)')


def read(path):
    """{point: {"sum": s, "count": n, "buckets": {le: cumulative}}}, summed over processes."""
    out = {}
    for line in open(path):
        m = LINE.match(line)
        if not m:
            continue
        kind, labels, value = m.group(1), dict(re.findall(r'(\w+)="([^"]*)"', m.group(2))), float(m.group(3))
        point = out.setdefault(labels["point"], {"sum": 0.0, "count": 0.0, "buckets": {}})
        if kind == "bucket":
            le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
            point["buckets"][le] = point["buckets"].get(le, 0.0) + value
        else:
            point[kind] += value
    return out


def median(buckets, count):
    """The median from cumulative buckets, interpolated linearly inside its bucket."""
    lower, below = 0.0, 0.0
    for le in sorted(buckets):
        if buckets[le] >= count / 2:
            if le == float("inf"):
                return lower
            inside = buckets[le] - below
            return lower + (le - lower) * ((count / 2 - below) / inside if inside else 0)
        lower, below = le, buckets[le]
    return lower


def main():
    before, after = read(sys.argv[1]), read(sys.argv[2])
    print("| point | messages | mean since creation | median since creation | mean step from the point before |")
    print("|---|---|---|---|---|")
    previous = 0.0
    for name in ORDER:
        a = after.get(name)
        if not a:
            continue
        b = before.get(name, {"sum": 0.0, "count": 0.0, "buckets": {}})
        count = a["count"] - b["count"]
        if count <= 0:
            continue
        mean = (a["sum"] - b["sum"]) / count
        buckets = {le: v - b["buckets"].get(le, 0.0) for le, v in a["buckets"].items()}
        print(f"| {name} ({WHAT[name]}) | {count:.0f} | {mean * 1000:.2f} ms | {median(buckets, count) * 1000:.2f} ms "
              f"| {(mean - previous) * 1000:+.2f} ms |")
        previous = mean


main()

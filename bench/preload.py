#!/usr/bin/env python3
"""Preloads a migrated Herald database with ROWS messages of one application and endpoint, with
their deliveries and attempts, in SQL (generate_series on Postgres, MariaDB's sequence tables, a
recursive CTE on SQLite): no API, no receiver, so ten million take minutes.

The mix: 90 % delivered on the first attempt, 7 % exhausted after two failed attempts, 3 % failed
once and waiting for a retry due tomorrow (they sit in the due index). Messages are spread over
the last 28 days (inside every default retention, so pruning has nothing to do), across five
event types, with ~200-byte payloads. Ids are real ULIDs of their creation time, so they sort
and page like ids Herald makes.

    bench/preload.py BACKEND URL APP_ID ENDPOINT_ID ROWS [SMALL_APP_ID SMALL_ENDPOINT_ID]

BACKEND is postgres, mysql or sqlite; URL is the database URL Herald uses. With a second
application and endpoint, one message in 10 000 goes to it instead: a small tenant whose rows
are scattered through the big one's, which an index that does not lead with the tenant would
make pay for the big one's size.
"""
import subprocess
import sys
import time
import urllib.parse

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHUNK = 500_000
SPAN_MS = 28 * 86_400_000


def ulid(backend, ms, i):
    """SQL for a ULID: 10 characters of the millisecond `ms`, 16 of the row number `i`."""
    def char(value, shift):
        index = f"(({value} >> {shift}) & 31)"
        if backend == "postgres":
            index += "::int"
        return f"substr('{ALPHABET}', {index} + 1, 1)"

    parts = [char(ms, 45 - 5 * k) for k in range(10)]
    parts += ["'0000'"] + [char(i, 5 * (15 - k)) for k in range(4, 16)]
    return concat(backend, parts)


def concat(backend, parts):
    return f"CONCAT({', '.join(parts)})" if backend == "mysql" else " || ".join(parts)


def timestamp(backend, ms):
    if backend == "postgres":
        return f"(to_timestamp({ms} / 1000.0) AT TIME ZONE 'UTC')"
    if backend == "mysql":
        return f"FROM_UNIXTIME({ms} / 1000.0)"
    return f"strftime('%Y-%m-%d %H:%M:%f', {ms} / 1000.0, 'unixepoch')"


def plus_days(backend, ts, days):
    if backend == "postgres":
        return f"({ts} + interval '{days} days')"
    if backend == "mysql":
        return f"({ts} + INTERVAL {days} DAY)"
    return f"strftime('%Y-%m-%d %H:%M:%f', {ts}, '+{days} days')"


def series(backend, first, last):
    """A FROM clause numbering rows first..last as `i`."""
    if backend == "postgres":
        return f"FROM generate_series({first}, {last}) AS g(i)"
    if backend == "mysql":
        return f"FROM (SELECT seq AS i FROM seq_{first}_to_{last}) AS g"
    return (f"FROM (WITH RECURSIVE g(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM g WHERE i < {last}) "
            f"SELECT i FROM g) AS g")


def statements(backend, app, endpoint, first, last, start_ms, step_ms, small):
    # Postgres numbers the series as INTEGER: widen before multiplying.
    step = f"CAST({step_ms} AS BIGINT)" if backend == "postgres" else str(step_ms)
    ms = f"({start_ms} + i * {step})"
    app, endpoint = f"'{app}'", f"'{endpoint}'"
    if small:
        app = f"CASE WHEN i % 10000 = 0 THEN '{small[0]}' ELSE {app} END"
        endpoint = f"CASE WHEN i % 10000 = 0 THEN '{small[1]}' ELSE {endpoint} END"
    ts = timestamp(backend, ms)
    kind = "(i % 100)"
    msg_id = concat(backend, ["'msg_'", ulid(backend, ms, "i")])
    event = ("CASE i % 5 WHEN 0 THEN 'invoice.paid' WHEN 1 THEN 'invoice.failed' WHEN 2 THEN 'user.created' "
             "WHEN 3 THEN 'user.deleted' ELSE 'order.shipped' END")
    payload = concat(backend, ["'{\"n\":'", cast_text(backend, "i"), "',\"pad\":\"" + "x" * 170 + "\"}'"])
    yield (f"INSERT INTO message (id, app_id, org_id, event_type, event_id, channels, tags, payload, created_at, "
           f"expires_at, dispatched_at) SELECT {msg_id}, {app}, 'bench', {event}, NULL, NULL, NULL, {payload}, "
           f"{ts}, {plus_days(backend, ts, 90)}, {ts} {series(backend, first, last)}")
    dlv_id = concat(backend, ["'dlv_'", ulid(backend, ms, "i")])
    status = f"CASE WHEN {kind} < 90 THEN 2 WHEN {kind} < 97 THEN 4 ELSE 3 END"
    attempts = f"CASE WHEN {kind} < 90 THEN 1 WHEN {kind} < 97 THEN 2 ELSE 1 END"
    tomorrow = plus_days(backend, timestamp(backend, int(time.time() * 1000)), 1)
    next_at = f"CASE WHEN {kind} < 90 THEN {ts} WHEN {kind} < 97 THEN {plus_days(backend, ts, 1)} ELSE {tomorrow} END"
    yield (f"INSERT INTO delivery (id, message_id, endpoint_id, app_id, status, attempt_count, next_attempt_at, "
           f"lease_owner, lease_expires_at, trigger_kind, created_at, updated_at) SELECT {dlv_id}, {msg_id}, "
           f"{endpoint}, {app}, {status}, {attempts}, {next_at}, NULL, NULL, 0, {ts}, {ts} "
           f"{series(backend, first, last)}")
    for nth in (1, 2):
        at = f"({ms} + {nth - 1} * 1000)"
        attempt_id = concat(backend, ["'atmpt_'", ulid(backend, at, "i")])
        ok = f"{kind} < 90" if nth == 1 else "1 = 0"
        where = "" if nth == 1 else f" WHERE {kind} >= 90 AND {kind} < 97"
        yield (f"INSERT INTO attempt (id, message_id, endpoint_id, app_id, delivery_id, url, status, "
               f"response_status_code, response, response_duration_ms, trigger_type, created_at) "
               f"SELECT {attempt_id}, {msg_id}, {endpoint}, {app}, {dlv_id}, 'https://receiver.example.com/hook', "
               f"CASE WHEN {ok} THEN 0 ELSE 2 END, CASE WHEN {ok} THEN 200 ELSE 500 END, "
               f"CASE WHEN {ok} THEN '{{\"ok\":true}}' ELSE 'internal error' END, 12, 0, "
               f"{timestamp(backend, at)} {series(backend, first, last)}{where}")


def cast_text(backend, value):
    return f"CAST({value} AS CHAR)" if backend == "mysql" else f"CAST({value} AS TEXT)"


def run_sql(backend, url, sql):
    if backend == "postgres":
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url], input=sql, text=True, check=True)
    elif backend == "mysql":
        u = urllib.parse.urlparse(url)
        args = ["mariadb", "-h", u.hostname or "127.0.0.1", "-P", str(u.port or 3306), "-u", u.username or "root"]
        if u.password:
            args.append(f"-p{u.password}")
        subprocess.run(args + [u.path.lstrip("/")], input="SET time_zone = '+00:00';\n" + sql, text=True, check=True)
    else:
        path = url.removeprefix("sqlite://").split("?")[0]
        subprocess.run(["sqlite3", "-bail", path], input=".timeout 60000\n" + sql, text=True, check=True)


def main():
    backend, url, app, endpoint, rows = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    small = sys.argv[6:8] if len(sys.argv) >= 8 else None
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - SPAN_MS
    step_ms = max(SPAN_MS // rows, 1)
    started = time.time()
    for first in range(1, rows + 1, CHUNK):
        last = min(first + CHUNK - 1, rows)
        sql = "BEGIN;\n" + ";\n".join(statements(backend, app, endpoint, first, last, start_ms, step_ms, small)) + ";\nCOMMIT;\n"
        run_sql(backend, url, sql)
        print(f"preload: {last}/{rows} messages, {time.time() - started:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()

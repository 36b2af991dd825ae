#!/usr/bin/env python3
"""`scripts/demo --serve` as an outside check uses it.

Starts the demo, reads stdout up to `ready`, and checks:
- stdout carries exactly the four contract lines, in order, and then `ready`;
- with the printed token, `GET /events?source=S` paged to the end lists each source's events
  once each, as many as the demo says the pullers stored;
- without a token the API answers 401; the catalog and one hunting query answer over
  `POST /analytics`;
- SIGTERM stops the demo cleanly (exit status 0).

Usage: .venv/bin/python tests/demo/test_serve.py [demo flags, e.g. --ticks 2]
Only the standard library; loopback only.
"""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONTRACT = ["simulator", "aws", "query-api", "token"]
SOURCES = [
    "entra-directory-audits",
    "entra-sign-ins",
    "intune-audit",
    "exchange-message-trace",
    "m365-activity",
]
READY_WITHIN_SECS = 1500


def fail(message):
    print(f"test_serve: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def call(method, url, token=None, body=None):
    """Returns (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, None


def list_all(api, token, source):
    ids, cursor = [], None
    for _ in range(10_000):
        query = {"source": source, "page_size": "500"}
        if cursor:
            query["cursor"] = cursor
        status, body = call("GET", f"{api}/events?{urllib.parse.urlencode(query)}", token)
        if status != 200:
            fail(f"GET /events?source={source}: {status} {body}")
        ids.extend(e["id"] for e in body["events"])
        cursor = body.get("next_cursor")
        if not cursor:
            return ids
    fail(f"GET /events?source={source} did not end")


def main():
    stderr_log = tempfile.NamedTemporaryFile("w+", prefix="demo-serve-", suffix=".log", delete=False)
    demo = subprocess.Popen(
        [os.path.join(ROOT, "scripts", "demo"), "--serve", *sys.argv[1:]],
        stdout=subprocess.PIPE,
        stderr=stderr_log,
        text=True,
        start_new_session=True,
    )
    lines = queue.Queue()

    def pump():
        for line in demo.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        printed = []
        deadline = time.monotonic() + READY_WITHIN_SECS
        while True:
            try:
                line = lines.get(timeout=max(1.0, deadline - time.monotonic()))
            except queue.Empty:
                fail(f"no `ready` within {READY_WITHIN_SECS} s (demo log: {stderr_log.name})")
            if line is None:
                fail(f"the demo exited before `ready` (status {demo.wait()}; log: {stderr_log.name})")
            if line == "ready":
                break
            printed.append(line)
        keys = [l.split(": ", 1)[0] for l in printed]
        if keys != CONTRACT:
            fail(f"stdout before `ready` should be exactly {CONTRACT}, got {printed}")
        service = dict(l.split(": ", 1) for l in printed)
        for key in ("simulator", "aws", "query-api"):
            if not re.fullmatch(r"http://127\.0\.0\.1:\d+", service[key]):
                fail(f"`{key}` is not a loopback URL: {service[key]}")
        api, token = service["query-api"], service["token"]
        if token.count(".") != 2:
            fail(f"the token is not a JWT: {token[:40]}...")

        stderr_log.flush()
        with open(stderr_log.name) as f:
            log = f.read()
        stored = {
            m.group(1): int(m.group(3))
            for m in re.finditer(r"^\s+(\S+)\s+(\d+) listed,\s+(\d+) stored: the same events", log, re.M)
        }
        if sorted(stored) != sorted(SOURCES):
            fail(f"the demo's summary lacks a per-source listing check: {stored}")

        status, _ = call("GET", f"{api}/events?source=entra-sign-ins")
        if status != 401:
            fail(f"GET /events without a token: {status}, expected 401")
        total = 0
        for source in SOURCES:
            ids = list_all(api, token, source)
            if len(ids) != len(set(ids)):
                fail(f"{source}: an event listed twice")
            if len(ids) != stored[source] or stored[source] == 0:
                fail(f"{source}: {len(ids)} listed with the printed token, the demo stored {stored[source]}")
            total += len(ids)

        status, catalog = call("GET", f"{api}/analytics", token)
        if status != 200 or not catalog["enabled"] or len(catalog["queries"]) < 9:
            fail(f"GET /analytics: {status} {catalog}")
        status, result = call(
            "POST",
            f"{api}/analytics/consent_grants",
            token,
            {"start_date": "2000-01-01", "end_date": "2100-01-01"},
        )
        if status != 200 or [c["name"] for c in result["columns"]][:2] != ["time", "actor"]:
            fail(f"POST /analytics/consent_grants: {status} {result}")
        status, error = call("POST", f"{api}/analytics/no_such_query", token, {})
        if status != 404:
            fail(f"POST /analytics/no_such_query: {status} {error}")

        os.kill(demo.pid, signal.SIGTERM)
        try:
            code = demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fail("the demo did not stop within 60 s of SIGTERM")
        if code != 0:
            fail(f"the demo exited with status {code} after SIGTERM")
        print(
            f"test_serve: ok: 4 contract lines and ready; {total} events listed with the printed "
            f"token, each source as stored; hunting queries answer; SIGTERM stops it"
        )
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    os.unlink(stderr_log.name)


if __name__ == "__main__":
    main()

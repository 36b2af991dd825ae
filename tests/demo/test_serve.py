#!/usr/bin/env python3
"""`scripts/demo --serve` as an outside check uses it.

Starts the demo, reads stdout up to `ready`, and checks:
- stdout carries exactly the five contract lines, in order, and then `ready`;
- with the printed token, `GET /events?source=S` paged to the end lists each source's events
  once each, as many as the demo says the pullers stored;
- without a token the API answers 401; the catalog and one hunting query answer over
  `POST /analytics`;
- with `--attack`, tests/attack/test_attack.py then attacks the same running demo (one demo start
  for both checks, as scripts/test runs them), and must pass;
- the `console` line is the query API's `/`, served with its CSP; with `--console`,
  tests/console/test_console.py then drives the console in Chromium against the same demo, and
  must pass;
- with `--mcp`, tests/mcp/test_mcp.py (the official MCP Python SDK) then checks the MCP server of
  the same demo over HTTP and over stdio, and must pass;
- SIGTERM stops the demo cleanly (exit status 0).

Usage: .venv/bin/python tests/demo/test_serve.py [--attack] [--console] [--mcp] [demo flags, e.g. --ticks 2]
Only the standard library (and demo_serve.py beside it); loopback only.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from demo_serve import CONTRACT, ROOT, Demo, DemoError

SOURCES = [
    "entra-directory-audits",
    "entra-sign-ins",
    "intune-audit",
    "exchange-message-trace",
    "entra-risk-detections",
    "entra-provisioning",
    "defender-alerts",
    "m365-activity",
]


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


def run_against(printed, *script):
    """Runs a check that reads this demo's stdout (AUDITLAKE_DEMO_STDOUT); True when it passed."""
    with tempfile.NamedTemporaryFile("w", prefix="demo-stdout-", suffix=".txt", delete=False) as f:
        f.write("\n".join(printed + ["ready"]) + "\n")
        saved = f.name
    try:
        env = dict(os.environ, AUDITLAKE_DEMO_STDOUT=saved)
        return subprocess.run([sys.executable, os.path.join(ROOT, *script)], env=env).returncode == 0
    finally:
        os.unlink(saved)


def attack(printed):
    """Runs the attack battery against this demo; True when every probe passed."""
    return run_against(printed, "tests", "attack", "test_attack.py")


def browser_test(printed):
    """Runs the console's browser test against this demo; True when every check passed."""
    return run_against(printed, "tests", "console", "test_console.py")


def mcp_client(printed):
    """Runs tests/mcp/test_mcp.py (the MCP Python SDK) against this demo; True when it passed."""
    return run_against(printed, "tests", "mcp", "test_mcp.py")


def main():
    args = sys.argv[1:]
    with_attack = "--attack" in args
    with_console = "--console" in args
    with_mcp = "--mcp" in args
    args = [a for a in args if a not in ("--attack", "--console", "--mcp")]
    demo = Demo(args)
    try:
        try:
            demo.start()
        except DemoError as e:
            fail(str(e))
        printed = demo.printed
        keys = [l.split(": ", 1)[0] for l in printed]
        if keys != CONTRACT:
            fail(f"stdout before `ready` should be exactly {CONTRACT}, got {printed}")
        service = dict(l.split(": ", 1) for l in printed)
        for key in ("simulator", "aws", "query-api"):
            if not re.fullmatch(r"http://127\.0\.0\.1:\d+", service[key]):
                fail(f"`{key}` is not a loopback URL: {service[key]}")
        api, token = service["query-api"], service["token"]
        if service["console"] != f"{api}/":
            fail(f"`console` should be the query API's / ({api}/), got {service['console']}")
        try:
            with urllib.request.urlopen(service["console"], timeout=60) as resp:
                csp = resp.headers.get("content-security-policy", "")
                page = resp.read().decode()
        except urllib.error.URLError as e:
            fail(f"GET {service['console']}: {e}")
        if "default-src 'none'" not in csp or "script-src 'self';" not in csp or "<script type=\"module\"" not in page:
            fail(f"the console page or its CSP is not as expected: {csp!r}")
        if token.count(".") != 2:
            fail(f"the token is not a JWT: {token[:40]}...")

        log = demo.log_text()
        stored = {
            m.group(1): int(m.group(3))
            for m in re.finditer(r"^\s+(\S+)\s+(\d+) listed,\s+(\d+) stored: the same events", log, re.M)
        }
        if sorted(stored) != sorted(SOURCES):
            fail(f"the demo's summary lacks a per-source listing check: {stored}")

        backfill = re.search(r"^backfill \(auditlake backfill --start \S+ --end \S+, .*: job \S+ complete, (\d+) windows done, 0 failed", log, re.M)
        truth = re.search(r"^\s+against the audit log's truth for \S+ \.\. \S+: (\d+) records, (\d+) stored, 0 missing$", log, re.M)
        if not backfill or not truth or int(backfill.group(1)) == 0 or int(truth.group(1)) == 0 or truth.group(1) != truth.group(2):
            fail("the demo's summary lacks a complete audit search backfill checked against truth")

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

        if with_attack and not attack(printed):
            fail("the attack battery found problems (its lines above name them)")
        if with_console and not browser_test(printed):
            fail("the console's browser test failed (its lines above name the checks)")
        if with_mcp and not mcp_client(printed):
            fail("the MCP client test failed (its lines above name them)")

        code = demo.stop(timeout=60)
        if code is None:
            fail("the demo did not stop within 60 s of SIGTERM")
        if code != 0:
            fail(f"the demo exited with status {code} after SIGTERM")
        print(
            f"test_serve: ok: {len(CONTRACT)} contract lines and ready; {total} events listed with the printed "
            f"token, each source as stored; hunting queries answer; SIGTERM stops it"
        )
    finally:
        demo.kill()
    demo.remove_log()


if __name__ == "__main__":
    main()

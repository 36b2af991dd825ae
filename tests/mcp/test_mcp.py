#!/usr/bin/env python3
"""The MCP server checked with a real client, the official MCP Python SDK (`mcp`, pinned in
requirements-tools.txt), against a served demo (`scripts/demo --serve`; tests/demo/test_serve.py
runs this with `--mcp`, so the demo starts once).

Over streamable HTTP (`<query-api>/mcp`, the printed admin token): initialise, list the tools and
their schemas (against the served /openapi.json), call each tool and compare its answer with the
REST route's, read both resources, ask a question (the demo's model is the chat-completions
stand-in, testkit::llm_sim) and check its citations are stored events; no token is a 401 with
`WWW-Authenticate: Bearer`; a read-only token (minted by the simulator) calling
`run_hunting_query` is refused while its other tools answer.

Over stdio (`target/debug/auditlake mcp`, configured as the demo's API: the same tables in moto,
the simulator as the token issuer): the same tools and refusals, with tokens minted here with
the simulator's test-only issuer key (tests/fixtures/certs/issuer.pem) on the system clock, which
the stdio process verifies them on. The demo's pullers stamp events on the simulator's virtual
clock, which runs ahead of the system's, and a listing's pin is the API's clock: over stdio
`search_events` therefore lists the events ingested by the system's now, which is what is checked.

Usage: AUDITLAKE_DEMO_STDOUT=<saved demo stdout> .venv/bin/python tests/mcp/test_mcp.py
Loopback only.
"""

import asyncio
import calendar
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import httpx2
import jwt
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "demo"))
from demo_serve import parse_lines  # noqa: E402

TOOLS = ["search_events", "get_event", "get_summary", "list_sources", "list_alerts", "get_alert",
         "run_hunting_query", "ask"]
FAR = "2100-01-01"


class Checks:
    def __init__(self):
        self.failed = []
        self.passed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed.append(name)
            print(f"test_mcp: FAIL {name}: {detail}", file=sys.stderr, flush=True)


def rest(method, url, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, dict(e.headers), json.loads(raw)
        except ValueError:
            return e.code, dict(e.headers), None


def stamp(text):
    """Seconds since the epoch of an RFC 3339 UTC time (`2024-05-01T10:00:00.000Z`)."""
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))


def structured(result):
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


async def exercise(t, via, session, reader, api, token, ask_on, hunting_on, pinned_by_system_clock):
    """Every tool through `session` (admin) and the refusals through `reader` (read-only)."""
    init = await session.initialize()
    t.check(f"{via}/initialize", init.server_info.name == "auditlake", init.server_info)
    listed = await session.list_tools()
    names = [tool.name for tool in listed.tools]
    t.check(f"{via}/tools-listed", names == TOOLS, names)
    _, _, doc = rest("GET", f"{api}/openapi.json")
    search_schema = next(x.input_schema for x in listed.tools if x.name == "search_events")
    params = [p["name"] for p in doc["paths"]["/events"]["get"]["parameters"]]
    t.check(f"{via}/search-schema-is-openapi", sorted(search_schema["properties"]) == sorted(params),
            (sorted(search_schema["properties"]), sorted(params)))

    # search_events, paged to the end of one source, against the REST listing.
    source = "exchange-message-trace"
    _, _, page = rest("GET", f"{api}/events?source={source}&page_size=500", token)
    rest_events = page["events"]
    while page.get("next_cursor"):
        q = urllib.parse.urlencode({"source": source, "page_size": "500", "cursor": page["next_cursor"]})
        _, _, page = rest("GET", f"{api}/events?{q}", token)
        rest_events += page["events"]
    started = time.time()
    got, cursor, calls = [], None, 0
    while True:
        args = {"source": source, "page_size": 100}
        if cursor:
            args["cursor"] = cursor
        r = await session.call_tool("search_events", args)
        calls += 1
        if r.is_error:
            t.check(f"{via}/search_events", False, text_of(r)[:300])
            break
        body = structured(r)
        got += [e["id"] for e in body["events"]]
        cursor = body.get("next_cursor")
        if not cursor or calls > 500:
            break
    ended = time.time()
    print(f"test_mcp: {via}: search_events listed {len(got)} {source} events in {calls} pages "
          f"({len(rest_events)} over REST on the demo's clock)", flush=True)
    if pinned_by_system_clock:
        surely = {e["id"] for e in rest_events if stamp(e["ingested_at"]) < started - 1}
        maybe = {e["id"] for e in rest_events if stamp(e["ingested_at"]) <= ended + 1}
        t.check(f"{via}/search_events-paged-as-pinned", surely <= set(got) <= maybe and len(got) == len(set(got)),
                f"{len(got)} listed, {len(surely)}..{len(maybe)} expected")
        # A cursor of the demo's API goes on here (the same key in SSM): its pin is the demo's,
        # so the rest of the listing is exactly REST's.
        _, _, first = rest("GET", f"{api}/events?source={source}&page_size=100", token)
        cursor, rest_of = first.get("next_cursor"), []
        while cursor:
            r = await session.call_tool("search_events", {"source": source, "page_size": 100, "cursor": cursor})
            if r.is_error:
                t.check(f"{via}/search_events-continues-a-rest-cursor", False, text_of(r)[:300])
                break
            body = structured(r)
            rest_of += [e["id"] for e in body["events"]]
            cursor = body.get("next_cursor")
        t.check(f"{via}/search_events-continues-a-rest-cursor",
                rest_of == [e["id"] for e in rest_events[100:]] and len(rest_of) > 0,
                f"{len(rest_of)} over MCP after REST's first page, {len(rest_events) - 100} expected")
    else:
        t.check(f"{via}/search_events-paged-equals-rest", got == [e["id"] for e in rest_events] and len(got) > 0,
                f"{len(got)} over MCP, {len(rest_events)} over REST")

    event_id = rest_events[0]["id"]
    r = await session.call_tool("get_event", {"id": event_id})
    _, _, rest_event = rest("GET", f"{api}/events/{urllib.parse.quote(event_id, safe='')}", token)
    mine = structured(r) if not r.is_error else None
    t.check(f"{via}/get_event-equals-rest", mine == rest_event and ("raw" in mine["event"] or "raw_ref" in mine["event"]),
            json.dumps([mine, rest_event])[:600])

    r = await session.call_tool("get_summary", {"days": 2})
    _, _, rest_summary = rest("GET", f"{api}/summary?days=2", token)
    t.check(f"{via}/get_summary-equals-rest", not r.is_error and structured(r)["total"] == rest_summary["total"] > 0,
            (text_of(r)[:200], rest_summary.get("total")))

    r = await session.call_tool("list_sources", {})
    _, _, rest_sources = rest("GET", f"{api}/sources", token)
    t.check(f"{via}/list_sources-equals-rest", not r.is_error and structured(r)["sources"] == rest_sources["sources"],
            text_of(r)[:200])

    # Alerts raised up to two days past the system's now (the simulator's clock runs ahead).
    soon = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 2 * 86400))
    r = await session.call_tool("list_alerts", {"page_size": 10, "end": soon})
    _, _, rest_alerts = rest("GET", f"{api}/alerts?page_size=10&end={soon}", token)
    mcp_alerts = [a["id"] for a in structured(r)["alerts"]] if not r.is_error else None
    rest_ids = [a["id"] for a in rest_alerts["alerts"]]
    if pinned_by_system_clock:
        # As the events: the listing stops at the API's now, here the system's.
        rest_ids = [a["id"] for a in rest_alerts["alerts"] if stamp(a["created_at"]) <= time.time()]
    t.check(f"{via}/list_alerts-equals-rest", mcp_alerts == rest_ids and (rest_ids or pinned_by_system_clock),
            (mcp_alerts, rest_ids))
    if rest_alerts["alerts"]:
        first = rest_alerts["alerts"][0]["id"]
        r = await session.call_tool("get_alert", {"id": first})
        t.check(f"{via}/get_alert", not r.is_error and structured(r)["alert"]["id"] == first, text_of(r)[:200])
    else:
        t.check(f"{via}/get_alert", False, "the demo raised no alert")

    hunt = {"query": "consent_grants", "params": {"start_date": "2000-01-01", "end_date": FAR}}
    r = await session.call_tool("run_hunting_query", hunt)
    _, _, catalog = rest("GET", f"{api}/analytics", token)
    if hunting_on:
        t.check(f"{via}/run_hunting_query-admin", not r.is_error
                and [c["name"] for c in structured(r)["columns"]][:2] == ["time", "actor"], text_of(r)[:300])
    else:
        # No engine behind this transport's process: the route's 503, not a refusal.
        t.check(f"{via}/run_hunting_query-admin-unavailable", r.is_error and "unavailable" in text_of(r), text_of(r)[:300])

    resources = await session.list_resources()
    uris = [str(x.uri) for x in resources.resources]
    t.check(f"{via}/resources", uris == ["auditlake://schema/event", "auditlake://hunting/catalog"], uris)
    schema = json.loads((await session.read_resource("auditlake://schema/event")).contents[0].text)
    t.check(f"{via}/event-schema", set(schema["required"]) <= set(rest_event["event"]), schema.get("required"))
    served_catalog = json.loads((await session.read_resource("auditlake://hunting/catalog")).contents[0].text)
    t.check(f"{via}/catalog-resource", [q["name"] for q in served_catalog["queries"]] == [q["name"] for q in catalog["queries"]])

    r = await session.call_tool("ask", {"question": "What happened most recently?"})
    if ask_on:
        answer = structured(r) if not r.is_error else {}
        cited = answer.get("citations", [])
        stored = all(rest("GET", f"{api}/events/{urllib.parse.quote(c, safe='')}", token)[0] == 200 for c in cited)
        t.check(f"{via}/ask-cites-stored-events", not r.is_error and cited and stored
                and [c["tool"] for c in answer["tool_calls"]] == ["search_events", "get_event"], text_of(r)[:300])
    else:
        t.check(f"{via}/ask-off", r.is_error and "questions are off" in text_of(r), text_of(r)[:300])

    # The read-only caller: refused the admin tool, answered the others.
    await reader.initialize()
    r = await reader.call_tool("run_hunting_query", hunt)
    t.check(f"{via}/reader-refused-run_hunting_query", r.is_error and "forbidden" in text_of(r)
            and "auditlake.admin" in text_of(r), text_of(r)[:300])
    r = await reader.call_tool("get_event", {"id": event_id})
    t.check(f"{via}/reader-reads", not r.is_error and structured(r)["event"]["id"] == event_id, text_of(r)[:200])


async def over_http(t, api, admin_token, reader_token):
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {admin_token}"}, timeout=120) as a, \
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {reader_token}"}, timeout=120) as b:
        async with streamable_http_client(f"{api}/mcp", http_client=a) as (ar, aw), \
                streamable_http_client(f"{api}/mcp", http_client=b) as (br, bw):
            async with ClientSession(ar, aw) as admin, ClientSession(br, bw) as reader:
                await exercise(t, "http", admin, reader, api, admin_token, ask_on=True, hunting_on=True,
                               pinned_by_system_clock=False)
    # The SDK without a token: the server's 401 stops the handshake.
    try:
        async with httpx2.AsyncClient(timeout=30) as c:
            async with streamable_http_client(f"{api}/mcp", http_client=c) as (r, w):
                async with ClientSession(r, w) as s:
                    await asyncio.wait_for(s.initialize(), 30)
        t.check("http/sdk-without-token-fails", False, "initialize succeeded without a token")
    except Exception:  # noqa: BLE001 - a failed handshake, however the SDK raises it, is the point
        t.check("http/sdk-without-token-fails", True)


def real_time_token(demo_token, roles):
    """The demo token's claims with `roles` and the system clock's times, signed by the
    simulator's test-only issuer key (as the attack battery signs its probes)."""
    header = jwt.get_unverified_header(demo_token)
    claims = jwt.decode(demo_token, options={"verify_signature": False})
    now = int(time.time())
    claims.update(roles=roles, iat=now, nbf=now, exp=now + 3600)
    with open(os.path.join(ROOT, "tests", "fixtures", "certs", "issuer.pem"), "rb") as f:
        key = f.read()
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": header["kid"], "typ": "JWT"})


async def over_stdio(t, service):
    binary = os.path.join(ROOT, "target", "debug", "auditlake")
    claims = jwt.decode(service["token"], options={"verify_signature": False})
    base = {
        "PATH": os.environ.get("PATH", ""),
        "AUDITLAKE_TENANT_ID": claims["tid"],
        "AUDITLAKE_EVENTS_TABLE": "auditlake-events",
        "AUDITLAKE_STATE_TABLE": "auditlake-state",
        "AUDITLAKE_ALERTS_TABLE": "auditlake-alerts",
        # The raw layer, as the demo's query API reads it (`GET /events/{id}` returns the raw
        # record, not only its reference), so get_event over stdio can equal the REST answer.
        "AUDITLAKE_BUCKET": "auditlake-local",
        "AUDITLAKE_LOGIN_URL": service["simulator"],
        "AUDITLAKE_API_AUDIENCE": claims["aud"],
        "AUDITLAKE_API_READ_BUDGET": "25",
        "AUDITLAKE_CURSOR_KEY_PARAM": "/auditlake/cursor-key",
        "AWS_ENDPOINT_URL": service["aws"],
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "RUST_LOG": "info",
    }
    admin = dict(base, AUDITLAKE_MCP_TOKEN=real_time_token(service["token"], ["auditlake.admin"]))
    reader = dict(base, AUDITLAKE_MCP_TOKEN=real_time_token(service["token"], ["auditlake.read"]))
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"test-mcp-stdio-{os.getpid()}.log"), "w")
    try:
        async with stdio_client(StdioServerParameters(command=binary, args=["mcp"], env=admin), errlog=log) as (ar, aw), \
                stdio_client(StdioServerParameters(command=binary, args=["mcp"], env=reader), errlog=log) as (br, bw):
            async with ClientSession(ar, aw) as a, ClientSession(br, bw) as b:
                await exercise(t, "stdio", a, b, service["query-api"], service["token"], ask_on=False,
                               hunting_on=False, pinned_by_system_clock=True)
    finally:
        log.close()
    with open(log.name) as f:
        lines = re.sub(r"\x1b\[[0-9;]*m", "", f.read())
    # Audit of the auditor: every call logged with caller, tool and size, never the content.
    t.check("stdio/audit-lines", 'audit="tool_call"' in lines and "tool=\"get_event\"" in lines
            and "result_bytes=" in lines, lines[-500:])
    os.unlink(log.name)


def main():
    saved = os.environ.get("AUDITLAKE_DEMO_STDOUT")
    if not saved:
        print("test_mcp: set AUDITLAKE_DEMO_STDOUT to a saved `scripts/demo --serve` stdout", file=sys.stderr)
        return 2
    with open(saved) as f:
        service = parse_lines(f.read())
    api, token, sim = service["query-api"], service["token"], service["simulator"]
    t = Checks()

    status, headers, body = rest("POST", f"{api}/mcp", None, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    t.check("http/no-token-401", status == 401 and headers.get("www-authenticate", headers.get("WWW-Authenticate")) == "Bearer",
            (status, headers))
    status, _, minted = rest("POST", f"{sim}/_sim/user-token", None,
                             {"roles": ["auditlake.read"], "upn": "reader@contoso.onmicrosoft.com", "expires_in_secs": 86400})
    if status != 200:
        print(f"test_mcp: FAIL the simulator minted no read-only token: {status} {minted}", file=sys.stderr)
        return 1
    asyncio.run(over_http(t, api, token, minted["access_token"]))
    asyncio.run(over_stdio(t, service))
    print(f"test_mcp: {t.passed + len(t.failed)} checks, {t.passed} passed, {len(t.failed)} failed"
          + (f": {', '.join(t.failed)}" if t.failed else ""), flush=True)
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())

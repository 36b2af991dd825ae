#!/usr/bin/env python3
"""The attack battery (issue 12, done-when 2): the served query API attacked from outside, on
loopback, as `scripts/demo --serve` runs it (Entra-style auth, the tenant simulator as issuer).

Groups of probes, one line each, then a count; the exit status is 1 when any probe failed (each
failure is named):
- jwt: forged, foreign or misused bearer tokens, crafted with PyJWT (and by hand where PyJWT
  refuses to, e.g. HS256 keyed with an RSA public key): each must get 401 with the JSON error
  body and `WWW-Authenticate: Bearer`, echoing no part of the token. Tokens that only a claim
  check can refuse are signed with the simulator's own issuer key (the TEST-ONLY
  `tests/fixtures/certs/issuer.pem`, which the JWKS it serves must match). The demo's printed
  token is the control (200).
- cursor: a `next_cursor` with one byte flipped, replayed with other filters, or rebound through
  a filter value holding a newline: each a 400.
- input: duplicate tags, a tag set past 50 per event over two requests, an event id over
  DynamoDB's 2048-byte partition key limit, `end` after 2262-04-11, `days=366` on /summary (a 400,
  or an answer with its `partial` flag, within 10 s).
- schemathesis: the served `/openapi.json` fuzzed with the printed token (and a real event id for
  the `{id}` routes): no server error, every response conforms to the document (status, content
  type, headers, body schema), every request answered within 20 s.

Usage: .venv/bin/python tests/attack/test_attack.py [--only jwt,cursor,input,schemathesis] [demo flags]
Without AUDITLAKE_DEMO_STDOUT it starts `scripts/demo --serve` with the demo flags (default
`--ticks 2`) and stops it at the end; with AUDITLAKE_DEMO_STDOUT=FILE it attacks the running demo
whose stdout was saved in FILE (e.g. `scripts/demo --serve --ticks 2 > FILE &`), to iterate fast.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from xml.etree import ElementTree

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "demo"))
from demo_serve import ROOT, Demo, DemoError, parse_lines  # noqa: E402

CERTS = os.path.join(ROOT, "tests", "fixtures", "certs")
GROUPS = ["jwt", "cursor", "input", "schemathesis"]
# Every check of schemathesis that holds responses to the document, and the server-error check.
SCHEMATHESIS_CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]
# Bounds of the run (measured on 2 shared cores: see the report line it prints).
SCHEMATHESIS_MAX_EXAMPLES = 10
SCHEMATHESIS_REQUEST_TIMEOUT_SECS = 20
SCHEMATHESIS_TIME_LIMIT_SECS = 300
PROBE_PATH = "/events?source=entra-sign-ins&page_size=1"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value):
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def call(method, url, token=None, body=None, authorization=None, timeout=60):
    """(status, parsed JSON or None, raw text, headers)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if authorization is not None:
        req.add_header("Authorization", authorization)
    elif token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw, status, headers = resp.read(), resp.status, resp.headers
    except urllib.error.HTTPError as e:
        raw, status, headers = e.read(), e.code, e.headers
    text = raw.decode("utf-8", "replace")
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, parsed, text, headers


class Battery:
    """Runs probes, prints one line each, remembers the failures."""

    def __init__(self):
        self.results = []

    def record(self, name, ok, detail):
        self.results.append((name, ok))
        print(f"attack: {'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)

    def error_code(self, body):
        return (body or {}).get("error", {}).get("code") if isinstance(body, dict) else None

    def expect_error(self, name, reply, statuses, code_prefix=None):
        status, body, text, _ = reply
        code = self.error_code(body)
        ok = status in statuses and isinstance(code, str) and (code_prefix is None or code.startswith(code_prefix))
        self.record(name, ok, f"{status} {code or text[:120]!r}" + ("" if ok else f" (expected {statuses})"))
        return ok

    def summary(self):
        failed = [n for n, ok in self.results if not ok]
        print(f"attack: {len(self.results)} probes, {len(self.results) - len(failed)} passed, {len(failed)} failed"
              + (f": {', '.join(failed)}" if failed else ""), flush=True)
        return not failed


# ---- jwt ---------------------------------------------------------------------------------------

def jwt_probes(t, api, sim, token):
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    status, _, text, _ = call("GET", api + PROBE_PATH, token)
    t.record("jwt/control-genuine-token", status == 200, f"{status}" + ("" if status == 200 else f" {text[:200]}"))

    # The issuer's keys, as the API finds them: discovery, then the JWKS.
    issuer = claims["iss"]
    status, discovery, _, _ = call("GET", f"{issuer}/.well-known/openid-configuration")
    _, jwks, _, _ = call("GET", discovery["jwks_uri"])
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    n = int.from_bytes(base64.urlsafe_b64decode(jwk["n"] + "=="), "big")
    e = int.from_bytes(base64.urlsafe_b64decode(jwk["e"] + "=="), "big")
    public_pem = rsa.RSAPublicNumbers(e, n).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with open(os.path.join(CERTS, "issuer.pem"), "rb") as f:
        issuer_key = serialization.load_pem_private_key(f.read(), password=None)
    with open(os.path.join(CERTS, "other.key"), "rb") as f:
        foreign_key = serialization.load_pem_private_key(f.read(), password=None)
    same = issuer_key.public_key().public_numbers().n == n
    t.record("jwt/setup-issuer-key-is-the-served-one", same, f"kid {jwk['kid']}, JWKS from {discovery['jwks_uri']}")
    kid = header["kid"]

    def signed(c, key=issuer_key, headers=None, alg="RS256"):
        return jwt.encode(c, key, algorithm=alg, headers={"kid": kid, **(headers or {})})

    def claims_with(**changes):
        c = dict(claims)
        for k, v in changes.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    def hs256_by_hand(secret):
        head = b64json({"alg": "HS256", "typ": "JWT", "kid": kid})
        message = f"{head}.{b64json(claims)}"
        return f"{message}.{b64url(hmac.new(secret, message.encode(), hashlib.sha256).digest())}"

    foreign_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(foreign_key.public_key()))
    foreign_jwk["kid"] = "attacker-key"
    iat = int(claims["iat"])
    probes = [
        ("alg-none", f"{b64json({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64json(claims)}."),
        ("alg-none-uppercase", f"{b64json({'alg': 'NONE', 'kid': kid})}.{b64json(claims)}.c2ln"),
        # PyJWT refuses an RSA public key as an HMAC secret (what a safe library does): by hand.
        ("hs256-keyed-with-the-issuer-public-key-pem", hs256_by_hand(public_pem)),
        ("hs256-keyed-with-the-jwk-modulus", hs256_by_hand(jwk["n"].encode())),
        ("foreign-issuer", signed(claims_with(iss="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0"))),
        ("foreign-key-naming-the-issuer-kid", signed(claims, key=foreign_key)),
        ("expired", signed(claims_with(exp=iat - 3600, nbf=iat - 7200, iat=iat - 7200))),
        ("not-yet-valid", signed(claims_with(nbf=iat + 3600, exp=iat + 7200))),
        ("wrong-audience", signed(claims_with(aud="api://someone-else"))),
        ("unknown-kid", jwt.encode(claims, foreign_key, algorithm="RS256", headers={"kid": "attacker-kid-1"})),
        ("embedded-jwk", jwt.encode(claims, foreign_key, algorithm="RS256",
                                    headers={"kid": "attacker-key", "jwk": foreign_jwk})),
        ("embedded-jwk-naming-the-issuer-kid", jwt.encode(claims, foreign_key, algorithm="RS256",
                                                          headers={"kid": kid, "jwk": foreign_jwk})),
        ("jku-header", jwt.encode(claims, foreign_key, algorithm="RS256",
                                  headers={"kid": "attacker-key", "jku": "http://127.0.0.1:9/keys"})),
        ("x5u-header", jwt.encode(claims, foreign_key, algorithm="RS256",
                                  headers={"kid": "attacker-key", "x5u": "http://127.0.0.1:9/cert.pem"})),
        ("oversized-64KB", signed(claims_with(pad="A" * 64 * 1024))),
        ("roles-in-the-wrong-claim", signed(claims_with(roles=None, scp=None, role=claims.get("roles", ["auditlake.admin"])))),
        ("roles-as-a-string", signed(claims_with(roles="auditlake.admin", scp=None))),
        ("id-token-shaped", signed(claims_with(scp=None, azp=None, azpacr=None, nonce="n-0S6_WzA2Mj",
                                               roles=["auditlake.admin"]))),
        ("id-token-typ", signed(claims, headers={"typ": "id_token+jwt"})),
        ("idtyp-device", signed(claims_with(idtyp="device"))),
        ("tampered-claims", f"{token.split('.')[0]}.{b64json(claims_with(roles=['auditlake.admin'], oid='evil'))}.{token.split('.')[2]}"),
        ("crit-header", signed(claims, headers={"crit": ["exp"]})),
    ]
    for name, forged in probes:
        jwt_refused(t, f"jwt/{name}", api, forged, f"Bearer {forged}")
    jwt_refused(t, "jwt/basic-scheme", api, token, f"Basic {token}")
    jwt_refused(t, "jwt/no-token", api, None, None)


def jwt_refused(t, name, api, token, authorization):
    status, body, text, headers = call("GET", api + PROBE_PATH, authorization=authorization)
    code = t.error_code(body)
    problems = []
    if status != 401:
        problems.append(f"status {status}")
    if code != "unauthorized":
        problems.append(f"body {text[:120]!r}")
    if not (headers.get("WWW-Authenticate") or "").startswith("Bearer"):
        problems.append("no WWW-Authenticate: Bearer")
    if token:
        echoed = [p for p in token.split(".") if len(p) > 8 and p in text]
        if echoed or token in text:
            problems.append("the answer echoes the token")
    message = (body or {}).get("error", {}).get("message", "") if isinstance(body, dict) else ""
    t.record(name, not problems, f"{status} {code}: {message[:90]}" + (f" [{'; '.join(problems)}]" if problems else ""))


# ---- cursor ------------------------------------------------------------------------------------

def first_page(api, token, query):
    status, body, text, _ = call("GET", f"{api}/events?{urllib.parse.urlencode(query)}", token)
    return status, body, text


def cursor_probes(t, api, token):
    source = "entra-directory-audits"
    status, page, text = first_page(api, token, {"source": source, "page_size": "1"})
    cursor = (page or {}).get("next_cursor")
    t.record("cursor/setup-a-next-cursor", status == 200 and bool(cursor), f"{status}, cursor {'present' if cursor else 'missing'}")
    if not cursor:
        return
    base = {"source": source, "page_size": "1"}
    status, _, text = first_page(api, token, {**base, "cursor": cursor})
    t.record("cursor/control-same-filters", status == 200, f"{status}")

    body, tag = cursor.split(".", 1)
    for where, i in (("body", len(body) // 2), ("signature", len(body) + 1 + len(tag) // 2)):
        chars = list(cursor)
        chars[i] = "A" if chars[i] != "A" else "B"
        flipped = "".join(chars)
        t.expect_error(f"cursor/flipped-byte-in-the-{where}",
                       call("GET", f"{api}/events?{urllib.parse.urlencode({**base, 'cursor': flipped})}", token),
                       [400], "invalid_cursor")
    t.expect_error("cursor/reused-with-another-filter",
                   call("GET", f"{api}/events?{urllib.parse.urlencode({**base, 'operation': 'Add user', 'cursor': cursor})}", token),
                   [400], "invalid_cursor")
    t.expect_error("cursor/reused-with-another-source",
                   call("GET", f"{api}/events?{urllib.parse.urlencode({'source': 'entra-sign-ins', 'page_size': '1', 'cursor': cursor})}", token),
                   [400], "invalid_cursor")

    # Rebinding: filters `operation=O`, `result=R` and the one filter `operation="O\nresult=R"`
    # must not share cursors (a newline-joined `k=v` encoding makes them the same).
    status, page, _ = first_page(api, token, {"source": source, "page_size": "500"})
    pairs = Counter((e["operation"], e["result"]) for e in (page or {}).get("events", []))
    pair = next((p for p, n in pairs.most_common() if n >= 2), None)
    if pair is None:
        t.record("cursor/newline-rebinding", False, f"setup: no operation/result pair with 2 events ({status})")
        return
    operation, result = pair
    status, page, _ = first_page(api, token, {"source": source, "operation": operation, "result": result, "page_size": "1"})
    bound = (page or {}).get("next_cursor")
    if status != 200 or not bound:
        t.record("cursor/newline-rebinding", False, f"setup: {status}, no cursor for operation={operation!r} result={result!r}")
        return
    rebound = {"source": source, "operation": f"{operation}\nresult={result}", "page_size": "1", "cursor": bound}
    t.expect_error("cursor/newline-rebinding", call("GET", f"{api}/events?{urllib.parse.urlencode(rebound)}", token), [400])


# ---- input -------------------------------------------------------------------------------------

def input_probes(t, api, token):
    status, page, _ = first_page(api, token, {"source": "entra-sign-ins", "page_size": "3"})
    ids = [e["id"] for e in (page or {}).get("events", [])]
    if status != 200 or len(ids) < 2:
        t.record("input/setup-two-events", False, f"{status}, {len(ids)} events")
        return

    def tags(event_id, change):
        return call("PATCH", f"{api}/events/{urllib.parse.quote(event_id, safe=':')}/tags", token, change)

    t.expect_error("input/duplicate-tags-in-one-request", tags(ids[0], {"add": ["atk-dup", "atk-dup"]}), [400])
    first = [f"atk-a-{i}" for i in range(30)]
    second = [f"atk-b-{i}" for i in range(30)]
    # Left from an earlier run against the same demo: removed first.
    tags(ids[1], {"remove": first})
    tags(ids[1], {"remove": second})
    status, body, text, _ = tags(ids[1], {"add": first})
    t.record("input/setup-30-tags", status == 200, f"{status} {len((body or {}).get('tags', []))} tags" if status == 200 else f"{status} {text[:120]}")
    t.expect_error("input/past-50-tags-over-two-requests", tags(ids[1], {"add": second}), [400])

    long_id = "entra-sign-ins:" + "a" * 2100
    t.expect_error("input/event-id-over-2048-bytes-get", call("GET", f"{api}/events/{long_id}", token), [400])
    t.expect_error("input/event-id-over-2048-bytes-tags", tags(long_id, {"add": ["x"]}), [400])
    t.expect_error("input/end-after-2262-04-11",
                   call("GET", f"{api}/events?source=entra-sign-ins&end=2262-04-12T00:00:00Z", token), [400])

    started = time.monotonic()
    try:
        status, body, text, _ = call("GET", f"{api}/summary?days=366", token, timeout=10)
    except OSError as e:  # a timeout
        t.record("input/summary-days-366-bounded", False, f"no answer within 10 s ({e})")
        return
    took = time.monotonic() - started
    # Bounded: refused, or answered within the time with the `partial` flag saying whether the
    # read budget covered the year (skipping days without events, it often does; the Rust tests
    # check the flag is set when it does not).
    partial = (body or {}).get("partial") if isinstance(body, dict) else None
    ok = (status == 400 and t.error_code(body)) or (status == 200 and isinstance(partial, bool))
    t.record("input/summary-days-366-bounded", bool(ok) and took <= 10,
             f"{status} in {took:.1f} s, partial={partial}" + ("" if ok else " (expected 400, or 200 with a partial flag)"))


# ---- schemathesis ------------------------------------------------------------------------------

def schemathesis_probe(t, api, token):
    """Fuzzes the served document; three verdicts from its JUnit report: no server error (a 5xx,
    or a connection dropped mid-answer, as a panic would), every response conforms to the
    document, every request answered within the request timeout."""
    exe = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    exe = exe if os.path.exists(exe) else shutil.which("schemathesis")
    if not exe:
        t.record("schemathesis", False, "not installed (run scripts/test, or pip install -r requirements-tools.txt)")
        return
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    work = tempfile.mkdtemp(prefix="attack-schemathesis-")
    # A real event id for the `{id}` routes, so they reach their logic rather than 404.
    _, page, _ = first_page(api, token, {"source": "entra-sign-ins", "page_size": "1"})
    config = os.path.join(work, "schemathesis.toml")
    with open(config, "w") as f:
        f.write(f"[parameters]\nid = {json.dumps(page['events'][0]['id'])}\n")
    junit = os.path.join(work, "junit.xml")
    command = [
        exe, "--config-file", config, "run", f"{api}/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", ",".join(SCHEMATHESIS_CHECKS),
        "--max-examples", str(SCHEMATHESIS_MAX_EXAMPLES),
        "--seed", "12",
        "--workers", "2",
        "--request-timeout", str(SCHEMATHESIS_REQUEST_TIMEOUT_SECS),
        "--generation-database", "none",
        "--suppress-health-check", "all",
        "--no-color",
        "--report", "junit", "--report-junit-path", junit,
    ]
    started = time.monotonic()
    try:
        # In its own directory: schemathesis leaves a `.schemathesis/` cache in the working one.
        run = subprocess.run(command, capture_output=True, text=True, timeout=SCHEMATHESIS_TIME_LIMIT_SECS, cwd=work)
    except subprocess.TimeoutExpired:
        t.record("schemathesis/finished", False, f"did not finish within {SCHEMATHESIS_TIME_LIMIT_SECS} s")
        shutil.rmtree(work, ignore_errors=True)
        return
    took = time.monotonic() - started
    counts = re.search(r"^\s*(\d+ generated[^\n]*)", run.stdout, re.M)
    generated = counts.group(1).strip() if counts else "? generated"
    try:
        suite = ElementTree.parse(junit).getroot()
    except (OSError, ElementTree.ParseError) as e:
        t.record("schemathesis/finished", False, f"exit {run.returncode}, no JUnit report ({e}): {run.stdout[-500:]}")
        shutil.rmtree(work, ignore_errors=True)
        return
    server, conformance, slow = [], [], []
    for case in suite.iter("testcase"):
        for failure in case.iter("failure"):
            text = failure.text or failure.get("message") or ""
            (server if "Server error" in text else conformance).append((case.get("name"), text))
        for error in case.iter("error"):
            text = error.text or error.get("message") or ""
            (slow if "timed out" in text.lower() else server).append((case.get("name"), text))
    print(f"attack:   | {version}, checks {','.join(SCHEMATHESIS_CHECKS)}, --max-examples "
          f"{SCHEMATHESIS_MAX_EXAMPLES}, --request-timeout {SCHEMATHESIS_REQUEST_TIMEOUT_SECS}: {generated}, "
          f"{took:.0f} s, exit {run.returncode}", flush=True)

    def verdict(name, found, what):
        first = "; ".join(f"{op}: {' '.join(text.split())[:160]}" for op, text in found[:3])
        t.record(name, not found, f"none in {generated}" if not found else f"{len(found)} {what}: {first}")

    verdict("schemathesis/no-server-error", server, "server errors or dropped connections")
    verdict("schemathesis/responses-conform-to-the-document", conformance, "nonconforming responses")
    verdict(f"schemathesis/every-request-answered-within-{SCHEMATHESIS_REQUEST_TIMEOUT_SECS}s", slow, "timeouts")
    shutil.rmtree(work, ignore_errors=True)


# ---- main --------------------------------------------------------------------------------------

def main():
    args = sys.argv[1:]
    only = GROUPS
    if args[:1] == ["--only"]:
        only = args[1].split(",")
        args = args[2:]
    unknown = [g for g in only if g not in GROUPS]
    if unknown:
        print(f"attack: unknown group {unknown} (known: {GROUPS})", file=sys.stderr)
        return 2
    saved = os.environ.get("AUDITLAKE_DEMO_STDOUT")
    demo = None
    if saved:
        with open(saved) as f:
            service = parse_lines(f.read())
    else:
        demo = Demo(args or ["--ticks", "2"])
        try:
            service = demo.start().service
        except DemoError as e:
            print(f"attack: FAIL demo: {e}", file=sys.stderr)
            demo.kill()
            return 1
    t = Battery()
    started = time.monotonic()
    try:
        api, sim, token = service["query-api"], service["simulator"], service["token"]
        if "jwt" in only:
            jwt_probes(t, api, sim, token)
        if "cursor" in only:
            cursor_probes(t, api, token)
        if "input" in only:
            input_probes(t, api, token)
        if "schemathesis" in only:
            schemathesis_probe(t, api, token)
    finally:
        if demo is not None:
            code = demo.stop()
            demo.kill()
            if code == 0:
                demo.remove_log()
            else:
                print(f"attack: the demo exited with {code} (log: {demo.log.name})", file=sys.stderr)
    print(f"attack: probes took {time.monotonic() - started:.0f} s", flush=True)
    return 0 if t.summary() else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The web console in real Chromium (Debian's `chromium`, driven by Playwright for Python, which
never downloads a browser here), against a running `scripts/demo --serve`.

It signs in through the simulator's authorization-code flow (PKCE, no password), lists events,
filters by a source and an actor (a user whose display name is a planted `<img onerror>`
payload), opens an event and sees its raw record, adds a tag and a comment and sees both after a
reload, opens the sources view, runs a hunting query, opens an alert the demo's detections
raised, and checks that none of the planted payloads ran: `window.__pwned` is never set, the
simulator's beacon (`/_sim/beacon`, the target of a planted `<script>`) is never called, no
element came from a payload and no link is a `javascript:` URL. It checks the CSP header of the
page and writes a screenshot of each view under target/console-screenshots/ (git-ignored).

It ends with `figure console_first_events_ms N ms` (from navigating to #/events, signed in, to
the first rendered row) and `figure console_assets_bytes N bytes` (the page, script and
stylesheet as served).

Usage: AUDITLAKE_DEMO_STDOUT=<file with the demo's stdout lines> .venv/bin/python
tests/console/test_console.py (tests/demo/test_serve.py --console runs it so). Loopback only.
"""

import json
from datetime import datetime
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "demo"))
from demo_serve import ROOT, parse_lines  # noqa: E402

from playwright.sync_api import sync_playwright  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = os.path.join(ROOT, "target", "console-screenshots")
TIMEOUT_MS = 180_000
IMG_PAYLOAD = "<img src=x onerror=window.__pwned=1>"

failures = []


def check(ok, message):
    if ok:
        print(f"test_console: ok: {message}")
    else:
        print(f"test_console: FAIL: {message}", file=sys.stderr)
        failures.append(message)
    return ok


def get_json(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


def not_pwned(page, where):
    pwned = page.evaluate("() => window.__pwned === undefined ? null : String(window.__pwned)")
    check(pwned is None, f"{where}: no planted payload set window.__pwned")
    bad_links = page.evaluate(
        "() => [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')).filter(h => /^\\s*javascript:/i.test(h))"
    )
    check(bad_links == [], f"{where}: no javascript: link ({bad_links[:3]})")
    injected = page.evaluate(
        "() => document.querySelectorAll('img, iframe, object, embed, main script, main svg[onload], [onerror], [onload]').length"
    )
    check(injected == 0, f"{where}: no element came from record values ({injected})")


def shot(page, name):
    path = os.path.join(SHOTS, f"{name}.png")
    page.screenshot(path=path)
    return path


def views(page, console, sim, img_user, requests_seen):
    """Every view in turn; returns (ms to the first event list, bytes of the assets)."""
    # The page and its policy.
    resp = page.goto(console)
    csp = resp.headers.get("content-security-policy", "")
    directives = {d.split()[0]: " ".join(d.split()[1:]) for d in csp.split(";") if d.strip()}
    check(directives.get("default-src") == "'none'", f"CSP default-src 'none' ({csp})")
    check(directives.get("script-src") == "'self'", "CSP script-src 'self' only: no inline script, no other origin")
    check(directives.get("frame-ancestors") == "'none'", "CSP frame-ancestors 'none'")
    check(directives.get("connect-src") == f"'self' {sim}", f"CSP connect-src is the API and the authority ({directives.get('connect-src')})")
    check(resp.headers.get("x-content-type-options") == "nosniff", "nosniff")
    assets = 0
    for name in ["/"] + [a for a in page.evaluate("() => [...document.querySelectorAll('script[src], link[rel=stylesheet]')].map(e => e.getAttribute('src') || e.getAttribute('href'))")]:
        with urllib.request.urlopen(console.rstrip("/") + name, timeout=60) as r:
            body = r.read()
            assets += len(body)
            if name != "/":
                check(r.headers["cache-control"] == "public, max-age=31536000, immutable", f"{name} is cached as immutable")

    # Sign in: the simulator's authorize endpoint and back, with PKCE.
    page.wait_for_selector("#sign-in")
    shot(page, "0-sign-in")
    page.click("#sign-in")
    page.wait_for_selector("#user-name:has-text('Simulated Analyst')")
    check("code=" not in page.url and "token" not in page.url, f"the address bar carries no code or token after sign-in ({page.url})")
    check(any("/oauth2/v2.0/authorize" in u for u in requests_seen), "signed in through /oauth2/v2.0/authorize")
    check(any("/oauth2/v2.0/token" in u for u in requests_seen), "redeemed the code at /oauth2/v2.0/token")
    stored = page.evaluate("() => Object.keys(localStorage).length")
    check(stored == 0, "nothing in localStorage (the token is in sessionStorage at most)")
    page.wait_for_selector("svg.chart")
    try:
        page.wait_for_selector("#per-day svg.chart", timeout=60_000)
    except Exception:
        pass
    shot(page, "1-overview")
    not_pwned(page, "overview")

    # Events, newest first, and the time to the first rendered list.
    started = time.monotonic()
    page.goto(f"{console}#/events")
    page.wait_for_selector("#events-table tbody tr")
    first_events_ms = round((time.monotonic() - started) * 1000)
    times = page.eval_on_selector_all("#events-table tbody td.time", "els => els.map(e => e.textContent)")
    # Newest first to the second (the listing's sort key; within a second, by id).
    secs = [datetime.fromisoformat(t.replace("Z", "+00:00")).replace(microsecond=0) for t in times]
    check(len(secs) > 0 and secs == sorted(secs, reverse=True), f"{len(times)} events listed, newest first")
    check("events on this page" in page.text_content("#page-count"), "the page says how much it read")
    shot(page, "2-events")
    not_pwned(page, "events")

    # Filter by a source and an actor through the form; the filters land in the URL.
    page.select_option("#f-source", "entra-sign-ins")
    page.fill("#f-actor", img_user)
    page.press("#f-actor", "Enter")
    page.wait_for_url("**actor=**")
    page.wait_for_selector("#events-table tbody tr")
    rows = page.eval_on_selector_all("#events-table tbody tr", "rs => rs.map(r => [r.children[1].textContent, r.children[5].textContent])")
    check(rows and all(s.startswith("entra-sign-ins") and a == img_user for s, a in rows), f"{len(rows)} events of entra-sign-ins by {img_user}")
    check("source=entra-sign-ins" in page.url, "the filters are in the URL")
    shot(page, "3-events-filtered")

    # One event: its raw record, the payload shown as text.
    page.click("#events-table tbody tr:first-child td.time a")
    page.wait_for_selector("#raw-record")
    raw = page.text_content("#raw-record")
    check('"userDisplayName"' in raw, "the raw record is shown, pretty-printed")
    check(IMG_PAYLOAD in raw and IMG_PAYLOAD in page.text_content("dl.fields"), "the <img onerror> display name is shown as text")
    event_url = page.url
    not_pwned(page, "event")

    tag = f"seen-{int(time.time())}"
    page.fill("#tag-input", tag)
    page.click("#tag-submit")
    page.wait_for_selector(f"#tags .tag:has-text('{tag}')")
    comment = f"<b>not bold</b> looked at by the browser test {tag}"
    page.fill("#comment-text", comment)
    page.click("#comment-submit")
    page.wait_for_selector(f"#comments .comment-text:has-text('{tag}')")
    page.reload()
    page.wait_for_selector("#raw-record")
    check(page.url == event_url, "the event view is its own URL")
    check(tag in page.text_content("#tags"), "the tag is there after a reload")
    check(comment in page.text_content("#comments"), "the comment is there after a reload, as text")
    check(page.locator("#comments b").count() == 0, "the comment's markup was not parsed")
    shot(page, "4-event")

    # Sources.
    page.goto(f"{console}#/sources")
    page.wait_for_selector("#sources-table tbody tr")
    lights = page.eval_on_selector_all("#sources-table .light", "ls => ls.map(l => l.getAttribute('aria-label'))")
    check(len(lights) >= 5 and set(lights) <= {"green", "amber", "red"}, f"every stream has a light: {sorted(set(lights))} over {len(lights)}")
    shot(page, "5-sources")

    # Hunting (the demo's user is an admin).
    page.goto(f"{console}#/hunting/consent_grants")
    page.wait_for_selector("#hunt-form")
    page.fill("#p-start_date", "2000-01-01")
    page.fill("#p-end_date", "2100-01-01")
    page.click("#hunt-run")
    page.wait_for_selector("#hunt-table, .error")
    heads = page.eval_on_selector_all("#hunt-table th", "hs => hs.map(h => h.textContent)")
    check(heads[:2] == ["time", "actor"], f"the hunting query's table: {heads}")
    check(page.get_attribute("#hunt-csv", "download") == "consent_grants.csv", "a CSV download")
    shot(page, "6-hunting")

    # Alerts: the demo's detections raised some; open one and acknowledge it.
    page.goto(f"{console}#/alerts")
    page.wait_for_selector("#alerts-table tbody tr")
    n_alerts = page.locator("#alerts-table tbody tr").count()
    check(n_alerts > 0, f"{n_alerts} alerts listed")
    shot(page, "7-alerts")
    page.click("#alerts-table tbody tr:first-child td.time a")
    page.wait_for_selector("#alert-events")
    if page.locator("#set-acknowledged").count():
        page.click("#set-acknowledged")
        page.wait_for_selector(".status.acknowledged")
    check(page.locator("#alert-events li").count() > 0, "the alert names its triggering events")
    shot(page, "8-alert")
    not_pwned(page, "alert")

    return first_events_ms, assets


def main():
    saved = os.environ.get("AUDITLAKE_DEMO_STDOUT")
    if not saved:
        print("test_console: FAIL: AUDITLAKE_DEMO_STDOUT is not set (run it through tests/demo/test_serve.py --console)", file=sys.stderr)
        sys.exit(1)
    with open(saved) as f:
        service = parse_lines(f.read())
    sim, console = service["simulator"], service["console"]
    hostile = get_json(f"{sim}/_sim/hostile")
    img_user = next(u["upn"] for u in hostile["users"] if u["display_name"] == IMG_PAYLOAD)
    beacon_before = hostile["beacon_hits"]
    os.makedirs(SHOTS, exist_ok=True)

    requests_seen = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("request", lambda r: requests_seen.append(r.url))
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        try:
            first_events_ms, assets = views(page, console, sim, img_user, requests_seen)
        except Exception:
            print(f"test_console: FAIL: stopped at {page.url}; screenshot {shot(page, 'failure')}", file=sys.stderr)
            raise
        check(not errors, f"no uncaught error in the page ({errors[:3]})")
        browser.close()

    beacon_after = get_json(f"{sim}/_sim/hostile")["beacon_hits"]
    check(beacon_after == beacon_before == 0, f"the planted <script>'s beacon was never called ({beacon_after})")
    check(not any(u.rstrip("/").endswith("/x") or "/_sim/beacon" in u for u in requests_seen), "no request from a planted payload")
    print(f"test_console: screenshots in {SHOTS}")
    print(f"figure console_first_events_ms {first_events_ms} ms")
    print(f"figure console_assets_bytes {assets} bytes")
    if failures:
        print(f"test_console: {len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("test_console: ok: every check passed")


if __name__ == "__main__":
    main()

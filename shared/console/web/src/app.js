// The auditlake console: one page over the query API on the same origin. Views are hash routes
// (#/events?..., #/events/<id>, #/alerts, #/alerts/<id>, #/sources, #/hunting/<query>, #/), so
// each can be shared as a URL; nothing here ever parses markup (see dom.js).
import * as auth from "./auth.js";
import { errorBox, h, replace } from "./dom.js";
import { alertView, alertsView } from "./views/alerts.js";
import { eventView } from "./views/event.js";
import { eventsKeys, eventsView } from "./views/events.js";
import { huntingView } from "./views/hunting.js";
import { overviewView } from "./views/overview.js";
import { sourcesView } from "./views/sources.js";

const app = document.getElementById("app");

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?", 2);
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  const parts = path.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, params };
}

const NAV = [
  ["#/", "Overview", (p) => p.length === 0],
  ["#/events", "Events", (p) => p[0] === "events"],
  ["#/alerts", "Alerts", (p) => p[0] === "alerts"],
  ["#/sources", "Sources", (p) => p[0] === "sources"],
  ["#/hunting", "Hunting", (p) => p[0] === "hunting", true],
];

function layout(parts) {
  const user = auth.user();
  const nav = h(
    "nav",
    { class: "main", "aria-label": "Views" },
    NAV.filter(([, , , admin]) => !admin || auth.isAdmin()).map(([href, label, active]) =>
      h("a", { href, class: active(parts) ? "active" : "", "aria-current": active(parts) ? "page" : undefined }, label),
    ),
  );
  const who = h(
    "div",
    { class: "who" },
    h("span", { id: "user-name" }, user?.name || user?.upn || ""),
    h("button", { type: "button", id: "sign-out", onclick: () => { auth.signOut(); render(); } }, "Sign out"),
  );
  const view = h("main", { id: "view", tabindex: "-1" });
  replace(app, h("header", {}, h("a", { href: "#/", class: "brand" }, "auditlake"), nav, who), view);
  return view;
}

function signInScreen(message) {
  const hint = h("input", { id: "login-hint", name: "login_hint", type: "email", placeholder: "account (optional)", autocomplete: "username" });
  const status = h("p", { class: "error", role: "alert" }, message || "");
  const form = h(
    "form",
    { class: "signin", id: "signin-form" },
    h("h1", {}, "auditlake"),
    h("p", {}, "Sign in with your organization's Entra ID account to search audit events, triage alerts and watch the sources."),
    hint,
    h("button", { type: "submit", id: "sign-in" }, "Sign in"),
    status,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await auth.signIn(hint.value.trim());
    } catch (e) {
      status.textContent = e.message;
    }
  });
  replace(app, form);
}

let ended = "";

async function render() {
  if (!auth.user()) {
    signInScreen(ended);
    return;
  }
  const { parts, params } = parseHash();
  const view = layout(parts);
  try {
    if (parts.length === 0) await overviewView(view);
    else if (parts[0] === "events" && parts[1]) await eventView(view, parts[1]);
    else if (parts[0] === "events") await eventsView(view, params);
    else if (parts[0] === "alerts" && parts[1]) await alertView(view, parts[1]);
    else if (parts[0] === "alerts") await alertsView(view, params);
    else if (parts[0] === "sources") await sourcesView(view);
    else if (parts[0] === "hunting") await huntingView(view, parts[1]);
    else replace(view, h("h1", {}, "Not found"), h("p", {}, "No such view."));
  } catch (e) {
    view.append(errorBox(e));
  }
  document.body.dataset.view = parts[0] || "overview";
}

async function main() {
  let config;
  try {
    const resp = await fetch("/console-config.json", { cache: "no-store", credentials: "omit" });
    config = await resp.json();
  } catch (e) {
    replace(app, errorBox(new Error(`The console's configuration could not be read (${e.message}).`)));
    return;
  }
  try {
    await auth.init(config);
  } catch (e) {
    ended = `Sign-in failed: ${e.message}`;
  }
  auth.onChange((s) => {
    if (!s) {
      ended = "Your session has ended: sign in again.";
      render();
    }
  });
  window.addEventListener("hashchange", render);
  document.addEventListener("keydown", eventsKeys);
  await render();
}

main();

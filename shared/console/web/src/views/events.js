// Events: the filters of GET /events (values offered from /filter-options), newest first, paged
// with the API's cursors. Every filter lives in the URL (#/events?actor=...&cursor=...), so a
// view can be shared; keyboard: "/" focuses the free text, j/k move through the rows, Enter
// opens one, n goes to the next page.
import { api, qs } from "../api.js";
import { errorBox, h, replace, route } from "../dom.js";

export const FILTERS = ["source", "stream", "service", "operation", "result", "actor", "ip", "q", "start", "end"];

let options = null;

async function filterOptions() {
  if (!options) options = api("/filter-options?days=90").catch(() => null);
  return options;
}

function select(name, label, values, current) {
  const s = h("select", { name, id: `f-${name}` }, h("option", { value: "" }, `any ${label}`));
  const seen = new Set();
  for (const v of values) {
    seen.add(v.value);
    s.append(h("option", { value: v.value }, v.count === undefined ? v.value : `${v.value} (${v.count})`));
  }
  if (current && !seen.has(current)) s.append(h("option", { value: current }, current));
  s.value = current || "";
  return h("label", { for: `f-${name}` }, label, s);
}

function text(name, label, current, extra = {}) {
  return h("label", { for: `f-${name}` }, label, h("input", { name, id: `f-${name}`, value: current || "", ...extra }));
}

function actorOf(e) {
  const a = e.actor || {};
  return a.upn || a.name || a.id || a.app_id || "";
}

export async function eventsView(el, params) {
  const form = h("form", { class: "filters", role: "search" });
  const table = h("div", { class: "results" }, h("p", { class: "muted" }, "Loading events…"));
  replace(el, h("h1", {}, "Events"), form, table);

  const opts = await filterOptions();
  const streams = h("datalist", { id: "streams" });
  for (const s of ["interactive", "non-interactive", "service-principal", "managed-identity", "Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General", "DLP.All"]) {
    streams.append(h("option", { value: s }));
  }
  const actors = h("datalist", { id: "actors" });
  for (const a of opts?.actors || []) actors.append(h("option", { value: a.value }));
  replace(
    form,
    select("source", "source", opts?.sources || [], params.source),
    text("stream", "stream", params.stream, { list: "streams" }),
    select("service", "service", opts?.services || [], params.service),
    select("operation", "operation", opts?.operations || [], params.operation),
    select("result", "result", [{ value: "success" }, { value: "failure" }, { value: "partial" }, { value: "unknown" }], params.result),
    text("actor", "actor", params.actor, { list: "actors", placeholder: "UPN, id or name" }),
    text("ip", "IP", params.ip),
    text("q", "text", params.q, { placeholder: "free text ( / )", type: "search" }),
    text("start", "from", params.start, { placeholder: "2024-05-01 or RFC 3339" }),
    text("end", "to", params.end, { placeholder: "exclusive" }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Search"), h("a", { href: "#/events", class: "button" }, "Clear")),
    streams,
    actors,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = {};
    for (const f of FILTERS) {
      const v = form.elements[f]?.value?.trim();
      if (v) p[f] = v;
    }
    location.hash = route("/events", p);
  });

  const query = {};
  for (const f of FILTERS) if (params[f]) query[f] = params[f];
  if (params.cursor) query.cursor = params.cursor;
  query.page_size = params.page_size || "50";
  let page;
  const started = performance.now();
  try {
    page = await api(`/events${qs(query)}`);
  } catch (e) {
    replace(table, errorBox(e));
    return;
  }
  const rows = page.events.map((e, i) =>
    h(
      "tr",
      { tabindex: "0", dataset: { href: route(`/events/${encodeURIComponent(e.id)}`), row: String(i) } },
      h("td", { class: "time" }, h("a", { href: route(`/events/${encodeURIComponent(e.id)}`) }, e.time)),
      h("td", {}, e.source, e.stream ? h("span", { class: "muted" }, ` / ${e.stream}`) : null),
      h("td", {}, e.service || ""),
      h("td", {}, e.operation || ""),
      h("td", {}, h("span", { class: `result ${e.result}` }, e.result)),
      h("td", { class: "actor" }, actorOf(e)),
      h("td", {}, e.client_ip || ""),
    ),
  );
  const count = h(
    "p",
    { class: "count", id: "page-count" },
    `${page.events.length} events on this page; the API read ${page.scan.examined} items in ${page.scan.requests} requests`,
    page.scan.complete ? "" : ` (stopped on its read budget${page.scan.searched_to ? `, searched down to ${page.scan.searched_to}` : ""})`,
    ".",
  );
  const next = page.next_cursor
    ? h("a", { class: "button", id: "next-page", href: route("/events", { ...query, page_size: undefined, cursor: page.next_cursor }) }, "Next page (n)")
    : h("span", { class: "muted" }, "End of the listing.");
  const first = params.cursor ? h("a", { class: "button", href: route("/events", { ...query, page_size: undefined, cursor: undefined }) }, "First page") : null;
  replace(
    table,
    count,
    h(
      "table",
      { class: "events", id: "events-table" },
      h("thead", {}, h("tr", {}, ...["Time (UTC)", "Source", "Service", "Operation", "Result", "Actor", "IP"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows),
    ),
    h("div", { class: "pager" }, first, next),
  );
  el.dataset.renderedMs = String(Math.round(performance.now() - started));
  document.dispatchEvent(new CustomEvent("auditlake:events-rendered"));

  for (const tr of rows) {
    tr.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") location.hash = tr.dataset.href;
    });
  }
}

/** Keyboard shortcuts of the events view (installed once). */
export function eventsKeys(ev) {
  if (!location.hash.startsWith("#/events") || location.hash.startsWith("#/events/")) return;
  const t = ev.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement) return;
  const rows = [...document.querySelectorAll("#events-table tbody tr")];
  const at = rows.indexOf(document.activeElement);
  if (ev.key === "/") {
    ev.preventDefault();
    document.getElementById("f-q")?.focus();
  } else if (ev.key === "j" && rows.length) {
    rows[Math.min(at + 1, rows.length - 1)].focus();
  } else if (ev.key === "k" && rows.length) {
    rows[Math.max(at - 1, 0)].focus();
  } else if (ev.key === "n") {
    document.getElementById("next-page")?.click();
  }
}

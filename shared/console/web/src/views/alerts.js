// Alerts: open / acknowledged / closed, by severity and rule, newest first; one alert with its
// triggering events, status and assignee changes, and comments.
import { api, qs } from "../api.js";
import { errorBox, fields, h, replace, route } from "../dom.js";
import { commentForm } from "./event.js";

const STATUSES = ["open", "acknowledged", "closed"];
const SEVERITIES = ["critical", "high", "medium", "low", "informational"];

function summaryText(s) {
  if (!s || typeof s !== "object") return "";
  const actor = s.actor && typeof s.actor === "object" ? s.actor.upn || s.actor.name || s.actor.id || "" : s.actor || "";
  return [actor, s.operation, s.source].filter(Boolean).join(" · ");
}

export async function alertsView(el, params) {
  const tabs = h(
    "nav",
    { class: "tabs", "aria-label": "Alert status" },
    [["", "all"], ...STATUSES.map((s) => [s, s])].map(([v, label]) =>
      h("a", { href: route("/alerts", { ...params, status: v, cursor: undefined }), class: (params.status || "") === v ? "active" : "" }, label),
    ),
  );
  const sev = h("select", { name: "severity", id: "f-severity" }, h("option", { value: "" }, "any severity"), SEVERITIES.map((s) => h("option", { value: s }, s)));
  sev.value = params.severity || "";
  const rule = h("input", { name: "rule", id: "f-rule", value: params.rule || "", placeholder: "rule id" });
  const form = h("form", { class: "filters" }, h("label", {}, "severity", sev), h("label", {}, "rule", rule), h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = route("/alerts", { status: params.status, severity: sev.value, rule: rule.value.trim() });
  });
  const list = h("div", {}, h("p", { class: "muted" }, "Loading alerts…"));
  replace(el, h("h1", {}, "Alerts"), tabs, form, list);
  let page;
  try {
    page = await api(`/alerts${qs({ status: params.status, severity: params.severity, rule: params.rule, cursor: params.cursor })}`);
  } catch (e) {
    replace(list, errorBox(e));
    return;
  }
  if (!page.alerts.length) {
    replace(list, h("p", { class: "muted" }, "No alerts match."));
    return;
  }
  replace(
    list,
    h(
      "table",
      { class: "alerts", id: "alerts-table" },
      h("thead", {}, h("tr", {}, ...["Raised (UTC)", "Severity", "Title", "Rule", "Status", "Assignee", "Who / what"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        page.alerts.map((a) =>
          h(
            "tr",
            {},
            h("td", { class: "time" }, h("a", { href: route(`/alerts/${encodeURIComponent(a.id)}`) }, a.created_at)),
            h("td", {}, h("span", { class: `sev ${a.severity}` }, a.severity)),
            h("td", {}, a.title),
            h("td", {}, h("code", {}, a.rule_id)),
            h("td", {}, h("span", { class: `status ${a.status}` }, a.status)),
            h("td", {}, a.assignee || ""),
            h("td", {}, summaryText(a.summary)),
          ),
        ),
      ),
    ),
    page.next_cursor ? h("a", { class: "button", href: route("/alerts", { ...params, cursor: page.next_cursor }) }, "Next page") : null,
  );
}

export async function alertView(el, id) {
  replace(el, h("p", { class: "muted" }, "Loading the alert…"));
  let d;
  try {
    d = await api(`/alerts/${encodeURIComponent(id)}`);
  } catch (e) {
    replace(el, h("h1", {}, "Alert"), errorBox(e));
    return;
  }
  const a = d.alert;
  const status = h("span", { class: "muted", id: "triage-status" });
  const patch = async (body) => {
    try {
      await api(`/alerts/${encodeURIComponent(id)}`, { method: "PATCH", body });
      await alertView(el, id);
    } catch (e) {
      status.textContent = e.message;
    }
  };
  const buttons = STATUSES.filter((s) => s !== a.status).map((s) =>
    h("button", { type: "button", id: `set-${s}`, onclick: () => patch({ status: s }) }, s === "open" ? "Reopen" : s === "acknowledged" ? "Acknowledge" : "Close"),
  );
  const assignee = h("input", { name: "assignee", id: "assignee", value: a.assignee || "", maxlength: "256", placeholder: "unassigned" });
  const assignForm = h("form", { class: "assign" }, h("label", { for: "assignee" }, "Assignee"), assignee, h("button", { type: "submit" }, "Assign"));
  assignForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = assignee.value.trim();
    patch({ assignee: v || null });
  });
  const events = h(
    "ul",
    { class: "triggering", id: "alert-events" },
    d.events.map((e) =>
      h("li", {}, h("a", { href: route(`/events/${encodeURIComponent(e.id)}`) }, e.time, " · ", e.operation || e.id), " ", h("span", { class: "muted" }, e.actor?.upn || e.actor?.name || "")),
    ),
    d.missing_events.map((m) => h("li", { class: "muted" }, `${m} (no longer in the hot store)`)),
  );
  const commentList = h(
    "ol",
    { class: "comments" },
    d.comments.map((c) => h("li", {}, h("p", { class: "comment-text" }, c.text), h("p", { class: "muted" }, `${c.author_name || c.author} · ${c.created_at}`))),
  );
  replace(
    el,
    h("h1", {}, a.title),
    h("p", {}, h("span", { class: `sev ${a.severity}` }, a.severity), " ", h("span", { class: `status ${a.status}` }, a.status)),
    fields([
      ["Alert id", h("code", {}, a.id)],
      ["Rule", h("code", {}, a.rule_id)],
      ["Techniques", (a.techniques || []).join(", ")],
      ["Raised", a.created_at],
      ["Summary", summaryText(a.summary)],
      ["Group", a.group],
      ["Assignee", a.assignee || "unassigned"],
      ["Last change", a.updated_at ? `${a.updated_at} by ${a.updated_by || "?"}` : null],
    ]),
    h("div", { class: "actions" }, buttons, status),
    assignForm,
    h("section", {}, h("h2", {}, `Triggering events (${a.event_ids.length})`), events),
    h(
      "section",
      {},
      h("h2", {}, "Comments"),
      commentList,
      commentForm((text) => api(`/alerts/${encodeURIComponent(id)}/comments`, { method: "POST", body: { text } }), () => alertView(el, id)),
    ),
  );
}

// Hunting: the catalog's queries (GET /analytics), a form from each query's typed parameters,
// the answer as a table (values as text) and a CSV download. Admin only: the API refuses anyone
// else with a 403, which the view shows.
import { api } from "../api.js";
import { errorBox, h, replace, route } from "../dom.js";

/** CSV of the answer; a cell that a spreadsheet would read as a formula is prefixed with '. */
export function toCsv(columns, rows) {
  const cell = (v) => {
    if (v === null || v === undefined) return "";
    let s = String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.map((c) => cell(c.name)).join(","), ...rows.map((r) => r.map(cell).join(","))].join("\r\n") + "\r\n";
}

function input(p) {
  const type = p.type === "date" ? "date" : p.type === "integer" ? "number" : "text";
  return h("label", { for: `p-${p.name}` }, `${p.name} (${p.type})`, h("input", { id: `p-${p.name}`, name: p.name, type, required: true, step: type === "number" ? "1" : undefined }));
}

export async function huntingView(el, name) {
  replace(el, h("h1", {}, "Hunting"), h("p", { class: "muted" }, "Loading the catalog…"));
  let catalog;
  try {
    catalog = await api("/analytics");
  } catch (e) {
    replace(el, h("h1", {}, "Hunting"), errorBox(e));
    return;
  }
  const list = h(
    "ul",
    { class: "catalog" },
    catalog.queries.map((q) => h("li", { class: q.name === name ? "active" : "" }, h("a", { href: route(`/hunting/${encodeURIComponent(q.name)}`) }, q.name), h("span", { class: "muted" }, ` ${q.description}`))),
  );
  const chosen = catalog.queries.find((q) => q.name === name);
  const panel = h("div", { class: "hunt" });
  replace(
    el,
    h("h1", {}, "Hunting"),
    h("p", { class: "muted" }, catalog.enabled ? `Queries run in Athena with typed parameters, at most ${catalog.time_limit_secs} s each.` : "Hunting queries are not configured on this deployment."),
    h("div", { class: "hunting" }, list, panel),
  );
  if (!chosen) {
    replace(panel, h("p", { class: "muted" }, "Choose a query."));
    return;
  }
  const form = h("form", { class: "params", id: "hunt-form" }, h("h2", {}, chosen.name), h("p", {}, chosen.description), chosen.params.map(input), h("button", { type: "submit", id: "hunt-run" }, "Run"));
  const out = h("div", { class: "hunt-result", id: "hunt-result" });
  replace(panel, form, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const p of chosen.params) {
      const v = form.elements[p.name].value;
      body[p.name] = p.type === "integer" ? Number(v) : v;
    }
    replace(out, h("p", { class: "muted" }, "Running…"));
    let r;
    try {
      r = await api(`/analytics/${encodeURIComponent(chosen.name)}`, { method: "POST", body });
    } catch (e) {
      replace(out, errorBox(e));
      return;
    }
    const csv = new Blob([toCsv(r.columns, r.rows)], { type: "text/csv" });
    const download = h("a", { class: "button", id: "hunt-csv", download: `${chosen.name}.csv` }, "Download CSV");
    // A blob: URL this page made itself (not a record value), so it is set directly.
    download.href = URL.createObjectURL(csv);
    replace(
      out,
      h("p", { class: "count", id: "hunt-count" }, `${r.rows.length} rows in ${r.elapsed_ms} ms${r.truncated ? " (truncated)" : ""}.`, " ", download),
      h(
        "table",
        { class: "hunt-table", id: "hunt-table" },
        h("thead", {}, h("tr", {}, r.columns.map((c) => h("th", { scope: "col", title: c.type }, c.name)))),
        h("tbody", {}, r.rows.map((row) => h("tr", {}, row.map((v) => h("td", {}, v === null ? "" : v))))),
      ),
    );
  });
}

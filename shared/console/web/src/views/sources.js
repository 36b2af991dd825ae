// Sources: each stream's health from GET /sources (lag, last success, last error with its plain
// sentence, gaps, doctor findings) as green / amber / red, and the delivery channels.
import { api } from "../api.js";
import { errorBox, h, replace } from "../dom.js";

/** red: never ran, failing now, or a doctor error; amber: gaps, lag over an hour, warnings. */
export function light(health) {
  if (!health) return ["red", "no run recorded"];
  const doctor = health.doctor || [];
  if (health.consecutive_failures > 0) return ["red", `${health.consecutive_failures} failed run(s) in a row`];
  if (!health.last_success_at) return ["red", "no successful run yet"];
  if (doctor.some((f) => f.severity === "error")) return ["red", "the doctor found a problem"];
  if ((health.total_gaps || 0) > 0) return ["amber", `${health.total_gaps} gap(s) recorded`];
  if ((health.lag_secs || 0) > 3600) return ["amber", "more than an hour behind"];
  if (doctor.some((f) => f.severity === "warning")) return ["amber", "the doctor has a warning"];
  return ["green", "healthy"];
}

function lag(secs) {
  if (secs === null || secs === undefined) return "";
  if (secs < 120) return `${secs} s`;
  if (secs < 7200) return `${Math.round(secs / 60)} min`;
  return `${Math.round(secs / 3600)} h`;
}

export async function sourcesView(el) {
  replace(el, h("h1", {}, "Sources"), h("p", { class: "muted" }, "Loading health…"));
  let view;
  try {
    view = await api("/sources");
  } catch (e) {
    replace(el, h("h1", {}, "Sources"), errorBox(e));
    return;
  }
  const rows = view.sources.map((s) => {
    const hl = s.health;
    const [color, why] = light(hl);
    const findings = (hl?.doctor || []).filter((f) => f.severity !== "ok");
    return h(
      "tr",
      { class: `health ${color}` },
      h("td", {}, h("span", { class: `light ${color}`, role: "img", "aria-label": color }, ""), " ", color),
      h("td", {}, s.source, s.stream ? h("span", { class: "muted" }, ` / ${s.stream}`) : null),
      h("td", {}, why),
      h("td", {}, lag(hl?.lag_secs)),
      h("td", { class: "time" }, hl?.last_success_at || "never"),
      h("td", {}, hl?.last_error ? h("div", {}, h("code", {}, hl.last_error.code), " ", hl.last_error.message, hl.last_error_at ? h("div", { class: "muted" }, hl.last_error_at) : null) : ""),
      h("td", {}, String(hl?.total_gaps || 0)),
      h("td", {}, findings.length ? h("ul", {}, findings.map((f) => h("li", {}, h("code", {}, f.code), " ", f.message))) : ""),
    );
  });
  const deliveries = (view.deliveries || []).map((d) => {
    const color = d.consecutive_failures > 0 ? "red" : d.refused > 0 || d.failed > 0 ? "amber" : "green";
    return h(
      "tr",
      {},
      h("td", {}, h("span", { class: `light ${color}`, role: "img", "aria-label": color }, ""), " ", color),
      h("td", {}, String(d.channel)),
      h("td", { class: "time" }, d.last_success || "never"),
      h("td", {}, `${d.delivered ?? 0} delivered, ${d.failed ?? 0} failed, ${d.refused ?? 0} refused`),
      h("td", {}, d.last_error ? (typeof d.last_error === "object" ? JSON.stringify(d.last_error) : String(d.last_error)) : ""),
    );
  });
  replace(
    el,
    h("h1", {}, "Sources"),
    h(
      "table",
      { class: "sources", id: "sources-table" },
      h("thead", {}, h("tr", {}, ...["State", "Source / stream", "Why", "Lag", "Last success (UTC)", "Last error", "Gaps", "Doctor"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows),
    ),
    deliveries.length
      ? h(
          "section",
          {},
          h("h2", {}, "Delivery channels"),
          h(
            "table",
            { class: "deliveries" },
            h("thead", {}, h("tr", {}, ...["State", "Channel", "Last success (UTC)", "Deliveries", "Last error"].map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, deliveries),
          ),
        )
      : null,
  );
}

// Overview: charts from GET /summary (approximate counters): events per day by source, results
// (failures), top operations and top actors. A day's counts are the difference of the summaries
// of k and k-1 days back, read after the rest is drawn.
import { api } from "../api.js";
import { bars, stacked } from "../charts.js";
import { errorBox, h, replace, route } from "../dom.js";

const DAYS = 7;

export async function overviewView(el) {
  replace(el, h("h1", {}, "Overview"), h("p", { class: "muted" }, "Loading the summary…"));
  let s;
  try {
    s = await api(`/summary?days=${DAYS}`);
  } catch (e) {
    replace(el, h("h1", {}, "Overview"), errorBox(e));
    return;
  }
  const failures = s.by_result.find((r) => r.value === "failure")?.count || 0;
  const perDay = h("div", { class: "chart-box", id: "per-day" }, h("p", { class: "muted" }, "Counting events per day…"));
  const topActors = h("div", { class: "chart-box" }, bars("Top actors", s.by_actor));
  const links = h(
    "ul",
    { class: "quick" },
    s.by_source.map((r) => h("li", {}, h("a", { href: route("/events", { source: r.value }) }, `${r.value}: ${r.count}`))),
  );
  replace(
    el,
    h("h1", {}, "Overview"),
    h(
      "p",
      { class: "totals" },
      `${s.total} events from ${s.from} to ${s.to} (approximate${s.partial ? ", partial: the read budget ran out" : ""}); `,
      h("a", { href: route("/events", { result: "failure" }) }, `${failures} failures`),
      ".",
    ),
    links,
    h(
      "div",
      { class: "charts" },
      perDay,
      h("div", { class: "chart-box" }, bars("Events by source", s.by_source)),
      h("div", { class: "chart-box" }, bars("Results", s.by_result)),
      h("div", { class: "chart-box" }, bars("Top operations", s.by_operation)),
      topActors,
    ),
  );
  try {
    const sums = [];
    for (let k = 1; k <= DAYS; k++) sums.push(await api(`/summary?days=${k}`));
    const days = [];
    for (let k = DAYS; k >= 1; k--) {
      const now = sums[k - 1];
      const before = k > 1 ? sums[k - 2] : null;
      const parts = now.by_source.map((r) => ({
        value: r.value,
        count: r.count - (before?.by_source.find((b) => b.value === r.value)?.count || 0),
      }));
      days.push({ day: now.from, parts });
    }
    const keys = [...new Set(sums[DAYS - 1].by_source.map((r) => r.value))];
    replace(perDay, stacked(`Events per day by source (last ${DAYS} days)`, days, keys));
  } catch (e) {
    replace(perDay, errorBox(e));
  }
}

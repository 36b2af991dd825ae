// Charts drawn here as inline SVG elements (createElementNS; labels are text nodes), so no chart
// library or CDN is loaded and the CSP needs no style or script exceptions.
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.append(document.createTextNode(String(text)));
  return el;
}

const PALETTE = ["#2f6fb3", "#d9822b", "#3a9a5b", "#b33f62", "#7b5ea7", "#5a8f9e", "#a08a2b"];

/** Horizontal bars of [{value, count}], labelled. */
export function bars(title, rows, { width = 520, max = 10 } = {}) {
  const data = rows.slice(0, max);
  const rowH = 22;
  const labelW = 200;
  const height = data.length * rowH + 28;
  const top = Math.max(1, ...data.map((r) => r.count));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "chart" });
  root.append(svg("title", {}, title));
  root.append(svg("text", { x: 0, y: 14, class: "chart-title" }, title));
  data.forEach((r, i) => {
    const y = 24 + i * rowH;
    const w = Math.max(1, Math.round(((width - labelW - 60) * r.count) / top));
    const label = r.value.length > 30 ? `${r.value.slice(0, 29)}…` : r.value;
    root.append(svg("text", { x: 0, y: y + 14, class: "chart-label" }, label));
    const bar = svg("rect", { x: labelW, y: y + 3, width: w, height: rowH - 6, fill: PALETTE[0] });
    bar.append(svg("title", {}, `${r.value}: ${r.count}`));
    root.append(bar);
    root.append(svg("text", { x: labelW + w + 4, y: y + 14, class: "chart-value" }, r.count));
  });
  if (!data.length) root.append(svg("text", { x: 0, y: 40, class: "chart-label" }, "no data"));
  return root;
}

/** Stacked columns: days (oldest first) of {day, parts: [{value, count}]}, with a legend. */
export function stacked(title, days, keys, { width = 640, height = 240 } = {}) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "chart" });
  root.append(svg("title", {}, title));
  root.append(svg("text", { x: 0, y: 14, class: "chart-title" }, title));
  const plotTop = 24;
  const plotH = height - 92;
  const top = Math.max(1, ...days.map((d) => d.parts.reduce((s, p) => s + p.count, 0)));
  const colW = Math.floor((width - 40) / Math.max(1, days.length));
  days.forEach((d, i) => {
    let y = plotTop + plotH;
    const x = 40 + i * colW;
    for (const p of d.parts) {
      const hgt = Math.round((plotH * p.count) / top);
      if (hgt <= 0) continue;
      y -= hgt;
      const r = svg("rect", { x: x + 4, y, width: colW - 8, height: hgt, fill: PALETTE[keys.indexOf(p.value) % PALETTE.length] });
      r.append(svg("title", {}, `${d.day} ${p.value}: ${p.count}`));
      root.append(r);
    }
    root.append(svg("text", { x: x + 4, y: plotTop + plotH + 14, class: "chart-label" }, d.day.slice(5)));
  });
  root.append(svg("text", { x: 0, y: plotTop + 10, class: "chart-value" }, top));
  keys.forEach((k, i) => {
    const x = (i % 3) * 210;
    const y = height - 26 + Math.floor(i / 3) * 14;
    root.append(svg("rect", { x, y: y - 9, width: 10, height: 10, fill: PALETTE[i % PALETTE.length] }));
    root.append(svg("text", { x: x + 14, y, class: "chart-label" }, k));
  });
  return root;
}

// Building the page without ever parsing markup: every element is made with createElement, every
// value goes in as a text node, and every link built from a value goes through safeHref. The
// page's CSP (shared/query/src/console.rs) adds Trusted Types with no policy, so a stray
// innerHTML would throw rather than render.

/** An element: h("a", {href: "#/x", class: "k"}, "text", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "href") {
      el.setAttribute("href", safeHref(String(v)));
    } else if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "dataset") {
      Object.assign(el.dataset, v);
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

/** Appends children: nodes as they are, everything else as text. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * A link target the console may use: its own hash routes, or an http(s) URL. Anything else
 * (`javascript:`, `data:`, `vbscript:`, protocol-relative tricks) becomes `#`.
 */
export function safeHref(v) {
  const s = String(v).trim();
  if (s.startsWith("#/")) return s;
  try {
    const u = new URL(s, location.href);
    if (u.protocol === "http:" || u.protocol === "https:") return u.href;
  } catch {
    /* not a URL */
  }
  return "#";
}

/** A hash route with its query: route("/events", {actor: "a@b"}) -> "#/events?actor=a%40b". */
export function route(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ""}`;
}

/** A button that copies `text()` to the clipboard. */
export function copyButton(label, text) {
  const b = h("button", { type: "button", class: "copy" }, label);
  b.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text());
      b.textContent = "Copied";
    } catch {
      b.textContent = "Copy failed";
    }
    setTimeout(() => (b.textContent = label), 1500);
  });
  return b;
}

/** An error box with the API's message (as text). */
export function errorBox(e) {
  return h("p", { class: "error", role: "alert" }, e && e.message ? e.message : String(e));
}

/** A definition list of [label, value] pairs, values as text or nodes. */
export function fields(pairs) {
  const dl = h("dl", { class: "fields" });
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === "") continue;
    dl.append(h("dt", {}, k), h("dd", {}, v));
  }
  return dl;
}

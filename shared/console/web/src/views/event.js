// One event: the normalized fields, the raw record pretty-printed (collapsible), copy buttons,
// tags (add, remove) and comments, and links to the same actor's and IP's other events. Every
// value is text; the links are hash routes built with URLSearchParams.
import { api } from "../api.js";
import { copyButton, errorBox, fields, h, replace, route } from "../dom.js";

function actorKey(a) {
  return a?.upn || a?.id || a?.app_id || a?.name || "";
}

function comments(list) {
  return h(
    "ol",
    { class: "comments", id: "comments" },
    list.map((c) =>
      h("li", {}, h("p", { class: "comment-text" }, c.text), h("p", { class: "muted" }, `${c.author_name || c.author} · ${c.created_at}`)),
    ),
  );
}

export function commentForm(post, onDone) {
  const area = h("textarea", { name: "comment", id: "comment-text", rows: "3", maxlength: "4000", "aria-label": "New comment" });
  const status = h("span", { class: "muted" });
  const form = h("form", { class: "comment-form" }, area, h("button", { type: "submit", id: "comment-submit" }, "Add comment"), status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = area.value.trim();
    if (!text) return;
    try {
      await post(text);
      area.value = "";
      onDone();
    } catch (e) {
      status.textContent = e.message;
    }
  });
  return form;
}

export async function eventView(el, id) {
  replace(el, h("p", { class: "muted" }, "Loading the event…"));
  let view;
  try {
    view = await api(`/events/${encodeURIComponent(id)}`);
  } catch (e) {
    replace(el, h("h1", {}, "Event"), errorBox(e));
    return;
  }
  const e = view.event;
  const actor = actorKey(e.actor);
  const links = h(
    "p",
    { class: "related" },
    actor ? h("a", { href: route("/events", { actor }), id: "same-actor" }, "Other events of this actor") : null,
    e.client_ip ? h("a", { href: route("/events", { ip: e.client_ip }), id: "same-ip" }, "Other events from this IP") : null,
    h("a", { href: route("/events", { source: e.source }) }, "This source's events"),
  );
  const targets = (e.targets || []).map((t) => h("div", {}, [t.kind, t.name, t.id].filter(Boolean).join(" · ")));
  const loc = e.location ? [e.location.city, e.location.state, e.location.country].filter(Boolean).join(", ") : "";
  const raw = e.raw !== undefined && e.raw !== null ? JSON.stringify(e.raw, null, 2) : null;
  const rawBlock = raw
    ? h(
        "details",
        { open: true, class: "raw" },
        h("summary", {}, "Raw record (as Microsoft sent it)"),
        h("div", { class: "actions" }, copyButton("Copy raw JSON", () => raw)),
        h("pre", { id: "raw-record" }, raw),
      )
    : h("p", { class: "muted" }, e.raw_ref ? `The raw record is kept in S3: ${e.raw_ref.key}, line ${e.raw_ref.line}.` : "No raw record.");
  const details = e.details && Object.keys(e.details).length ? h("pre", { class: "details" }, JSON.stringify(e.details, null, 2)) : null;

  const tagList = h("ul", { class: "tags", id: "tags" });
  const renderTags = (tags) =>
    replace(
      tagList,
      tags.map((t) =>
        h(
          "li",
          {},
          h("span", { class: "tag" }, t),
          h("button", { type: "button", class: "remove", "aria-label": `Remove tag ${t}`, onclick: () => changeTags({ remove: [t] }) }, "×"),
        ),
      ),
    );
  const tagStatus = h("span", { class: "muted" });
  async function changeTags(body) {
    try {
      const r = await api(`/events/${encodeURIComponent(id)}/tags`, { method: "PATCH", body });
      renderTags(r.tags);
      tagStatus.textContent = "";
    } catch (err) {
      tagStatus.textContent = err.message;
    }
  }
  renderTags(view.tags);
  const tagInput = h("input", { name: "tag", id: "tag-input", maxlength: "64", placeholder: "new tag", "aria-label": "New tag" });
  const tagForm = h("form", { class: "tag-form" }, tagInput, h("button", { type: "submit", id: "tag-submit" }, "Add tag"), tagStatus);
  tagForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = tagInput.value.trim();
    if (t) changeTags({ add: [t] }).then(() => (tagInput.value = ""));
  });

  const commentBox = h("div", {}, comments(view.comments));
  const reload = async () => {
    const v = await api(`/events/${encodeURIComponent(id)}`);
    replace(commentBox, comments(v.comments));
  };

  replace(
    el,
    h("h1", {}, e.operation || "Event"),
    h("p", { class: "id" }, h("code", { id: "event-id" }, e.id), copyButton("Copy id", () => e.id)),
    links,
    fields([
      ["Time (UTC)", e.time],
      ["Source", e.stream ? `${e.source} / ${e.stream}` : e.source],
      ["Service", e.service],
      ["Category", e.category],
      ["Operation", e.operation],
      ["Result", e.result_reason ? `${e.result}: ${e.result_reason}` : e.result],
      ["Actor", [e.actor?.name, e.actor?.upn, e.actor?.id].filter(Boolean).join(" · ")],
      ["Actor kind", e.actor?.kind],
      ["App id", e.actor?.app_id],
      ["Targets", targets.length ? targets : null],
      ["Client IP", e.client_ip],
      ["User agent", e.user_agent],
      ["Location", loc],
      ["Record id", e.record_id],
      ["Ingested", e.ingested_at],
    ]),
    details ? h("details", { class: "details" }, h("summary", {}, "Details"), details) : null,
    rawBlock,
    h("section", {}, h("h2", {}, "Tags"), tagList, tagForm),
    h(
      "section",
      {},
      h("h2", {}, "Comments"),
      commentBox,
      commentForm((text) => api(`/events/${encodeURIComponent(id)}/comments`, { method: "POST", body: { text } }), reload),
    ),
  );
}

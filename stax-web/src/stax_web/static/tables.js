// Tables: top functions, threads, wake-up chains, and the diff's top with deltas.

import { getJSON } from "./api.js";
import { commonParams } from "./state.js";
import { amount, pct, ms, el } from "./format.js";
import { functionActions } from "./actions.js";

const TOP_LIMIT = 500;

function bar(part, whole) {
  const w = whole ? Math.round((60 * part) / whole) : 0;
  return el("span", { class: "bar", style: `width:${w}px` });
}

/** Top functions: server-sorted by self, total or samples; the filter box narrows by name. */
export async function renderTop(app) {
  const s = app.state, stale = app.staleness();
  const params = [...commonParams(s), ["sort", s.sort], ["limit", String(TOP_LIMIT)]];
  if (s.filter) params.push(["filter", s.filter]);
  const data = await getJSON("top", params);
  if (stale()) return;
  app.report(data.total, data.unit);
  const filter = el("input", { type: "search", id: "top-filter", placeholder: "filter functions", value: s.filter,
    autocomplete: "off", spellcheck: "false" });
  let timer = null;
  filter.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => app.setState({ filter: filter.value.trim() }, { keepFocus: "top-filter" }), 250);
  });
  const th = (key, label, cls = "") => el("th", { class: cls + (s.sort === key ? " sorted" : ""), "data-sort": key,
    onclick: key ? () => app.setState({ sort: key }) : null, title: key ? `sort by ${label}` : null }, label);
  const sel = el("div", { class: "selbar" });
  const showActions = (row) => sel.replaceChildren(el("span", { class: "fn" }, row.function),
    ...functionActions(app, row.function, row.image));
  const rows = data.rows.map((r) => {
    const tr = el("tr", { class: "clickable" + (r.function === s.fn ? " sel" : ""), "data-function": r.function,
      onclick: () => { app.state.fn = r.function; app.writeHash();
        tr.parentElement.querySelectorAll("tr.sel").forEach((x) => x.classList.remove("sel"));
        tr.classList.add("sel"); showActions(r); } },
      el("td", { class: "name" }, r.function),
      el("td", { class: "left muted" }, (r.image || "").split("/").pop()),
      el("td", {}, bar(r.self, data.total), pct(r.self, data.total)),
      el("td", {}, amount(r.self, data.unit)),
      el("td", {}, pct(r.total, data.total)),
      el("td", {}, amount(r.total, data.unit)),
      el("td", {}, String(r.samples ?? "")),
      el("td", { class: "left muted mono" }, r.file ? `${r.file.split("/").pop()}${r.line ? ":" + r.line : ""}` : ""));
    if (r.function === s.fn) showActions(r);
    return tr;
  });
  const table = el("table", { class: "grid", id: "top-table" },
    el("thead", {}, el("tr", {}, th(null, "function", "name"), th(null, "image", "name"), th("self", "self %"),
      th("self", "self"), th("total", "total %"), th("total", "total"), th("samples", "samples"), th(null, "source", "name"))),
    el("tbody", {}, rows));
  app.view.replaceChildren(el("div", { class: "toolbar" }, filter,
    el("span", { class: "muted" }, `${data.rows.length} functions${data.rows.length >= TOP_LIMIT ? " (first " + TOP_LIMIT + ")" : ""} · ${amount(data.total, data.unit)}`)),
  sel, table);
  app.current = { kind: "top", data };
  app.breadcrumb(null);
}

/** Threads: the per-thread breakdown of `stax threads --json`; a click filters every view to the thread. */
export async function renderThreads(app) {
  const stale = app.staleness();
  const data = await getJSON("threads", commonParams(app.state));
  if (stale()) return;
  const tids = app.state.tids;
  const rows = data.threads.map((t) => el("tr", {
    class: "clickable" + (tids.includes(t.tid) ? " sel" : ""), "data-tid": t.tid,
    title: "show this thread in the flame graph (shift: add to the selection)",
    onclick: (e) => app.setState({ tids: e.shiftKey ? [...new Set([...tids, t.tid])] : [t.tid], view: "flame", zoom: [] }),
  },
  el("td", {}, String(t.tid)), el("td", { class: "name" }, t.name || ""), el("td", { class: "left" }, `${t.process || ""} (${t.pid})`),
  el("td", {}, String(t.samples)), el("td", {}, t.on_cpu_ns === null ? `${(t.events || 0).toLocaleString("en")} ${data.event}` : ms(t.on_cpu_ns || 0)), el("td", {}, ms(t.blocked_ns || 0)),
  el("td", {}, ms(t.runnable_wait_ns || 0)), el("td", {}, String(t.wakeups_received ?? "")),
  el("td", { class: "left" }, (t.wakers || []).slice(0, 3).map((w) => el("a", {
    title: "filter to the waker", onclick: (e) => { e.stopPropagation(); if (w.tid !== null) app.setState({ tids: [w.tid], view: "flame", zoom: [] }); },
  }, `${w.name || "irq"}${w.tid !== null ? " " + w.tid : ""} ×${w.count}  `))),
  el("td", { class: "left muted" }, Object.entries(t.blocked || {}).sort((a, b) => b[1] - a[1]).slice(0, 3)
    .map(([r, ns]) => `${r} ${ms(ns)}`).join(", "))));
  app.view.replaceChildren(
    ...(data.notes || []).map((n) => el("p", { class: "hint" }, n)),
    el("table", { class: "grid", id: "threads-table" }, el("thead", {}, el("tr", {},
      ...["tid", "thread", "process", "samples", data.threads.some((t) => t.on_cpu_ns === null) ? data.event : "on-CPU", "blocked", "runnable wait", "wakeups", "woken by", "blocked on"]
        .map((h, k) => el("th", { class: k === 1 || k === 2 || k >= 8 ? "name" : "" }, h)))), el("tbody", {}, rows)));
  app.current = { kind: "threads" };
  app.breadcrumb(null);
}

function stackText(stack, n = 6) {
  return stack.slice(0, n).map((f) => f.function).join(" ← ") + (stack.length > n ? " ← …" : "");
}

/** Wake-up chains of `stax wakers --json`: what blocked threads waited in, and who woke them. */
export async function renderWakers(app) {
  if (app.meta && !app.meta.has_off_cpu) {
    app.view.replaceChildren(el("p", { class: "hint" },
      "This recording has no off-CPU spans, so no wake-ups: record without --no-off-cpu to see who woke whom."));
    app.current = { kind: "wakers" };
    app.breadcrumb(null);
    return;
  }
  const stale = app.staleness();
  const data = await getJSON("wakers", commonParams(app.state));
  if (stale()) return;
  const link = (t) => el("a", { "data-tid": t.tid, title: "show this thread in the flame graph",
    onclick: () => t.tid !== null && app.setState({ tids: [t.tid], view: "flame", zoom: [] }) },
  `${t.name || "interrupt"}${t.tid !== null && t.tid !== undefined ? " " + t.tid : ""}`);
  const chains = data.chains.map((c) => el("div", { class: "chain" },
    el("div", {}, el("b", {}, c.reason), ` ${ms(c.blocked_ns)} (${c.percent.toFixed(1)}%), ${c.spans} spans · threads: `,
      c.threads.map((t) => [link(t), " "])),
    el("div", { class: "stack" }, stackText(c.stack)),
    el("table", { class: "grid" }, el("tbody", {}, c.wakers.map((w) => el("tr", {},
      el("td", { class: "left" }, "woken by ", link(w)), el("td", {}, ms(w.blocked_ns)), el("td", {}, `${w.percent.toFixed(1)}%`),
      el("td", { class: "name muted" }, stackText(w.stack))))))));
  app.view.replaceChildren(
    el("p", { class: "muted" }, `${ms(data.blocked_ns || 0)} blocked in ${data.blocked_spans || 0} spans, ${ms(data.woken_ns || 0)} with a known waker`),
    ...(data.notes || []).map((n) => el("p", { class: "hint" }, n)),
    ...(chains.length ? chains : [el("p", { class: "hint" }, "No off-CPU time in this selection.")]));
  app.current = { kind: "wakers" };
  app.breadcrumb(null);
}

/** The diff's top functions with their change in percentage points of the total. */
export async function diffTopTable(app, holder, stale = app.staleness()) {
  const s = app.state;
  const data = await getJSON("diff/top", [...commonParams(s), ["limit", "200"]]);
  if (stale()) return;
  const total = data.total || (app.current && app.current.tree ? app.current.tree.grandTotal : 1);
  const rows = [...data.rows].filter((r) => Math.abs(r.delta) >= 0.005)
    .sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta)).slice(0, 60).map((r) => el("tr",
    { "data-function": r.function },
    el("td", { class: "name" }, r.function), el("td", { class: "left muted" }, (r.image || "").split("/").pop()),
    el("td", {}, pct(r.self, total)), el("td", {}, pct(r.base_self, total)),
    el("td", { class: r.delta > 0 ? "grew" : r.delta < 0 ? "shrank" : "" }, `${r.delta > 0 ? "+" : ""}${r.delta.toFixed(2)} pp`)));
  holder.replaceChildren(el("div", { class: "pane-title" }, "functions that changed most (self time)"),
    el("table", { class: "grid", id: "diff-top" }, el("thead", {}, el("tr", {},
      el("th", { class: "name" }, "function"), el("th", { class: "name" }, "image"), el("th", {}, "now"),
      el("th", {}, "base"), el("th", {}, "change"))), el("tbody", {}, rows)));
}

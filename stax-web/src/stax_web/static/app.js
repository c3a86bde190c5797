// stax web UI: wiring. The state (view, mode, threads, time range, transforms, zoom, function) is one
// object mirrored in the URL hash; every change re-renders the current view from cached server answers.
// `window.__stax` exposes what the browser tests and the bench read (frame geometry, totals, idleness).

import { getJSON } from "./api.js";
import { parseHash, toHash, commonParams, defaultState } from "./state.js";
import { renderFlame, renderTree, renderSandwich, applyZoom } from "./flameviews.js";
import { renderTop, renderThreads, renderWakers } from "./tables.js";
import { renderSource } from "./annotate.js";
import { Timeline } from "./timeline.js";
import { amount, ms, pct, el, escapeRegExp } from "./format.js";

const RENDERERS = {
  flame: (app) => renderFlame(app), icicle: (app) => renderFlame(app, { icicle: true }),
  diff: (app) => renderFlame(app, { diff: true }), tree: renderTree, top: renderTop,
  sandwich: renderSandwich, threads: renderThreads, wakers: renderWakers, source: renderSource,
};
const KEYS = { f: "flame", i: "icicle", t: "tree", o: "top", s: "sandwich", h: "threads", w: "wakers", d: "diff", a: "source" };

const app = {
  state: parseHash(location.hash),
  meta: null,
  current: null,
  view: document.getElementById("view"),
  tooltip: document.getElementById("tooltip"),
  generation: 0,
  busy: 0,
  total: null, unit: null,
  timings: { firstPaintMs: null, lastZoomMs: null, lastRenderMs: null },
  errors: [],
  describeMap: null, describeKey: null,

  /** A test a renderer takes before its first await: true once a newer render has started. */
  staleness() { const g = this.generation; return () => g !== this.generation; },

  writeHash() { history.replaceState(null, "", location.pathname + location.search + toHash(this.state)); },

  /** Change the selection and redraw; KEEPFOCUS re-focuses an input the redraw replaced. */
  setState(patch, { keepFocus = null } = {}) {
    const before = this.state.view;
    Object.assign(this.state, patch);
    if (this.state.view !== before) history.pushState(null, "", location.pathname + location.search + toHash(this.state));
    else this.writeHash();
    this.render().then(() => {
      if (keepFocus) { const e = document.getElementById(keepFocus); if (e) { e.focus(); e.selectionStart = e.value.length; } }
    });
  },

  /** Zoom the flame graph to a path of names: no fetch, just a redraw (the 50 ms budget). */
  zoomTo(names, fn = undefined) {
    const t0 = performance.now();
    this.state.zoom = names;
    if (fn !== undefined) this.state.fn = fn;
    this.writeHash();
    if (this.current && this.current.kind === "flame") {
      applyZoom(this);
      this.updateChrome();
      this.timings.lastZoomMs = performance.now() - t0;
    } else {
      this.render();
    }
  },

  async render() {
    const gen = ++this.generation;
    this.busy++;
    const t0 = performance.now();
    try {
      this.updateChrome();
      const s = this.state;
      if (s.view === "diff" && this.meta && !this.meta.has_base) s.view = "flame";
      await RENDERERS[s.view](this);
      if (gen === this.generation) {
        this.timings.lastRenderMs = performance.now() - t0;
        if (this.timings.firstPaintMs === null && this.current && this.current.kind === "flame")
          this.timings.firstPaintMs = performance.now();
        this.updateChrome();
        setStatus("");
      }
    } catch (err) {
      if (gen === this.generation) {
        this.errors.push(String(err.message || err));
        setStatus(err.message || String(err), true);
        this.view.replaceChildren(el("p", { class: "error" }, err.message || String(err)));
        this.current = null;
      }
    } finally {
      this.busy--;
    }
  },

  /** The total of the selection as the current view counted it. */
  report(total, unit) { this.total = total; this.unit = unit; },

  /** Span counts for off-CPU tooltips (and file:line where a payload has none), from /api/top of the
   * same selection (fetched once per selection). */
  describer() {
    const params = [...commonParams(this.state), ["sort", "total"], ["limit", "5000"]];
    const key = new URLSearchParams(params).toString();
    if (this.describeKey !== key) {
      this.describeKey = key;
      this.describeMap = new Map();
      const map = this.describeMap;
      this.busy++;
      this.describeP = getJSON("top", params).then((d) => {
        for (const r of d.rows) map.set(r.function + "\u0000" + (r.image || ""), r);
      }, () => {}).finally(() => { this.busy--; });
    }
    return this.describeP;
  },
  describe(name, image) { return this.describeMap && this.describeMap.get(name + "\u0000" + (image || "")); },

  /** The search as a frame test: plain text matches case-insensitively; /re/ is a regular expression. */
  searchTest() {
    const q = this.state.search.trim();
    if (!q) return null;
    let re;
    const m = q.match(/^\/(.+)\/$/);
    try { re = new RegExp(m ? m[1] : escapeRegExp(q), "i"); } catch { re = new RegExp(escapeRegExp(q), "i"); }
    return (name) => re.test(name);
  },

  searchMask(tree) {
    const test = this.searchTest();
    const out = document.getElementById("match");
    if (!test) { out.textContent = ""; this.lastSearch = null; return null; }
    const r = tree.search(test);
    this.lastSearch = { percent: (100 * r.total) / (tree.grandTotal || 1), total: r.total, frames: r.count };
    out.textContent = `${this.lastSearch.percent.toFixed(1)}% matched`;
    out.title = `${amount(r.total, tree.unit)} under ${r.count} matching frames`;
    return r.match;
  },

  breadcrumb(tree, z = 0) {
    const bc = document.getElementById("breadcrumb");
    if (!tree) { bc.replaceChildren(); return; }
    const path = tree.path(z);
    bc.replaceChildren(...path.map((i, k) => k === path.length - 1
      ? el("span", { "data-node": i }, tree.nameOf(i))
      : el("a", { "data-node": i, onclick: () => this.zoomTo(tree.pathNames(i)) }, tree.nameOf(i))));
  },

  /** Header, filter chips, summary and timeline selection, from the state. */
  updateChrome() {
    const s = this.state, m = this.meta;
    document.querySelectorAll("#views button").forEach((b) => b.classList.toggle("on", b.dataset.view === s.view));
    document.getElementById("mode").value = s.mode;
    document.getElementById("kernel-off").checked = !s.kernel;
    document.getElementById("invert").checked = s.invert;
    const search = document.getElementById("search");
    if (document.activeElement !== search) search.value = s.search;
    const chips = [];
    const chip = (label, clear) => el("span", { class: "chip" }, label, el("button", { title: "remove", onclick: clear }, "✕"));
    if (s.tids.length) {
      const names = new Map((m ? m.processes : []).flatMap((p) => p.threads.map((t) => [t.tid, t.name])));
      const label = s.tids.map((tid) => (names.get(tid) ? `${names.get(tid)} ${tid}` : String(tid))).join(", ");
      chips.push(chip(`thread${s.tids.length > 1 ? "s" : ""} ${label}`, () => this.setState({ tids: [] })));
    }
    if (s.start !== null || s.end !== null)
      chips.push(chip(`${ms(s.start ?? 0)} – ${s.end !== null ? ms(s.end) : "end"}`, () => this.setState({ start: null, end: null })));
    for (const k of ["focus", "merge", "collapse"])
      for (const v of s[k]) chips.push(chip(`${k} ${k === "collapse" ? v.split("/").pop() : v}`,
        () => this.setState({ [k]: s[k].filter((x) => x !== v), zoom: [] })));
    document.getElementById("chips").replaceChildren(...chips);
    let text = "";
    if (m && this.total !== null) {
      const whole = s.mode === "cpu" ? m.sample_count : null;
      text = `selection: ${amount(this.total, this.unit)}` + (whole ? ` (${pct(this.total, whole)} of the recording)` : "");
    }
    const sum = document.getElementById("summary");
    sum.textContent = text;
    sum.dataset.total = this.total ?? "";
    if (this.timeline) this.timeline.setSelection([s.start, s.end], s.tids);
  },

  /** Forget zoom and search first; a second Esc clears the filters and transforms too. */
  reset(all = false) {
    const s = this.state;
    if (!all && (s.search || s.zoom.length || s.fn)) { this.setState({ search: "", zoom: [], fn: "" }); return; }
    const d = defaultState();
    this.setState({ ...d, view: s.view, mode: s.mode, sort: s.sort });
  },
};

function setStatus(text, error = false) {
  const st = document.getElementById("status");
  st.textContent = text || "/ search · Esc reset · f flame · i icicle · t tree · o top · s sandwich · h threads · w wakers · a source";
  st.classList.toggle("error", error);
}

async function loadTimeline() {
  const tl = new Timeline(document.getElementById("timeline"), {
    tooltip: app.tooltip,
    onRange: (a, b) => app.setState({ start: Math.max(0, Math.round(a)), end: Math.round(b), zoom: [] }),
    onThread: (tids, add) => {
      const cur = app.state.tids;
      const next = add ? [...new Set([...cur, ...tids])] : (tids.length === cur.length && tids.every((t) => cur.includes(t)) ? [] : tids);
      app.setState({ tids: next, zoom: [] });
    },
  });
  app.timeline = tl;
  app.busy++;
  try {
    const data = await getJSON("timeline", [["buckets", String(tl.buckets())]]);
    tl.setData(data);
    tl.setSelection([app.state.start, app.state.end], app.state.tids);
  } catch (err) {
    setStatus(`timeline: ${err.message || err}`, true);
  } finally { app.busy--; }
}

function wire() {
  document.querySelectorAll("#views button").forEach((b) =>
    b.addEventListener("click", () => app.setState({ view: b.dataset.view })));
  document.getElementById("mode").addEventListener("change", (e) => app.setState({ mode: e.target.value, zoom: [] }));
  document.getElementById("kernel-off").addEventListener("change", (e) => app.setState({ kernel: !e.target.checked, zoom: [] }));
  document.getElementById("invert").addEventListener("change", (e) => app.setState({ invert: e.target.checked, zoom: [] }));
  document.getElementById("reset").addEventListener("click", () => app.reset(true));
  const search = document.getElementById("search");
  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    app.searchPending = true;
    timer = setTimeout(() => {
      app.searchPending = false;
      app.state.search = search.value; app.writeHash(); applySearch();
    }, 120);
  });
  document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement && document.activeElement.tagName);
    if (e.key === "Escape") {
      if (typing) document.activeElement.blur();
      app.reset(false);
      e.preventDefault();
      return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "/") { e.preventDefault(); search.focus(); search.select(); return; }
    if (KEYS[e.key]) app.setState({ view: KEYS[e.key] });
  });
  window.addEventListener("hashchange", () => { app.state = parseHash(location.hash); app.render(); });
  window.addEventListener("popstate", () => { app.state = parseHash(location.hash); app.render(); });
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (app.current && app.current.chart) app.current.chart.draw();
      if (app.current && app.current.kind === "sandwich") { app.current.callers.draw(); app.current.callees.draw(); }
      if (app.timeline) app.timeline.draw();
    }, 100);
  });
}

/** Search needs no fetch: re-mark the frames of whatever is shown. */
function applySearch() {
  const cur = app.current;
  if (cur && cur.kind === "flame") applyZoom(app);
  else if (cur && cur.kind === "sandwich") {
    cur.callers.setMatch(app.searchMask(cur.callers.tree)); cur.callees.setMatch(app.searchMask(cur.callees.tree));
  } else if (cur && cur.kind === "tree") { cur.calltree.match = app.searchMask(cur.tree); cur.calltree.render(); }
  else if (cur && cur.kind === "top") app.setState({ filter: app.state.search });
}

window.__stax = {
  state: () => JSON.parse(JSON.stringify(app.state)),
  meta: () => app.meta,
  idle: () => app.busy === 0 && !app.searchPending,
  total: () => app.total,
  unit: () => app.unit,
  search: () => app.lastSearch,
  timings: () => ({ ...app.timings }),
  errors: () => [...app.errors],
  /** Drawn frames of the flame/icicle/diff view, or of the sandwich's "callers" / "callees". */
  frames: (which = "main") => {
    const cur = app.current;
    if (!cur) return [];
    if (cur.kind === "sandwich") return (which === "callers" ? cur.callers : cur.callees).frames();
    return cur.chart ? cur.chart.frames() : [];
  },
  zoomTo: (names) => app.zoomTo(names),
  setState: (patch) => app.setState(patch),
};

async function main() {
  wire();
  setStatus("loading…");
  app.busy++;
  app.timings.scriptStartMs = performance.now();
  // The view's data and the recording's description are asked for together: the first paint
  // waits for one round trip, not two.
  const first = app.render(); // its fetch leaves first: the server answers in order
  const metaP = getJSON("meta");
  try {
    app.meta = await metaP;
    app.timings.metaMs = performance.now();
  } catch (err) {
    setStatus(err.message || String(err), true);
    app.errors.push(String(err.message || err));
    app.busy--;
    return;
  }
  const m = app.meta;
  document.getElementById("command").textContent = m.command || "";
  document.getElementById("command").title = m.command || "";
  document.title = `stax · ${m.command || "recording"}`;
  document.querySelector('#views button[data-view="diff"]').hidden = !m.has_base;
  for (const o of document.querySelectorAll("#mode option"))
    o.disabled = o.value !== "cpu" && (!m.has_off_cpu || (m.modes && !m.modes.includes(o.value)));
  app.updateChrome();
  app.busy--;
  app.busy++; // the timeline waits for the first view: it is not what the eye looks at first
  await first;
  app.busy--;
  loadTimeline();
}

main();

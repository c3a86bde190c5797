// The views built on the flame payload: flame graph, icicle, call tree, sandwich and diff.
// Built trees are kept per URL, so a zoom or a view switch on the same selection costs no fetch.

import { getJSON } from "./api.js";
import { commonParams } from "./state.js";
import { FlameTree, FlameChart } from "./flame.js";
import { CallTree } from "./calltree.js";
import { KIND_LEGEND, REASON_COLOURS, reasonColour, diffColour } from "./colours.js";
import { amount, el, plural } from "./format.js";
import { functionActions, selectedFunctionData } from "./actions.js";
import { diffTopTable } from "./tables.js";

const trees = new Map();

async function flameTree(path, params) {
  const key = path + "?" + new URLSearchParams(params);
  if (!trees.has(key)) {
    if (trees.size > 8) trees.delete(trees.keys().next().value);
    trees.set(key, getJSON(path, params).then((p) => {
      const t0 = performance.now();
      const tree = new FlameTree(p);
      tree.buildMs = performance.now() - t0;
      return tree;
    }));
  }
  return trees.get(key);
}

/** Flame graph (ICICLE false) or icicle of the selection; DIFF: the /api/diff payload coloured by change. */
export async function renderFlame(app, { icicle = false, diff = false } = {}) {
  const s = app.state, stale = app.staleness();
  const path = diff ? "diff" : "flame";
  const params = commonParams(s, { invert: s.invert });
  const key = `${s.view}|${path}?${new URLSearchParams(params)}`;
  const tree = await flameTree(path, params);
  if (app.timings.treeReadyMs === undefined) app.timings.treeReadyMs = performance.now();
  if (stale()) return;
  let chart = app.current && app.current.key === key ? app.current.chart : null;
  if (!chart) {
    app.view.replaceChildren();
    chart = new FlameChart(app.view, {
      icicle, tooltip: app.tooltip, describe: (name, image) => app.describe(name, image),
      onZoom: (i) => app.zoomTo(tree.pathNames(i), tree.nameOf(i)),
    });
    chart.setTree(tree);
    if (!tree.grandTotal)
      app.view.append(el("p", { class: "hint", "data-role": "empty" }, s.mode === "cpu"
        ? "No samples in this selection: widen the time range, or clear the thread filter and transforms."
        : "No blocked or runnable-wait time in this selection (was the recording made with off-CPU capture?)."));
    app.view.append(legend(tree, diff), el("div", { class: "selbar", id: "selbar" }));
    app.current = { key, chart, tree, kind: "flame" };
    if (diff) {
      const holder = el("div");
      app.view.append(holder);
      await diffTopTable(app, holder, stale);
    }
  }
  app.report(tree.grandTotal, tree.unit);
  applyZoom(app);
  Object.assign(app.timings, { buildMs: tree.buildMs, drawMs: chart.lastDrawMs, nodes: tree.n });
  // file:line comes with each node; off the CPU the tooltips also give the span counts of /api/top,
  // asked once the graph is drawn, not before
  if (tree.unit === "ns") app.describer();
}

/** Zoom, search and selection of the current flame chart, from the state (no fetch). */
export function applyZoom(app) {
  const cur = app.current;
  if (!cur || cur.kind !== "flame") return;
  const { chart, tree } = cur;
  const z = tree.findPath(app.state.zoom);
  chart.zoom = z;
  chart.match = app.searchMask(tree);
  chart.draw();
  app.breadcrumb(tree, z);
  const sel = document.getElementById("selbar");
  if (sel) {
    const fn = app.state.fn;
    sel.replaceChildren(...(fn ? [el("span", { class: "fn" }, fn), ...functionActions(app, fn, imageOf(tree, fn))]
      : [el("span", { class: "muted" }, "click a frame to zoom into it and select its function · / search · Esc reset")]));
  }
}

function imageOf(tree, name) {
  for (let i = 1; i < tree.n; i++) if (tree.nameOf(i) === name) return tree.imageOf(i);
  return "";
}

function legend(tree, diff) {
  const items = [];
  if (diff) {
    items.push(el("span", {}, el("i", { style: `background:${diffColour(1)}` }), "grew"),
      el("span", {}, el("i", { style: `background:${diffColour(-1)}` }), "shrank"),
      el("span", {}, "normalised to the current total: width is the current profile"),
      ...tree.baseNotes.map((note) => el("span", { "data-role": "base-note", class: "note" }, note)));
  } else if (tree.reason) {
    const seen = new Set(tree.reason.filter(Boolean));
    for (const r of Object.keys(REASON_COLOURS).concat([...seen].filter((r) => !(r in REASON_COLOURS))))
      if (seen.has(r)) items.push(el("span", {}, el("i", { style: `background:${reasonColour(r)}` }), r));
  } else {
    for (const [k, c] of KIND_LEGEND) items.push(el("span", {}, el("i", { style: `background:${c}` }), k));
  }
  items.push(el("span", { "data-role": "total" }, `total ${amount(tree.grandTotal, tree.unit)}`));
  if (tree.dropped && tree.dropped.nodes && tree.dropped.value > 0)
    items.push(el("span", { title: "the server leaves out frames too small to draw; zoom in or filter to see them" },
      `${tree.dropped.nodes.toLocaleString("en")} tiny frames left out (${amount(tree.dropped.value, tree.unit)})`));
  if (tree.nonCode && tree.nonCode.frames > 0)
    items.push(el("span", { "data-role": "non-code",
      title: "addresses no mapping holds (e.g. a system call argument read as a return address), as stax top --off-cpu drops them" },
    `dropped: ${plural(tree.nonCode.frames, "frame")} that ${tree.nonCode.frames === 1 ? "is" : "are"} not code,`
      + ` from the stacks of ${plural(tree.nonCode.spans, "span")}`));
  return el("div", { class: "legend" }, items);
}

/** Call tree, top-down (or bottom-up with "inverted"), rooted at the flame zoom. */
export async function renderTree(app) {
  const s = app.state, stale = app.staleness();
  const tree = await flameTree("flame", commonParams(s, { invert: s.invert }));
  if (stale()) return;
  const root = tree.findPath(s.zoom);
  app.view.replaceChildren(el("div", { class: "toolbar" },
    el("span", { class: "muted" }, s.invert ? "bottom-up: functions that spent the time first, their callers below"
      : "top-down: callers first · click a row for its actions, double-click or ▸ to expand")));
  const ct = new CallTree(app.view, tree, {
    root, match: app.searchMask(tree),
    actions: (i) => [el("button", { onclick: (e) => { e.stopPropagation(); app.zoomTo(tree.pathNames(i)); } },
      "focus subtree"), ...functionActions(app, tree.nameOf(i), tree.imageOf(i))],
    onSelect: (i) => { app.state.fn = tree.nameOf(i); app.writeHash(); },
  });
  app.current = { kind: "tree", tree, calltree: ct };
  app.report(tree.grandTotal, tree.unit);
  app.breadcrumb(tree, root);
}

/** Sandwich: the callers of one function above it, its callees below. */
export async function renderSandwich(app) {
  const s = app.state;
  const data = await selectedFunctionData(app, "sandwich", "Sandwich");
  if (!data) return;
  const callers = new FlameTree(data.callers), callees = new FlameTree(data.callees);
  const unit = callees.unit;
  app.view.replaceChildren();
  const head = el("div", { class: "selbar" }, el("span", { class: "fn" }, s.fn),
    el("span", { class: "muted" }, `self ${amount(data.self, unit)} · total ${amount(data.total, unit)}`),
    ...functionActions(app, s.fn, "", { sandwich: false }));
  app.view.append(head, el("div", { class: "pane-title" }, "callers (who calls it, above)"));
  const onZoom = (tree) => (i) => { if (i > 0) app.setState({ fn: tree.nameOf(i) }); };
  const up = new FlameChart(app.view, { icicle: false, tooltip: app.tooltip, onZoom: onZoom(callers),
    describe: (n, im) => app.describe(n, im) });
  up.setTree(callers);
  app.view.append(el("div", { class: "pane-title" }, "callees (what it calls, below)"));
  const down = new FlameChart(app.view, { icicle: true, tooltip: app.tooltip, onZoom: onZoom(callees),
    describe: (n, im) => app.describe(n, im) });
  down.setTree(callees);
  up.match = app.searchMask(callers); down.match = app.searchMask(callees);
  up.draw(); down.draw();
  app.current = { kind: "sandwich", callers: up, callees: down };
  app.breadcrumb(null);
}


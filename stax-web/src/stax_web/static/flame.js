// Flame graph and icicle on one <canvas>: the tree arrives compact (WEB_API.md, /api/flame) and is laid
// out once into typed arrays; a draw walks only frames wider than a fraction of a pixel, so a zoom
// repaints without touching the server or the DOM.

import { KIND, kindColour, reasonColour, diffColour, SEARCH_COLOUR, ROOT_COLOUR } from "./colours.js";
import { amount, pct, el } from "./format.js";

const ROW = 18;
const MIN_WIDTH = 0.35; // px: narrower frames (and their subtrees) are not drawn

const inkCache = new Map();

/** Black text on light frames, white on dark ones (strong diff colours, the search highlight). */
function textOn(fill) {
  let ink = inkCache.get(fill);
  if (ink === undefined) {
    const [r, g, b] = (fill.match(/\d+/g) || [255, 255, 255]).map(Number);
    ink = 0.299 * r + 0.587 * g + 0.114 * b < 120 ? "#fff" : "#111";
    inkCache.set(fill, ink);
  }
  return ink;
}

/** The /api/flame payload as arrays: parent, totals, x offsets (in the payload's unit), depth, children. */
export class FlameTree {
  constructor(payload) {
    const nodes = payload.nodes;
    const n = nodes.length;
    this.n = n;
    this.unit = payload.unit;
    this.names = payload.names;
    this.images = payload.images;
    this.name = new Int32Array(n); this.image = new Int32Array(n); this.parent = new Int32Array(n);
    this.kind = new Int8Array(n); this.total = new Float64Array(n); this.self = new Float64Array(n);
    this.x = new Float64Array(n); this.depth = new Int32Array(n);
    this.firstChild = new Int32Array(n).fill(-1); this.nextSibling = new Int32Array(n).fill(-1);
    this.isDiff = n > 0 && nodes[0].length >= 8;
    if (this.isDiff) { this.baseTotal = new Float64Array(n); this.baseSelf = new Float64Array(n); }
    const next = new Float64Array(n), last = new Int32Array(n).fill(-1);
    let maxDepth = 0;
    for (let i = 0; i < n; i++) {
      const r = nodes[i];
      this.name[i] = r[0]; this.image[i] = r[1]; const p = r[2]; this.parent[i] = p;
      this.total[i] = r[3]; this.self[i] = r[4]; this.kind[i] = r[5] || 0;
      if (this.isDiff) { this.baseTotal[i] = r[6] || 0; this.baseSelf[i] = r[7] || 0; }
      if (p >= 0) {
        this.x[i] = next[p]; next[p] += r[3];
        this.depth[i] = this.depth[p] + 1;
        if (last[p] < 0) this.firstChild[p] = i; else this.nextSibling[last[p]] = i;
        last[p] = i;
        if (this.depth[i] > maxDepth) maxDepth = this.depth[i];
      }
      next[i] = this.x[i];
    }
    this.maxDepth = maxDepth;
    this.grandTotal = n ? this.total[0] : 0;
    this.dropped = payload.dropped || null; // frames the server left out (too small to see)
    this.nonCode = payload.non_code || null; // off the CPU: frames that are not code, dropped and counted
    this.baseNotes = payload.base_notes || []; // diff: how the selection applied to the base, in sentences
    // file:line of each node (interned; index 0 is "no debug info")
    this.locations = payload.locations || [""];
    this.nodeLocation = payload.node_locations || null;
    // Off-CPU and runnable modes: the reason holding most of each frame's time colours it.
    this.reason = null;
    if (payload.reasons && Object.keys(payload.reasons).length) {
      this.reason = new Array(n).fill(null);
      this.reasons = payload.reasons;
      for (const [idx, byReason] of Object.entries(payload.reasons)) {
        let best = null, bestNs = -1;
        for (const [reason, ns] of Object.entries(byReason)) if (ns > bestNs) { best = reason; bestNs = ns; }
        this.reason[Number(idx)] = best;
      }
    }
  }

  nameOf(i) { return this.names[this.name[i]]; }
  locationOf(i) { return this.nodeLocation ? this.locations[this.nodeLocation[i]] || "" : ""; }
  imageOf(i) { return this.images[this.image[i]] ?? ""; }

  children(i) {
    const out = [];
    for (let c = this.firstChild[i]; c >= 0; c = this.nextSibling[c]) out.push(c);
    return out;
  }

  /** Node indices from the root down to I. */
  path(i) {
    const out = [];
    for (; i >= 0; i = this.parent[i]) out.push(i);
    return out.reverse();
  }

  /** The frame names below the root leading to I (what the URL keeps as "zoom"). */
  pathNames(i) { return this.path(i).slice(1).map((j) => this.nameOf(j)); }

  /** The node a list of names leads to from the root (the widest child of each name), or the deepest found. */
  findPath(names) {
    let cur = 0;
    for (const want of names) {
      let best = -1;
      for (let c = this.firstChild[cur]; c >= 0; c = this.nextSibling[c])
        if (this.nameOf(c) === want && (best < 0 || this.total[c] > this.total[best])) best = c;
      if (best < 0) break;
      cur = best;
    }
    return cur;
  }

  /** Matches of TEST(name): a mask and the time under them, each stack counted once. */
  search(test) {
    const n = this.n, match = new Uint8Array(n), covered = new Uint8Array(n);
    let total = 0, count = 0;
    for (let i = 0; i < n; i++) {
      const p = this.parent[i];
      if (p >= 0) covered[i] = covered[p] | match[p];
      if (i > 0 && test(this.nameOf(i))) {
        match[i] = 1; count++;
        if (!covered[i]) total += this.total[i];
      }
    }
    return { match, total, count };
  }
}

/** One flame graph (root at the bottom) or icicle (root at the top) drawn on a canvas. */
export class FlameChart {
  constructor(container, { icicle = false, onZoom = null, onSelect = null, describe = null, tooltip = null } = {}) {
    this.icicle = icicle;
    this.onZoom = onZoom; this.onSelect = onSelect; this.describe = describe;
    this.tooltip = tooltip;
    this.wrap = el("div", { class: "flame-wrap" });
    this.canvas = el("canvas", { class: "flame", "data-role": icicle ? "icicle" : "flame", role: "img",
      "aria-label": icicle ? "icicle graph: hover a frame for its figures, click to zoom"
        : "flame graph: hover a frame for its figures, click to zoom" });
    this.hoverBox = el("div", { class: "hover-box", hidden: true }); // outlines the frame under the mouse
    this.wrap.append(this.canvas, this.hoverBox);
    container.append(this.wrap);
    this.tree = null; this.zoom = 0; this.match = null; this.selected = -1;
    this.drawn = { node: [], x: [], w: [], depth: [] };
    this.diffScale = 1;
    this.lastDrawMs = 0;
    this.canvas.addEventListener("mousemove", (e) => this._hover(e));
    this.canvas.addEventListener("mouseleave", () => this._hideTip());
    this.canvas.addEventListener("click", (e) => this._click(e));
  }

  setTree(tree) {
    this.tree = tree; this.zoom = 0; this.match = null; this.selected = -1;
    this.colours = new Array(tree.n); // fills as frames are drawn: a zoom reuses them
    if (tree.isDiff) {
      let m = 0;
      for (let i = 1; i < tree.n; i++) m = Math.max(m, Math.abs(tree.total[i] - tree.baseTotal[i]));
      this.diffScale = Math.max(m, 0.01 * tree.grandTotal) || 1;
    }
  }

  zoomTo(i) { this.zoom = this.tree && i >= 0 && i < this.tree.n ? i : 0; this.draw(); }
  setMatch(mask) { this.match = mask; this.draw(); }

  colour(i) {
    if (this.match && this.match[i]) return SEARCH_COLOUR;
    let c = this.colours[i];
    if (c === undefined) c = this.colours[i] = this._colour(i);
    return c;
  }

  _colour(i) {
    const t = this.tree;
    if (i === 0) return ROOT_COLOUR;
    if (t.isDiff) return diffColour((t.total[i] - t.baseTotal[i]) / this.diffScale);
    if (t.reason && t.reason[i]) return reasonColour(t.reason[i], (t.depth[i] % 3) / 2);
    return kindColour(t.nameOf(i), t.kind[i]);
  }

  draw() {
    const t0 = performance.now();
    this.hoverBox.hidden = true;
    const t = this.tree, c = this.canvas;
    const W = Math.max(200, this.wrap.clientWidth || 800);
    const rows = t ? t.maxDepth + 1 : 1;
    const H = rows * ROW + 2;
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(W * dpr) || c.height !== Math.round(H * dpr)) {
      c.width = Math.round(W * dpr); c.height = Math.round(H * dpr);
      c.style.height = H + "px";
    }
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    this.W = W; this.H = H;
    const d = (this.drawn = { node: [], x: [], w: [], depth: [] });
    if (!t || !t.n || t.grandTotal <= 0) { this.lastDrawMs = performance.now() - t0; return; }
    ctx.font = "12px system-ui, -apple-system, 'DejaVu Sans', sans-serif";
    ctx.textBaseline = "middle";
    const charW = ctx.measureText("abcdefghijklmnopqrstuvwxyz_0123456789").width / 37;
    const z = this.zoom, x0 = t.x[z], span = t.total[z] || 1, scale = W / span;
    const stack = [0];
    while (stack.length) {
      const i = stack.pop();
      let left = (t.x[i] - x0) * scale, right = left + t.total[i] * scale;
      if (right <= 0.001 || left >= W - 0.001) continue;
      if (right - left < MIN_WIDTH) continue;
      left = Math.max(0, left); right = Math.min(W, right);
      const w = right - left, depth = t.depth[i];
      const y = this.icicle ? depth * ROW : H - (depth + 1) * ROW;
      ctx.fillStyle = this.colour(i);
      ctx.fillRect(left, y, w > 2 ? w - 1 : w, ROW - 1);
      if (i === this.selected) { ctx.strokeStyle = "#111"; ctx.lineWidth = 1.5; ctx.strokeRect(left + 0.75, y + 0.75, Math.max(0, w - 2.5), ROW - 2.5); }
      if (w > 3 * charW + 6) {
        const name = t.nameOf(i);
        const fit = Math.floor((w - 6) / charW);
        ctx.fillStyle = textOn(this.colour(i));
        ctx.fillText(name.length > fit ? name.slice(0, Math.max(1, fit - 1)) + "…" : name, left + 3, y + ROW / 2);
      }
      d.node.push(i); d.x.push(left); d.w.push(w); d.depth.push(depth);
      for (let ch = t.firstChild[i]; ch >= 0; ch = t.nextSibling[ch]) stack.push(ch);
    }
    this.lastDrawMs = performance.now() - t0;
  }

  /** The node under a mouse position, or -1. */
  nodeAt(px, py) {
    if (!this.tree) return -1;
    const depth = this.icicle ? Math.floor(py / ROW) : Math.floor((this.H - py) / ROW);
    const d = this.drawn;
    for (let k = 0; k < d.node.length; k++)
      if (d.depth[k] === depth && px >= d.x[k] && px < d.x[k] + d.w[k]) return d.node[k];
    return -1;
  }

  _pos(e) { const r = this.canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }

  _click(e) {
    const i = this.nodeAt(...this._pos(e));
    if (i < 0) return;
    this.selected = i;
    if (this.onSelect) this.onSelect(i);
    if (this.onZoom) this.onZoom(i); else this.draw();
  }

  _hover(e) {
    const [px, py] = this._pos(e);
    const i = this.nodeAt(px, py);
    if (i < 0 || !this.tooltip) return this._hideTip();
    const k = this.drawn.node.indexOf(i), depth = this.tree.depth[i];
    Object.assign(this.hoverBox.style, { left: this.drawn.x[k] + "px", width: Math.max(1, this.drawn.w[k] - 1) + "px",
      top: (this.icicle ? depth * ROW : this.H - (depth + 1) * ROW) + "px", height: ROW - 1 + "px" });
    this.hoverBox.hidden = false;
    this.tooltip.replaceChildren(...this.tipContent(i));
    this.tooltip.hidden = false;
    const tw = this.tooltip.offsetWidth, th = this.tooltip.offsetHeight;
    let x = e.clientX + 14, y = e.clientY + 14;
    if (x + tw > window.innerWidth - 4) x = Math.max(4, e.clientX - tw - 14);
    if (y + th > window.innerHeight - 4) y = Math.max(4, e.clientY - th - 14);
    this.tooltip.style.left = x + "px"; this.tooltip.style.top = y + "px";
  }

  _hideTip() {
    if (this.tooltip) this.tooltip.hidden = true;
    this.hoverBox.hidden = true;
  }

  tipContent(i) {
    const t = this.tree, all = t.grandTotal;
    const line = (k, v) => el("div", {}, el("span", { class: "k" }, k + " "), v);
    const out = [el("b", {}, t.nameOf(i))];
    const extra = this.describe ? this.describe(t.nameOf(i), t.imageOf(i)) : null;
    if (t.imageOf(i)) out.push(line("image", t.imageOf(i)));
    const where = t.locationOf(i) || (extra && extra.file ? `${extra.file}${extra.line ? ":" + extra.line : ""}` : "");
    if (where) out.push(line("source", where));
    out.push(line("total", `${amount(t.total[i], t.unit)} (${pct(t.total[i], all)})`));
    out.push(line("self", `${amount(t.self[i], t.unit)} (${pct(t.self[i], all)})`));
    if (extra && extra.samples !== undefined && t.unit === "ns") out.push(line("samples", String(extra.samples)));
    if (t.isDiff) {
      const dpp = (100 * (t.total[i] - t.baseTotal[i])) / (all || 1);
      out.push(line("base (normalised)", `${amount(t.baseTotal[i], t.unit)} (${pct(t.baseTotal[i], all)})`));
      out.push(line("change", `${dpp >= 0 ? "+" : ""}${dpp.toFixed(2)} pp`));
    }
    if (t.reasons && t.reasons[i]) {
      for (const [reason, ns] of Object.entries(t.reasons[i]).sort((a, b) => b[1] - a[1]))
        out.push(line(reason, `${amount(ns, "ns")} (${pct(ns, t.total[i])})`));
    }
    if (t.kind[i] === KIND.kernel) out.push(line("kind", "kernel"));
    else if (t.kind[i] === KIND.inline) out.push(line("kind", "inlined"));
    else if (t.kind[i] === KIND.jit) out.push(line("kind", "JIT"));
    return out;
  }

  /** What tests and the bench read: every drawn frame with its geometry in CSS pixels. */
  frames() {
    const t = this.tree, d = this.drawn;
    return d.node.map((i, k) => ({
      name: t.nameOf(i), image: t.imageOf(i), depth: d.depth[k], x: d.x[k], width: d.w[k],
      y: this.icicle ? d.depth[k] * ROW : this.H - (d.depth[k] + 1) * ROW, height: ROW - 1,
      total: t.total[i], self: t.self[i], kind: t.kind[i], colour: this.colour(i), matched: !!(this.match && this.match[i]),
      base_total: t.isDiff ? t.baseTotal[i] : undefined,
    }));
  }
}

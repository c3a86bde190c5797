// The timeline: one track per thread, grouped by process; bars for sample density, a strip of off-CPU
// spans coloured by reason. Dragging selects a time range, clicking a track selects its thread.

import { reasonColour } from "./colours.js";
import { ms, el } from "./format.js";

const LABEL = 180, HEAD = 16, TRACK = 24, AXIS = 16;

export class Timeline {
  constructor(canvas, { onRange, onThread, tooltip }) {
    this.canvas = canvas; this.onRange = onRange; this.onThread = onThread; this.tooltip = tooltip;
    this.data = null; this.rows = []; this.range = [null, null]; this.tids = [];
    this.drag = null;
    canvas.addEventListener("mousedown", (e) => this._down(e));
    window.addEventListener("mousemove", (e) => this._move(e));
    window.addEventListener("mouseup", (e) => this._up(e));
    canvas.addEventListener("mouseleave", () => { if (this.tooltip) this.tooltip.hidden = true; });
  }

  /** Buckets to ask for: one per pixel of the plot. */
  buckets() { return Math.max(50, Math.min(2000, Math.floor((this.canvas.parentElement.clientWidth || 900) - LABEL))); }

  setData(data) {
    this.data = data;
    const groups = new Map();
    for (const t of data.tracks) {
      if (!groups.has(t.pid)) groups.set(t.pid, { pid: t.pid, name: t.process, tracks: [] });
      groups.get(t.pid).tracks.push(t);
    }
    this.rows = [];
    let y = AXIS;
    for (const g of groups.values()) {
      this.rows.push({ kind: "process", y, h: HEAD, group: g });
      y += HEAD;
      for (const t of g.tracks) { this.rows.push({ kind: "thread", y, h: TRACK, track: t }); y += TRACK; }
    }
    this.height = y + 2;
    this.maxDensity = 1;
    for (const t of data.tracks) for (const v of t.density) if (v > this.maxDensity) this.maxDensity = v;
    this.draw();
  }

  setSelection(range, tids) {
    const same = this.range[0] === range[0] && this.range[1] === range[1] && this.tids.join() === tids.join();
    this.range = range; this.tids = [...tids];
    if (!same) this.draw();
  }

  _geom() {
    const W = Math.max(400, this.canvas.parentElement.clientWidth || 900);
    const d = this.data;
    const t0 = d.start_ns, t1 = Math.max(d.end_ns, d.start_ns + 1);
    return { W, plot: W - LABEL, t0, t1, toX: (ns) => LABEL + ((ns - t0) / (t1 - t0)) * (W - LABEL),
      toNs: (x) => t0 + ((Math.min(Math.max(x, LABEL), W) - LABEL) / (W - LABEL)) * (t1 - t0) };
  }

  draw() {
    if (!this.data) return;
    const c = this.canvas, g = this._geom(), H = this.height, dpr = window.devicePixelRatio || 1;
    c.width = Math.round(g.W * dpr); c.height = Math.round(H * dpr); c.style.height = H + "px";
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, g.W, H);
    ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "middle";
    // time axis
    ctx.fillStyle = "#636c76";
    const dur = g.t1 - g.t0, step = niceStep(dur / 8);
    for (let t = 0; t <= dur; t += step) {
      const x = g.toX(g.t0 + t);
      ctx.fillRect(x, AXIS - 4, 1, 4);
      ctx.fillText(ms(t), x + 2, AXIS / 2);
    }
    const sel = (tid) => this.tids.length === 0 || this.tids.includes(tid);
    for (const r of this.rows) {
      if (r.kind === "process") {
        ctx.fillStyle = "#eef1f4"; ctx.fillRect(0, r.y, g.W, r.h);
        ctx.fillStyle = "#1f2328"; ctx.font = "600 11px system-ui, sans-serif";
        ctx.fillText(`${r.group.name || "?"} (pid ${r.group.pid})`, 4, r.y + r.h / 2);
        ctx.font = "11px system-ui, sans-serif";
        continue;
      }
      const t = r.track, on = sel(t.tid);
      if (this.tids.includes(t.tid)) { ctx.fillStyle = "#e7f0fd"; ctx.fillRect(0, r.y, g.W, r.h); }
      ctx.fillStyle = on ? "#1f2328" : "#9aa3ad";
      ctx.fillText(`${t.name || "?"} ${t.tid}`, 12, r.y + r.h / 2, LABEL - 16);
      // density: bars in the top part, one per bucket
      const bw = g.plot / t.density.length, top = r.h - 8;
      ctx.fillStyle = on ? "rgb(240,130,40)" : "rgb(240,200,170)";
      for (let k = 0; k < t.density.length; k++) {
        const v = t.density[k];
        if (!v) continue;
        const h = Math.max(1, Math.sqrt(v / this.maxDensity) * (top - 2));
        ctx.fillRect(LABEL + k * bw, r.y + top - h, Math.max(1, bw), h);
      }
      // off-CPU spans: a strip under the bars
      for (const [s, e, reason] of t.spans) {
        const x = g.toX(s), w = Math.max(1, g.toX(e) - x);
        ctx.fillStyle = reasonColour(reason);
        ctx.fillRect(x, r.y + r.h - 7, w, 5);
      }
      ctx.fillStyle = "#eef0f2"; ctx.fillRect(0, r.y + r.h - 1, g.W, 1);
    }
    // the selected range (or the one being dragged): dim what is outside
    // range: ns from the recording's start, like the URL and the API
    const [a, b] = this.drag && this.drag.moved
      ? [Math.min(this.drag.a, this.drag.b), Math.max(this.drag.a, this.drag.b)].map((x) => g.toNs(x) - g.t0)
      : this.range;
    if (a !== null || b !== null) {
      const xa = g.toX(g.t0 + (a ?? 0)), xb = g.toX(b ?? g.t1);
      ctx.fillStyle = "rgba(20,30,50,0.12)";
      ctx.fillRect(LABEL, AXIS, xa - LABEL, H - AXIS); ctx.fillRect(xb, AXIS, g.W - xb, H - AXIS);
      ctx.fillStyle = "#0b62d6"; ctx.fillRect(xa, AXIS, 1, H - AXIS); ctx.fillRect(xb, AXIS, 1, H - AXIS);
    }
  }

  _local(e) { const r = this.canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }
  _rowAt(y) { return this.rows.find((r) => y >= r.y && y < r.y + r.h) || null; }

  _down(e) {
    if (!this.data || e.button !== 0) return;
    const [x, y] = this._local(e);
    e.preventDefault();
    this.drag = { a: x, b: x, y, shift: e.shiftKey || e.ctrlKey || e.metaKey, moved: false };
  }

  _move(e) {
    if (!this.data) return;
    const [x, y] = this._local(e);
    if (this.drag) {
      this.drag.b = x;
      if (Math.abs(this.drag.b - this.drag.a) > 3) { this.drag.moved = true; this.draw(); }
      return;
    }
    if (!this.tooltip || e.target !== this.canvas) return;
    const r = this._rowAt(y);
    if (!r || r.kind !== "thread") { this.tooltip.hidden = true; return; }
    const g = this._geom(), t = r.track;
    const lines = [el("b", {}, `${t.name} (tid ${t.tid})`), el("div", {}, `${t.process} pid ${t.pid}`)];
    if (x >= LABEL) {
      const ns = g.toNs(x), k = Math.min(t.density.length - 1, Math.floor(((x - LABEL) / g.plot) * t.density.length));
      lines.push(el("div", {}, `at ${ms(ns - g.t0)}: ${t.density[k] || 0} samples in ${ms(this.data.bucket_ns)}`));
      const span = t.spans.find(([s, en]) => ns >= s && ns <= en);
      if (span) lines.push(el("div", {}, `off-CPU: ${span[2]} for ${ms(span[1] - span[0])}`));
    }
    lines.push(el("div", { class: "k" }, "click: this thread (shift: add) · drag: time range"));
    this.tooltip.replaceChildren(...lines);
    this.tooltip.hidden = false;
    this.tooltip.style.left = Math.min(e.clientX + 14, window.innerWidth - 320) + "px";
    this.tooltip.style.top = e.clientY + 14 + "px";
  }

  _up() {
    const d = this.drag;
    if (!d) return;
    this.drag = null;
    if (d.moved && Math.max(d.a, d.b) > LABEL) {
      const g = this._geom(), SNAP = 4; // px: a drag from (or to) an edge means the recording's start (end)
      const lo = Math.min(d.a, d.b), hi = Math.max(d.a, d.b);
      const a = lo <= LABEL + SNAP ? g.t0 : g.toNs(lo), b = hi >= g.W - SNAP ? g.t1 : g.toNs(hi);
      this.onRange(a - g.t0, b - g.t0);
      return;
    }
    const r = this._rowAt(d.y);
    if (r && r.kind === "thread") this.onThread([r.track.tid], d.shift);
    else if (r && r.kind === "process") this.onThread(r.group.tracks.map((t) => t.tid), d.shift);
    this.draw();
  }
}

function niceStep(x) {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(x, 1))));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

// A minimal DOM for running flamegraph.js under node: just the calls the script makes.
// Input (stdin): {script, root: {attrs}, ids: {id: {attrs, text}}, frames: [{g, rect, text, title}],
// actions: [["click", index] | ["search", term] | ["unzoom"] | ["clear"]]}.
// Output (stdout): the state of every frame and control after the actions, as JSON.
"use strict";
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));

class El {
  constructor(tag, attrs, text) {
    this.tag = tag; this.attrs = Object.assign({}, attrs || {}); this.textContent = text || "";
    this.children = []; this.parentNode = null; this.listeners = {};
    const cls = new Set((this.attrs.class || "").split(/\s+/).filter(Boolean));
    this.classList = {
      add: (...c) => c.forEach((x) => cls.add(x)), remove: (...c) => c.forEach((x) => cls.delete(x)),
      contains: (c) => cls.has(c), toString: () => [...cls].join(" "),
    };
  }
  append(child) { child.parentNode = this; this.children.push(child); return child; }
  getAttribute(name) { return name in this.attrs ? String(this.attrs[name]) : null; }
  setAttribute(name, value) { this.attrs[name] = String(value); }
  getElementsByTagName(tag) {
    const out = [];
    const walk = (el) => el.children.forEach((c) => { if (c.tag === tag) out.push(c); walk(c); });
    walk(this);
    return out;
  }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  dispatch(type, target) {
    for (let el = target; el; el = el.parentNode) (el.listeners[type] || []).forEach((fn) => fn({ target }));
  }
}

const byId = {};
for (const [id, spec] of Object.entries(input.ids)) byId[id] = new El("text", spec.attrs, spec.text);
const framesEl = byId.frames = new El("g", { id: "frames" });
const groups = input.frames.map((f) => {
  const g = framesEl.append(new El("g", f.g));
  g.append(new El("title", {}, f.title));
  g.append(new El("rect", f.rect));
  g.append(new El("text", f.text.attrs, f.text.text));
  return g;
});
const root = new El("svg", input.root);
const docListeners = {};
global.document = {
  documentElement: root,
  getElementById: (id) => byId[id] || null,
  addEventListener: (type, fn) => { docListeners[type] = fn; },
};
let promptAnswer = "";
const winListeners = {};
global.window = {
  addEventListener: (type, fn) => { winListeners[type] = fn; },
  prompt: () => promptAnswer,
};
new Function(input.script)();
winListeners.load();

for (const [action, arg] of input.actions) {
  if (action === "click") framesEl.dispatch("click", groups[arg].children[1]);
  else if (action === "search") { promptAnswer = arg; byId.search.dispatch("click", byId.search); }
  else if (action === "unzoom") byId.unzoom.dispatch("click", byId.unzoom);
  else if (action === "clear") byId.search.dispatch("click", byId.search);
}
process.stdout.write(JSON.stringify({
  frames: groups.map((g) => {
    const rect = g.children[1], text = g.children[2];
    return { x: +rect.attrs.x, width: +rect.attrs.width, fill: rect.attrs.fill, text: text.textContent,
             cls: g.classList.toString() };
  }),
  matched: byId.matched.textContent, search: byId.search.textContent,
  unzoomHidden: byId.unzoom.classList.contains("hide"),
}));

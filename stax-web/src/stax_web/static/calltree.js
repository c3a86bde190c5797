// The call tree (top-down, or bottom-up when the payload is inverted): rows for expanded nodes only,
// so the DOM grows with what is open, not with the profile.

import { pct, el } from "./format.js";

const MAX_CHILDREN = 300; // per node; the rest is summarised in one row

export class CallTree {
  /** ROOT: the node shown at the top (the flame zoom); ACTIONS(i) -> buttons for a row. */
  constructor(container, tree, { root = 0, actions = null, onSelect = null, match = null } = {}) {
    this.tree = tree; this.root = root; this.actions = actions; this.onSelect = onSelect; this.match = match;
    this.open = new Set();
    this.selected = -1;
    this.el = el("div", { class: "tree", role: "tree" });
    container.append(this.el);
    // Open the hot path: follow the widest child while it holds most of its parent.
    let i = root;
    this.open.add(i);
    for (let guard = 0; guard < 64; guard++) {
      const kids = tree.children(i).sort((a, b) => tree.total[b] - tree.total[a]);
      if (!kids.length || tree.total[kids[0]] < 0.5 * tree.total[i]) break;
      i = kids[0]; this.open.add(i);
    }
    this.render();
  }

  toggle(i) { if (this.open.has(i)) this.open.delete(i); else this.open.add(i); this.render(); }

  render() {
    const t = this.tree, all = t.grandTotal;
    const rows = [el("div", { class: "row head" }, el("span", { class: "num" }, "total"),
      el("span", { class: "num" }, "self"), el("span", {}, "function"), el("span", {}, ""))];
    const visit = (i, depth) => {
      const kids = t.children(i).sort((a, b) => t.total[b] - t.total[a]);
      const open = this.open.has(i);
      const tog = el("span", { class: "tog", onclick: (e) => { e.stopPropagation(); this.toggle(i); } },
        kids.length ? (open ? "▾" : "▸") : "");
      const nameCls = this.match && this.match[i] ? "hitmatch" : "";
      const row = el("div", {
        class: "row" + (i === this.selected ? " sel" : ""), role: "treeitem", "data-node": i,
        "data-name": t.nameOf(i), "aria-expanded": kids.length ? String(open) : null,
        onclick: () => { this.selected = i; if (this.onSelect) this.onSelect(i); this.render(); },
        ondblclick: () => this.toggle(i),
      },
        el("span", { class: "num" }, pct(t.total[i], all)),
        el("span", { class: "num" }, pct(t.self[i], all)),
        el("span", { style: `padding-left:${depth * 14}px` }, tog, el("span", { class: nameCls }, t.nameOf(i)),
          t.imageOf(i) ? el("span", { class: "img" }, "  " + t.imageOf(i)) : null),
        el("span", {}, this.actions && i === this.selected ? this.actions(i) : null));
      rows.push(row);
      if (!open) return;
      kids.slice(0, MAX_CHILDREN).forEach((k) => visit(k, depth + 1));
      if (kids.length > MAX_CHILDREN)
        rows.push(el("div", { class: "row muted" }, "", "", el("span", { style: `padding-left:${(depth + 1) * 14}px` },
          `… ${kids.length - MAX_CHILDREN} smaller callees`), ""));
    };
    visit(this.root, 0);
    this.el.replaceChildren(...rows);
  }
}

// The source / annotate pane: the JSON of `stax annotate --json` for one function — its hottest
// source lines, then its instructions with the samples that landed on each.

import { el } from "./format.js";
import { functionActions, selectedFunctionData } from "./actions.js";

const MAX_INSTRUCTIONS = 4000;

export async function renderSource(app) {
  const s = app.state;
  const data = await selectedFunctionData(app, "annotate", "Source");
  if (!data) return;
  const parts = [];
  for (const n of data.notes || []) parts.push(el("p", { class: "hint" }, n));
  for (const f of data.functions || []) parts.push(functionPane(app, f));
  if (!(data.functions || []).length) parts.push(el("p", { class: "hint" }, `No samples in ${s.fn} in this selection.`));
  app.view.replaceChildren(...parts);
  app.current = { kind: "source" };
  app.breadcrumb(null);
}

function functionPane(app, f) {
  const box = el("div", { class: "src" });
  box.append(el("div", { class: "selbar" }, el("span", { class: "fn" }, f.name),
    el("span", { class: "muted" }, `${f.image} · ${f.percent.toFixed(2)}% · ${f.count} ${f.mode === "cpu" ? "samples" : "spans"}`
      + (f.code_origin ? ` · code from the ${f.code_origin}` : "")),
    ...functionActions(app, f.name, f.image, { sandwich: true }).filter((b) => b.textContent !== "source")));
  if (f.note) box.append(el("p", { class: "hint" }, f.note));
  if ((f.hottest_lines || []).length) {
    box.append(el("div", { class: "pane-title" }, "hottest source lines"),
      el("table", { class: "grid" }, el("tbody", {}, f.hottest_lines.map((l) => el("tr", {},
        el("td", {}, `${l.percent.toFixed(2)}%`), el("td", {}, String(l.count)),
        el("td", { class: "left muted mono" }, `${(l.file || "??").split("/").pop()}:${l.line ?? "?"}`),
        el("td", { class: "code" }, l.text ?? ""))))));
  }
  const ins = (f.instructions || []).slice(0, MAX_INSTRUCTIONS);
  if (ins.length) {
    let lastLine = null;
    const rows = [];
    for (const i of ins) {
      const src = i.source ? `${(i.source.file || "??").split("/").pop()}:${i.source.line ?? "?"}` : "";
      if (i.source && src !== lastLine && i.source.text)
        rows.push(el("tr", {}, el("td", {}), el("td", {}), el("td", { class: "left muted mono" }, src),
          el("td", { class: "code muted" }, i.source.text)));
      lastLine = src;
      rows.push(el("tr", { class: i.hot ? "hot" : "" },
        el("td", {}, i.count ? `${i.percent.toFixed(2)}%` : ""),
        el("td", { class: "mono muted" }, i.address !== null ? i.address.toString(16) : (i.offset !== null ? "+" + i.offset.toString(16) : "")),
        el("td", { class: "left muted mono" }, ""),
        el("td", { class: "code" }, `${i.mnemonic} ${i.operands}${i.target_label ? "  <" + i.target_label + ">" : ""}`)));
    }
    box.append(el("div", { class: "pane-title" }, `instructions${f.instructions.length > ins.length ? ` (first ${ins.length})` : ""}`),
      el("table", { class: "grid" }, el("tbody", {}, rows)));
  }
  return box;
}


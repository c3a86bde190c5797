// The buttons offered for a selected function, the same in every view: sandwich, source, and the
// call-tree transforms (focus, merge, collapse its library).

import { getJSON } from "./api.js";
import { commonParams } from "./state.js";
import { el } from "./format.js";

/** The /api answer about the selected function for a one-function view (sandwich, source), or null:
 * no function selected (a hint is shown instead) or a newer render started meanwhile. */
export async function selectedFunctionData(app, endpoint, viewLabel) {
  const s = app.state, stale = app.staleness();
  if (!s.fn) {
    app.view.replaceChildren(el("p", { class: "hint" },
      `Pick a function: click a frame in the flame graph or a row of Top, then ${viewLabel}.`));
    app.current = null;
    app.breadcrumb(null);
    return null;
  }
  const data = await getJSON(endpoint, [...commonParams(s), ["function", s.fn]]);
  return stale() ? null : data;
}

export function functionActions(app, fn, image, { sandwich = true } = {}) {
  const s = app.state;
  const add = (key, value) => (s[key].includes(value) ? s[key] : [...s[key], value]);
  const out = [];
  if (sandwich) out.push(el("button", { title: "callers above, callees below",
    onclick: (e) => { e.stopPropagation(); app.setState({ view: "sandwich", fn }); } }, "sandwich"));
  out.push(
    el("button", { title: "source lines and instructions with their samples",
      onclick: (e) => { e.stopPropagation(); app.setState({ view: "source", fn }); } }, "source"),
    el("button", { title: "keep only stacks through this function, rooted at it",
      onclick: (e) => { e.stopPropagation(); app.setState({ focus: add("focus", fn), zoom: [] }); } }, "focus function"),
    el("button", { title: "remove this function; its time goes to its caller",
      onclick: (e) => { e.stopPropagation(); app.setState({ merge: add("merge", fn), zoom: [] }); } }, "merge"));
  if (image) out.push(el("button", { title: `show consecutive frames of ${image} as one frame`,
    onclick: (e) => { e.stopPropagation(); app.setState({ collapse: add("collapse", image), zoom: [] }); } },
  `collapse ${image.split("/").pop()}`));
  return out;
}

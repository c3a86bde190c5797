// The whole selection lives in the URL hash, so a reload or a shared link shows the same view.
// The query string (?token=...) is left to the server; only the hash is ours.

export const VIEWS = ["flame", "icicle", "tree", "top", "sandwich", "threads", "wakers", "diff", "source"];
const LISTS = ["focus", "merge", "collapse"];

export function defaultState() {
  return {
    view: "flame", mode: "cpu", tids: [], start: null, end: null, kernel: true, invert: false,
    focus: [], merge: [], collapse: [], zoom: [], fn: "", search: "", sort: "self", filter: "",
  };
}

/** The state a hash describes (unknown keys and bad values fall back to the defaults). */
export function parseHash(hash) {
  const s = defaultState();
  const p = new URLSearchParams(hash.replace(/^#/, ""));
  if (VIEWS.includes(p.get("view"))) s.view = p.get("view");
  if (["cpu", "offcpu", "runnable"].includes(p.get("mode"))) s.mode = p.get("mode");
  if (p.get("tids")) s.tids = p.get("tids").split(",").map(Number).filter(Number.isFinite);
  for (const k of ["start", "end"]) {
    const v = p.get(k);
    if (v !== null && v !== "" && Number.isFinite(Number(v))) s[k] = Number(v);
  }
  s.kernel = p.get("kernel") !== "0";
  s.invert = p.get("invert") === "1";
  for (const k of LISTS) s[k] = p.getAll(k).filter(Boolean);
  if (p.get("zoom")) s.zoom = p.get("zoom").split(";");
  for (const k of ["fn", "search", "filter"]) s[k] = p.get(k) || "";
  if (["self", "total", "samples"].includes(p.get("sort"))) s.sort = p.get("sort");
  return s;
}

/** The hash of a state: only what differs from the defaults, so links stay short. */
export function toHash(s) {
  const d = defaultState();
  const p = new URLSearchParams();
  if (s.view !== d.view) p.set("view", s.view);
  if (s.mode !== d.mode) p.set("mode", s.mode);
  if (s.tids.length) p.set("tids", s.tids.join(","));
  if (s.start !== null) p.set("start", String(Math.round(s.start)));
  if (s.end !== null) p.set("end", String(Math.round(s.end)));
  if (!s.kernel) p.set("kernel", "0");
  if (s.invert) p.set("invert", "1");
  for (const k of LISTS) for (const v of s[k]) p.append(k, v);
  if (s.zoom.length) p.set("zoom", s.zoom.join(";"));
  for (const k of ["fn", "search", "filter"]) if (s[k]) p.set(k, s[k]);
  if (s.sort !== d.sort) p.set("sort", s.sort);
  const text = p.toString();
  return text ? "#" + text : "";
}

/** The query parameters every /api view honours (see WEB_API.md, "Common query parameters"). */
export function commonParams(s, { mode = s.mode, invert = false } = {}) {
  const p = [["mode", mode]];
  if (s.tids.length) p.push(["tids", s.tids.join(",")]);
  if (s.start !== null) p.push(["start", String(Math.round(s.start))]);
  if (s.end !== null) p.push(["end", String(Math.round(s.end))]);
  if (!s.kernel) p.push(["kernel", "0"]);
  if (invert) p.push(["invert", "1"]);
  for (const k of LISTS) for (const v of s[k]) p.push([k, v]);
  return p;
}

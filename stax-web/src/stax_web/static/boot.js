// Loaded async before the rest: asks for the first view's data and /api/meta as soon as its two
// small imports are in, so the server works while the browser is still fetching the other modules.
// api.js caches by URL, so the views later receive these same answers.

import { parseHash, commonParams } from "./state.js";
import { getJSON } from "./api.js";

const s = parseHash(location.hash);
if (["flame", "icicle", "tree", "diff"].includes(s.view))
  getJSON(s.view === "diff" ? "diff" : "flame", commonParams(s, { invert: s.invert })).catch(() => {});
getJSON("meta").catch(() => {});

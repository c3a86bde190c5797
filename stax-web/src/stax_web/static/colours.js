// Frame colours, the same families as the static SVG (stax_render/palette.py): user code warm,
// kernel blue, JIT/inlined green; off-CPU frames by blocked reason; diff frames red (grew) / blue (shrank).

export const KIND = { user: 0, kernel: 1, jit: 2, inline: 3 };

export const REASON_COLOURS = {
  "sleep": [80, 140, 220], "lock": [220, 70, 60], "disk-io": [210, 140, 40], "network": [140, 90, 200],
  "pipe-ipc": [60, 170, 100], "poll": [40, 170, 180], "page-fault": [180, 170, 40],
  "preempted": [150, 150, 150], "other": [175, 140, 120],
};
const UNKNOWN_REASON = [190, 190, 190];
export const SEARCH_COLOUR = "rgb(230,0,230)";
export const ROOT_COLOUR = "rgb(200,200,200)";

export const KIND_LEGEND = [["user", "rgb(240,130,40)"], ["kernel", "rgb(90,150,230)"],
  ["JIT", "rgb(60,180,170)"], ["inlined", "rgb(70,190,120)"]];

/** A stable 32-bit hash of a name (FNV-1a), so a function keeps its shade between views. */
export function hashName(name) {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) { h ^= name.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}

export function kindColour(name, kind) {
  const h = hashName(name);
  const a = (h & 0xff) / 255, b = ((h >> 8) & 0xff) / 255, c = ((h >> 16) & 0xff) / 255;
  let r, g, bl;
  if (kind === KIND.inline) { r = 40 + 60 * a; g = 170 + 50 * b; bl = 90 + 60 * c; }
  else if (kind === KIND.jit) { r = 40 + 40 * a; g = 160 + 50 * b; bl = 150 + 50 * c; }
  else if (kind === KIND.kernel) { r = 60 + 60 * a; g = 120 + 60 * b; bl = 200 + 55 * c; }
  else if (name.startsWith("[") || name.includes("+0x")) { const v = 150 + 50 * a; r = g = bl = v; }
  else { r = 210 + 45 * a; g = 60 + 170 * b; bl = 30 + 40 * c; }
  return `rgb(${r | 0},${g | 0},${bl | 0})`;
}

export function reasonColour(reason, shade = 0) {
  const [r, g, b] = REASON_COLOURS[reason] || UNKNOWN_REASON;
  const k = 1 - 0.15 * shade;
  return `rgb(${(r * k) | 0},${(g * k) | 0},${(b * k) | 0})`;
}

/** Diff colour: t in [-1, 1], positive grew (red), negative shrank (blue), 0 a neutral grey. */
export function diffColour(t) {
  const m = Math.min(1, Math.abs(t)), to = t >= 0 ? [220, 40, 40] : [40, 90, 220], from = 222;
  const mix = (x) => (from + (x - from) * m) | 0;
  return `rgb(${mix(to[0])},${mix(to[1])},${mix(to[2])})`;
}

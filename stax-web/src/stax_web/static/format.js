// Number and text formatting shared by every view.

export function pct(part, whole) {
  if (!whole) return "0%";
  const v = (100 * part) / whole;
  return (v >= 10 || v === 0 ? v.toFixed(1) : v.toFixed(2)) + "%";
}

export function ms(ns) {
  const v = ns / 1e6;
  if (v >= 1000) return (v / 1000).toFixed(2) + " s";
  return (v >= 10 ? v.toFixed(1) : v.toFixed(2)) + " ms";
}

/** A value in the payload's unit: samples are counted, nanoseconds shown as time. */
export function amount(v, unit) {
  return unit === "ns" ? ms(v) : `${Math.round(v).toLocaleString("en")} samples`;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

export function escapeRegExp(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

/** "1 frame", "3 frames": a count with its noun. */
export function plural(n, noun) {
  return `${Number(n).toLocaleString("en")} ${noun}${n === 1 ? "" : "s"}`;
}

// Fetching the server's aggregated views; the token cookie rides along (same origin).

export class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

const cache = new Map();
const CACHE_LIMIT = 64;

/** GET /api/PATH with PARAMS ([key, value] pairs); answers are cached by URL (the recording does not change). */
export async function getJSON(path, params = []) {
  const q = new URLSearchParams(params).toString();
  const url = `/api/${path}${q ? "?" + q : ""}`;
  if (cache.has(url)) return cache.get(url);
  const pending = (async () => {
    const r = await fetch(url, { credentials: "same-origin" });
    let body;
    try { body = await r.json(); } catch { body = null; }
    if (!r.ok) throw new ApiError((body && body.error) || `the server answered ${r.status} for ${path}`, r.status);
    return body;
  })();
  cache.set(url, pending);
  pending.catch(() => cache.delete(url));
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value);
  return pending;
}

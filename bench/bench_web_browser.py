"""The web UI on a 1M-sample recording in headless chromium: first flame-graph paint, zoom, server memory.

The recording is bench_web.py's (synthetic, through the real RecordingBuilder): 1,000,000
samples over 20,000 distinct stacks 8-24 frames deep in 8 interleaved threads, so the
figures are the server's aggregation plus the browser's layout and canvas drawing, without a
capture. Figures, each the median of ``--repeat`` page loads in Debian's chromium (playwright):
1. first paint: from navigation start to the flame graph drawn (``window.__stax.timings()``);
   the issue's goal is <= 1 s; its parts: scripts loaded, the /api/flame answer, building the
   tree, drawing it;
2. zoom: a click on a frame to the redraw finished (goal <= 50 ms), over several frames;
3. the server's peak resident memory (VmHWM of `stax serve`).
Beside them, bench_web.py's `perf report --stdio` on a perf.data of about as many samples
(``--no-perf`` skips it: recording 1M samples with perf takes ~20 s).

Not a test: it never fails because the machine was slow. Run as root from the repo root:
    .venv/bin/python bench/bench_web_browser.py [--repeat 5] [--samples 1000000] [--no-perf]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.web.server
sys.path.insert(0, str(REPO / "bench"))  # for bench_web

from bench_web import big_recording, memory, perf_report  # noqa: E402

from tests.web.server import serve  # noqa: E402

CHROMIUM = "/usr/bin/chromium"


def browser_figures(url: str, repeat: int) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    paints, starts, metas, fetches, builds, draws, zooms, errors = [], [], [], [], [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"],
                                    headless=True)
        for _ in range(repeat):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(url)
            page.wait_for_function("() => window.__stax && window.__stax.idle()", timeout=120_000)
            t = page.evaluate("() => window.__stax.timings()")
            flame = page.evaluate("""() => performance.getEntriesByType('resource')
                .filter(r => r.name.includes('/api/flame')).map(r => r.responseEnd - r.startTime)[0]""")
            paints.append(t["firstPaintMs"])
            starts.append(t["scriptStartMs"])
            metas.append(t["metaMs"])
            builds.append(t["buildMs"])
            draws.append(t["drawMs"])
            fetches.append(flame)
            nodes = t["nodes"]
            # zoom into the widest frames of depth 2..4, then back to the root, timing each click
            box = page.locator("canvas.flame").bounding_box()
            for depth in (2, 3, 4, 0):
                frames = [f for f in page.evaluate("() => window.__stax.frames()") if f["depth"] == depth]
                if not frames:
                    continue
                f = max(frames, key=lambda f: f["width"])
                x, y = box["x"] + f["x"] + min(f["width"] / 2, 40), box["y"] + f["y"] + f["height"] / 2
                page.mouse.click(x, y)
                page.wait_for_function("() => window.__stax.idle()")
                zooms.append(page.evaluate("() => window.__stax.timings().lastZoomMs"))
            page.close()
        browser.close()
    med = statistics.median
    return {"first_paint_ms": med(paints), "first_paint_all_ms": paints, "scripts_ready_ms": med(starts),
            "meta_ms": med(metas),
            "flame_fetch_ms": med(fetches),
            "tree_build_ms": med(builds), "draw_ms": med(draws), "zoom_ms": med(zooms),
            "zoom_max_ms": max(zooms), "nodes": nodes, "console_errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--no-perf", action="store_true", help="skip the perf report figure")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        raise SystemExit("bench: /usr/bin/chromium is missing (bash scripts/bootstrap.sh installs it)")
    tmp = Path(tempfile.mkdtemp(prefix="stax-bench-web-"))
    try:
        start = time.perf_counter()
        rec = big_recording(tmp / "big.stax", args.samples)
        print(f"recording: {args.samples:,} samples, {rec.stat().st_size / 2**20:.1f} MiB"
              f" (written in {time.perf_counter() - start:.1f} s)")
        with serve(str(rec), timeout=300) as server:
            r = browser_figures(server.url, args.repeat)
            r["server_peak_rss_mib"] = memory(server.proc.pid)["VmHWM"] / 2**20
        r.update(samples=args.samples, uptime=os.getloadavg())
        print(f"first flame-graph paint  {r['first_paint_ms']:.0f} ms, median of {args.repeat} (goal <= 1 s);"
              f" scripts loaded at {r['scripts_ready_ms']:.0f} ms, /api/meta at {r['meta_ms']:.0f} ms,"
              f" /api/flame {r['flame_fetch_ms']:.0f} ms, tree build {r['tree_build_ms']:.0f} ms,"
              f" draw {r['draw_ms']:.0f} ms, {r['nodes']:,} nodes")
        print(f"zoom (click to redrawn)  {r['zoom_ms']:.1f} ms median, {r['zoom_max_ms']:.1f} ms worst"
              " (goal <= 50 ms)")
        print(f"server peak RSS          {r['server_peak_rss_mib']:.0f} MiB", flush=True)
        perf = r["perf"] = None if args.no_perf else perf_report(tmp, args.samples)
        if perf and "skipped" in perf:
            print(f"perf report --stdio      skipped: {perf['skipped']}")
        elif perf:
            print(f"perf report --stdio      {perf['report_s']:.2f} s on {perf['samples']:,} samples"
                  f" ({perf['report_no_callchain_s']:.2f} s with -g none)")
        if r["console_errors"]:
            print(f"console errors: {r['console_errors']}")
        print(f"load average {r['uptime'][0]:.2f} {r['uptime'][1]:.2f} {r['uptime'][2]:.2f}")
        out = REPO / "bench" / "out"
        out.mkdir(exist_ok=True)
        (out / "bench_web_browser.json").write_text(json.dumps(r, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

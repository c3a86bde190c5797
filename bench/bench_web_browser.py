"""The web UI on a 1M-sample recording in headless chromium: first flame-graph paint, zoom, server memory.

The recording is synthetic (the tests' recording helper through the real RecordingBuilder):
1,000,000 samples over 5,000 distinct stacks 8-16 frames deep in 4 threads, so the figures are
the server's aggregation plus the browser's layout and canvas drawing, without a capture.
Figures, each the median of ``--repeat`` page loads in Debian's chromium (playwright, headless):
1. first paint: from navigation start to the flame graph drawn (``window.__stax.timings()``);
   the issue's goal is <= 1 s; the parts: the /api/flame answer, building the tree, drawing it;
2. zoom: a click on a frame to the redraw finished (goal <= 50 ms), over several frames;
3. the server's peak resident memory (VmHWM of `stax serve`).
Beside them, ``perf report --stdio`` on a perf.data of hotspots at 4999 Hz for 5 s, timed and scaled to
1M samples by its samples/s (recording 1M real samples would take minutes of CPU per run).

Not a test: it never fails because the machine was slow. Run as root from the repo root:
    .venv/bin/python bench/bench_web_browser.py [--repeat 5] [--samples 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.render.synthetic_recording
sys.path.insert(0, str(REPO / "bench"))  # for bench_foundation.perf_samples

from bench_foundation import perf_samples  # noqa: E402

from tests.render.synthetic_recording import write_recording  # noqa: E402

STAX = str(Path(sys.executable).parent / "stax")
CHROMIUM = "/usr/bin/chromium"
STACKS = 5_000


def big_recording(path: Path, samples: int) -> Path:
    """SAMPLES samples over 5,000 distinct stacks 8-16 frames deep, in 4 threads (as bench_render.py)."""
    stacks = []
    for i in range(STACKS):
        depth = 8 + i % 9
        frames = ["main", f"phase{i % 4}"] + [f"mod{(i >> k) % 40}_fn{k}" for k in range(depth - 3)]
        frames.append(f"leaf{i % 700}")
        stacks.append((";".join(frames), samples // STACKS, 101 + i % 4))
    threads = {100: "bench", 101: "w1", 102: "w2", 103: "w3", 104: "w4"}
    return write_recording(path, stacks, threads=threads)


def start_server(rec: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([STAX, "serve", "--no-open", str(rec)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    line = proc.stdout.readline().strip() if ready else ""
    if not line.startswith("http://"):
        proc.kill()
        raise SystemExit(f"bench: stax serve printed {line!r}")
    return proc, line


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


def perf_report_rate(tmp: Path) -> dict[str, float] | None:
    """perf report --stdio samples/s on hotspots recorded at 4999 Hz, or None without perf."""
    if not shutil.which("perf") or not shutil.which("gcc"):
        return None
    exe = tmp / "hotspots"
    source = REPO / "examples" / "hotspots.c"
    subprocess.run(["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-o", str(exe), str(source)], check=True)
    data = tmp / "perf.data"
    subprocess.run(["perf", "record", "-q", "-F", "4999", "-g", "-o", str(data), "--", str(exe), "5"],
                   check=True, capture_output=True)
    samples = perf_samples(data)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children"],
                       capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
    return {"samples": samples, "seconds": best, "samples_per_s": samples / best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--samples", type=int, default=1_000_000)
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        raise SystemExit("bench: /usr/bin/chromium is missing (bash scripts/bootstrap.sh installs it)")
    tmp = Path(tempfile.mkdtemp(prefix="stax-bench-web-"))
    try:
        start = time.perf_counter()
        rec = big_recording(tmp / "big.stax", args.samples)
        print(f"recording: {args.samples:,} samples, {STACKS:,} stacks, {rec.stat().st_size / 2**20:.1f} MiB"
              f" (written in {time.perf_counter() - start:.1f} s)")
        proc, url = start_server(rec)
        try:
            r = browser_figures(url, args.repeat)
            r["server_peak_rss_mib"] = peak_rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        perf = perf_report_rate(tmp)
        r.update(samples=args.samples, perf=perf, uptime=os.getloadavg())
        print(f"first flame-graph paint  {r['first_paint_ms']:.0f} ms, median of {args.repeat} (goal <= 1 s);"
              f" scripts loaded at {r['scripts_ready_ms']:.0f} ms, /api/meta at {r['meta_ms']:.0f} ms,"
              f" /api/flame {r['flame_fetch_ms']:.0f} ms, tree build {r['tree_build_ms']:.0f} ms,"
              f" draw {r['draw_ms']:.0f} ms, {r['nodes']:,} nodes")
        print(f"zoom (click to redrawn)  {r['zoom_ms']:.1f} ms median, {r['zoom_max_ms']:.1f} ms worst"
              " (goal <= 50 ms)")
        print(f"server peak RSS          {r['server_peak_rss_mib']:.0f} MiB")
        if perf:
            scaled = args.samples / perf["samples_per_s"]
            print(f"perf report --stdio      {perf['samples_per_s']:,.0f} samples/s"
                  f" ({perf['samples']:,} samples in"
                  f" {perf['seconds']:.2f} s): {scaled:.1f} s for {args.samples:,} samples")
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

"""The web UI's browser tests: real recordings, a real `stax serve`, Debian's chromium driven by playwright.

The recordings are tests/web/conftest.py's (the shares workload at 3:1 and 1:1, a pipe
ping-pong) plus tests/cli/workloads/threads.c for the thread filter.
The browser is /usr/bin/chromium (scripts/bootstrap.sh installs it with apt-get); playwright's own
browser download is never used. Screenshots go to tests/web/browser/artifacts/ (ignored by git).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO, compile_c
from tests.web.conftest import CFLAGS, record
from tests.web.server import serve

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def threads_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/cli/workloads/threads.c: worker-a does twice the work of worker-b."""
    work = tmp_path_factory.mktemp("threads")
    exe = compile_c(REPO / "tests" / "cli" / "workloads" / "threads.c", work / "threads", *CFLAGS)
    return record(work / "threads.stax", str(exe))


@contextmanager
def served(rec: Path, *extra: str) -> Iterator[str]:
    """`stax serve --no-open REC` (tests/web/server.py); yields the URL it printed first."""
    with serve(str(rec), *extra) as server:
        yield server.url


@pytest.fixture(scope="session")
def browser():
    # Missing tools fail here rather than skip: scripts/bootstrap.sh installs both.
    assert os.path.exists(CHROMIUM), "chromium is required (scripts/bootstrap.sh: apt-get install chromium)"
    from playwright.sync_api import sync_playwright  # the dev extra (no `playwright install`)

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True)
        yield b
        b.close()


class UI:
    """One page of the web UI, with the helpers the tests share; collects console errors."""

    def __init__(self, page, name: str):
        self.page = page
        self.name = name
        self.console_errors: list[str] = []
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console_errors.append(f"page error: {e}"))

    def open(self, url: str) -> UI:
        self.page.goto(url)
        self.idle()
        return self

    def idle(self) -> None:
        """Wait until every fetch and redraw the last action started has finished."""
        self.page.wait_for_function("() => window.__stax && window.__stax.idle()", timeout=60_000)

    def js(self, expr: str, *args):
        return self.page.evaluate(expr, *args)

    def frames(self, which: str = "main") -> list[dict]:
        return self.js("(w) => window.__stax.frames(w)", which)

    def frame(self, name: str, which: str = "main") -> dict:
        found = [f for f in self.frames(which) if f["name"] == name]
        assert found, f"no frame {name!r} drawn; frames: {[f['name'] for f in self.frames(which)][:40]}"
        return max(found, key=lambda f: f["width"])

    def frame_centre(self, name: str, canvas: str = "canvas.flame") -> tuple[float, float]:
        """Page coordinates of the middle of the widest drawn frame called NAME."""
        f = self.frame(name)
        box = self.page.locator(canvas).first.bounding_box()
        return box["x"] + f["x"] + f["width"] / 2, box["y"] + f["y"] + f["height"] / 2

    def click_frame(self, name: str, canvas: str = "canvas.flame") -> None:
        """A real mouse click in the middle of the widest drawn frame called NAME."""
        self.page.mouse.click(*self.frame_centre(name, canvas))
        self.idle()

    def total(self) -> float:
        return self.js("() => window.__stax.total()")

    def shot(self, label: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path


@pytest.fixture
def ui(browser, request) -> Iterator[UI]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    u = UI(page, request.node.name)
    yield u
    try:
        if page.url.startswith("http"):
            u.shot("end")
    finally:
        context.close()
    assert not u.console_errors, f"console errors: {u.console_errors}"


@pytest.fixture(scope="session")
def hotspots_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/hotspots.c for 1 s (built with -g): hot_a ~75%, hot_b ~25%, with source lines."""
    work = tmp_path_factory.mktemp("hotspots")
    exe = compile_c(REPO / "examples" / "hotspots.c", work / "hotspots", *CFLAGS)
    return record(work / "hotspots.stax", str(exe), "1")

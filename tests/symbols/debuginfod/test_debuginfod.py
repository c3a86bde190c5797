"""debuginfod against a real elfutils ``debuginfod`` on 127.0.0.1, plus a server answering
garbage and a URL nobody listens on: fetch, cache, negative cache, executable of a vanished
binary, --no-debuginfod, the progress line, and one warning sentence per failure."""

from __future__ import annotations

import http.server
import io
import os
import pty
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from stax.contracts import SymbolContext
from stax_symbols.debug_files.locator import PROCESS_LOCATOR
from stax_symbols.debuginfod import client as debuginfod_client
from stax_symbols.debuginfod.client import DebuginfodClient
from tests.symbols.built_objects import nm_functions
from tests.symbols.debug_workload import (
    Variant,
    assert_matches_addr2line,
    build_variant,
    elf_image,
    file_offset_of,
    reset_process_memos,
    symbolicate_like_core,
)

DEBUGINFOD = shutil.which("debuginfod")
pytestmark = pytest.mark.skipif(DEBUGINFOD is None,
                                reason="needs elfutils' debuginfod (apt-get install debuginfod)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@attrs.frozen
class Server:
    url: str
    served: Variant
    """Its debug file and executable are only on the server."""
    unknown: Variant
    """The server has nothing for it."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("debuginfod")
    served = build_variant(base / "build", "served")
    unknown = build_variant(base / "build", "unknown")
    files = base / "files"
    files.mkdir()
    shutil.copy(served.debug, files / "served.debug")
    shutil.copy(served.stripped, files / "served")
    port = free_port()
    proc = subprocess.Popen(
        [DEBUGINFOD, "-F", "-d", str(base / "db.sqlite"), "-p", str(port), "-t", "0", "-g", "0", str(files)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        pending = {f"/buildid/{served.build_id.hex()}/{kind}" for kind in ("debuginfo", "executable")}
        while pending:  # until the scan has indexed both files
            assert proc.poll() is None, "debuginfod exited"
            assert time.monotonic() < deadline, "debuginfod did not index the test files in 30 s"
            for path in list(pending):
                try:
                    with urllib.request.urlopen(url + path, timeout=2) as response:
                        if response.status == 200:
                            pending.discard(path)
                except OSError:
                    pass
            time.sleep(0.1)
        yield Server(url, served, unknown)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEBUGINFOD_URLS", raising=False)
    monkeypatch.delenv("STAX_DEBUG_DIRS", raising=False)
    reset_process_memos()


def offsets(v: Variant) -> tuple[int, int]:
    """(inside the local function only debug info names, inside an exported function)."""
    symbols = nm_functions(v.twin)
    return (file_offset_of(v.twin, symbols["local_worker"][0] + 4),
            file_offset_of(v.twin, symbols["exported_driver"][0] + 1))


def resolve(v: Variant, cache: Path, **options: object) -> tuple[dict, list[str]]:
    """Name the two offsets of ``v``'s stripped binary through all sources."""
    return symbolicate_like_core(elf_image(v.stripped, v.build_id), offsets(v), options, cache)


def requests_made(cache: Path) -> int:
    client = PROCESS_LOCATOR.client(SymbolContext(cache_dir=cache))
    assert client is not None
    return client.requests


def test_fetch_matches_addr2line_and_is_cached(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = server.served
    monkeypatch.setenv("DEBUGINFOD_URLS", f"{server.url}/")
    started = time.perf_counter()
    assert_matches_addr2line(v.stripped, v.twin, v.build_id, tmp_path)
    print(f"fetch + resolve: {(time.perf_counter() - started) * 1e3:.0f} ms")
    cached = tmp_path / "debuginfod" / v.build_id.hex() / "debuginfo"
    assert cached.read_bytes() == v.debug.read_bytes()
    assert requests_made(tmp_path) == 1
    # a new process: the cache answers, no server is asked
    reset_process_memos()
    assert_matches_addr2line(v.stripped, v.twin, v.build_id, tmp_path)
    assert requests_made(tmp_path) == 0


def test_executable_of_a_vanished_binary(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = server.served
    monkeypatch.setenv("DEBUGINFOD_URLS", server.url)
    gone = tmp_path / "gone" / "served"  # recorded here, deleted since
    local, exported = offsets(v)
    found, warnings = symbolicate_like_core(elf_image(gone, v.build_id), [local, exported], {}, tmp_path)
    assert [s.function for s in found[local]][-1] == "local_worker"
    assert found[local][0].line is not None
    assert found[exported][-1].function == "exported_driver"
    assert (tmp_path / "debuginfod" / v.build_id.hex() / "executable").is_file()
    assert not any("debuginfod" in w for w in warnings), warnings


def test_404_warns_once_and_is_remembered(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = server.unknown
    monkeypatch.setenv("DEBUGINFOD_URLS", server.url)
    local, exported = offsets(v)
    found, warnings = resolve(v, tmp_path)
    assert local not in found and found[exported][-1].function == "exported_driver"
    assert warnings == [
        f"No debuginfod server ({server.url}) has debug info for {v.stripped} (build id {v.build_id.hex()});"
        " its frames are named from its symbol table, if any."
    ]
    assert requests_made(tmp_path) == 1
    reset_process_memos()
    found, warnings = resolve(v, tmp_path)
    assert warnings == [] and requests_made(tmp_path) == 0  # the 404 was remembered
    assert found[exported][-1].function == "exported_driver"


class _Garbage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's spelling
        body = b"<html>surprise, not an ELF file</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def garbage_url() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_garbage_answer_warns_once_and_others_resolve(
    server: Server, garbage_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = server.served
    monkeypatch.setenv("DEBUGINFOD_URLS", garbage_url)
    local, exported = offsets(v)
    found, warnings = resolve(v, tmp_path)
    assert local not in found and found[exported][-1].function == "exported_driver"
    assert warnings == [
        f"The debuginfod server {garbage_url} sent something that is not the debuginfo of {v.stripped}"
        " (not an ELF file); it was discarded."
    ]
    assert not (tmp_path / "debuginfod" / v.build_id.hex() / "debuginfo").exists()


def test_unreachable_server_warns_once_and_the_next_url_serves(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = server.served
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("DEBUGINFOD_URLS", f"{dead} {server.url}")
    local, exported = offsets(v)
    other = build_variant(tmp_path / "other", "other_unknown")  # a second image: the dead URL is not retried
    found, warnings = resolve(v, tmp_path)
    assert found[local][-1].function == "local_worker"
    asked = requests_made(tmp_path)
    resolve(other, tmp_path)
    assert requests_made(tmp_path) == asked + 1  # only the live server was asked for the second image
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Cannot reach the debuginfod server {dead} (")
    assert warnings[0].endswith("; check DEBUGINFOD_URLS or pass --no-debuginfod.")


def test_only_an_unreachable_server(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = server.served
    monkeypatch.setenv("DEBUGINFOD_URLS", f"http://127.0.0.1:{free_port()}")
    local, exported = offsets(v)
    found, warnings = resolve(v, tmp_path)
    assert local not in found and found[exported][-1].function == "exported_driver"
    assert len(warnings) == 1 and "Cannot reach the debuginfod server" in warnings[0]


def test_turned_off_by_option(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = server.served
    monkeypatch.setenv("DEBUGINFOD_URLS", server.url)
    local, exported = offsets(v)
    found, warnings = resolve(v, tmp_path, debuginfod=False)
    assert local not in found and warnings == []
    assert PROCESS_LOCATOR.client(SymbolContext(cache_dir=tmp_path, options={"debuginfod": False})) is None
    assert not (tmp_path / "debuginfod").exists()


def test_progress_line_only_on_a_terminal(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = server.served
    monkeypatch.setattr(debuginfod_client, "PROGRESS_MIN_BYTES", 0)
    plain = io.StringIO()
    client = DebuginfodClient([server.url], tmp_path / "a", progress=plain)
    assert client.fetch(v.build_id, "debuginfo", str(v.stripped), pytest.fail) is not None
    assert plain.getvalue() == ""
    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as tty:
            client = DebuginfodClient([server.url], tmp_path / "b", progress=tty)
            assert client.fetch(v.build_id, "debuginfo", str(v.stripped), pytest.fail) is not None
        shown = os.read(leader, 4096).decode()
    finally:
        os.close(leader)
        os.close(follower)
    assert "stax: downloading debug info for served:" in shown and " MB" in shown
    assert shown.endswith("\r\x1b[K")  # the line is cleared afterwards

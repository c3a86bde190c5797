"""`stax serve` refuses what it must (issue 11 item 7): no token, another Host (DNS rebinding),
paths out of its static directory, damaged files; and prints its URL first."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.web.conftest import needs_root
from tests.web.server import STAX, URL_LINE, serve

pytestmark = needs_root


@pytest.fixture(scope="module")
def served(rec_3_1: Path):
    with serve(str(rec_3_1)) as server:
        yield server


def test_first_stdout_line_is_the_url_with_its_token(served) -> None:
    assert URL_LINE.match(served.first_line)
    status, headers, body = served.get(f"/?token={served.token}", cookie=False)
    assert status == 200 and b"<html" in body.lower()
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"stax_token={served.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "script-src 'self'" in headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/", "/api/meta", "/api/flame", "/static/index.html", "/api/top?token="])
def test_no_token_is_refused(served, path: str) -> None:
    status, _, body = served.get(path, cookie=False)
    assert status == 401, body
    assert b"no valid stax token" in body and b"hot_a" not in body


def test_a_wrong_token_is_refused(served) -> None:
    wrong = "x" * len(served.token)
    assert served.get(f"/api/meta?token={wrong}", cookie=False)[0] == 401
    assert served.get("/api/meta", cookie=False, headers={"Cookie": f"stax_token={wrong}"})[0] == 401
    assert served.get("/api/meta", cookie=False, headers={"Cookie": "stax_token="})[0] == 401


def test_the_cookie_alone_is_enough(served) -> None:
    assert served.get("/api/meta")[0] == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:{other}", "127.0.0.1",
                                  "", "localhost.evil.example:{port}"])
def test_another_host_header_is_refused(served, host: str) -> None:
    host = host.format(port=served.port, other=served.port + 1)
    status, _, body = served.get(f"/api/meta?token={served.token}", host=host)
    assert status == 403, body
    assert b"hot_a" not in body and b"processes" not in body


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_the_bound_address_is_accepted_in_each_spelling(served, host: str) -> None:
    assert served.get("/api/meta", host=host.format(port=served.port))[0] == 200


@pytest.mark.parametrize("path", [
    "/static/../security.py", "/static/%2e%2e/security.py", "/static/..%2fsecurity.py",
    "/static/..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", "/static/%2fetc%2fpasswd",
    "/static//etc/passwd", "/../../../../etc/passwd", "/static/../../../../../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd", "/api/../security.py",
])
def test_nothing_outside_the_static_directory_is_served(served, path: str) -> None:
    status, _, body = served.get(path)
    assert status in (400, 404), (status, body[:200])
    assert b"root:" not in body and b"import" not in body


def test_a_corrupt_file_is_one_sentence_and_a_failure(tmp_path: Path) -> None:
    bad = tmp_path / "bad.stax"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    proc = subprocess.run([STAX, "serve", str(bad), "--no-open"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stdout == ""  # no URL: nothing is served
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(bad) in lines[0] and "record it again" in lines[0]


def test_a_text_file_is_not_a_recording(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    proc = subprocess.run([STAX, "serve", str(text), "--no-open"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_a_wildcard_host_is_refused(rec_3_1: Path) -> None:
    proc = subprocess.run([STAX, "serve", str(rec_3_1), "--no-open", "--host", "0.0.0.0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--host 0.0.0.0 listens on every address" in proc.stderr


def test_a_port_in_use_is_one_sentence(rec_3_1: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run([STAX, "serve", str(rec_3_1), "--no-open", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == (f"stax: Cannot listen on 127.0.0.1:{port} (Address already in use); choose"
                                   " another --port (or leave it out for a free one) or another --host.")


def test_a_corrupt_base_is_one_sentence_too(rec_3_1: Path, tmp_path: Path) -> None:
    bad = tmp_path / "old.stax"
    bad.write_bytes(b"\x00" * 4096)
    proc = subprocess.run([STAX, "serve", str(rec_3_1), "--base", str(bad), "--no-open"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in proc.stderr

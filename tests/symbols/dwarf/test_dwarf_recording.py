"""A real ``stax record`` of a stripped binary whose debug file sits beside it (.gnu_debuglink):
every sampled address of it carries addr2line's inline chain, the forced-inline function is an
inline frame under its caller in ``stax top`` and ``stax collapse``, and ``--no-debuginfod``
keeps the network out of it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.symbols.built_objects import load_segments
from tests.symbols.debug_workload import Variant, addr2line_chains, build_variant

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open")

STAX = str(Path(sys.executable).parent / "stax")


def stax(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([STAX, *args], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Variant, Path, str, dict[str, str]]:
    d = tmp_path_factory.mktemp("dwarf-rec")
    v = build_variant(d, "recorded", debuglink=True)
    env = {k: val for k, val in os.environ.items() if k not in ("DEBUGINFOD_URLS", "STAX_DEBUG_DIRS")}
    env["STAX_CACHE_DIR"] = str(d / "cache")
    rec = d / "r.stax"
    proc = stax("record", "-o", str(rec), "--", str(v.stripped), "30000", env=env)
    return v, rec, proc.stderr, env


def vaddr_of(binary: Path, offset: int) -> int:
    for seg in load_segments(binary):
        if seg.offset <= offset < seg.offset + seg.file_size:
            return offset - seg.offset + seg.vaddr
    raise AssertionError(f"offset {offset:#x} is in no PT_LOAD of {binary}")


def test_sampled_addresses_match_addr2line(recorded: tuple[Variant, Path, str, dict[str, str]]) -> None:
    v, rec, stderr, _ = recorded
    assert [line for line in stderr.splitlines() if str(v.stripped) in line] == []  # no symbol warning
    db = sqlite3.connect(rec)
    try:
        (image_id,) = db.execute("SELECT id FROM images WHERE path=?", (str(v.stripped),)).fetchone()
        frames = db.execute(
            "SELECT id, offset - is_return, function, file, line FROM frames WHERE image_id=?", (image_id,)
        ).fetchall()
        inlines: dict[int, list[tuple[str, str | None, int | None]]] = {}
        for frame_id, function, file, line in db.execute(
            "SELECT frame_id, function, file, line FROM frame_inlines ORDER BY frame_id, depth"
        ):
            inlines.setdefault(frame_id, []).append((function, file, line))
    finally:
        db.close()
    # a caller's frame (a return address: hybrid unwinding repairs them in frameless code) is
    # named inside its call instruction, at offset - 1, as perf and addr2line users do
    assert len(frames) >= 5, "too few distinct sampled addresses in the binary"
    addresses = {frame_id: vaddr_of(v.twin, offset) for frame_id, offset, *_ in frames}
    expected = addr2line_chains(v.twin, sorted(set(addresses.values())))
    with_inline = 0
    for frame_id, _offset, function, file, line in frames:
        chain = inlines.get(frame_id, []) + [(function, file, line)]
        assert chain == expected[addresses[frame_id]], f"frame at {addresses[frame_id]:#x}"
        with_inline += len(chain) > 1
    assert with_inline >= 1


def test_inline_frames_in_top_and_collapse(recorded: tuple[Variant, Path, str, dict[str, str]]) -> None:
    _, rec, _, env = recorded
    top = stax("top", str(rec), env=env).stdout
    assert "hot_inline (inlined)" in top or "mix_step (inlined)" in top, top
    assert "local_worker" in top
    folded = stax("collapse", str(rec), env=env).stdout
    assert any("local_worker;hot_inline" in line for line in folded.splitlines()), folded
    annotated = stax("collapse", "--annotate", str(rec), env=env).stdout
    assert "hot_inline_[i]" in annotated


def test_no_debuginfod_flag(tmp_path: Path, recorded: tuple[Variant, Path, str, dict[str, str]]) -> None:
    """A dead server in DEBUGINFOD_URLS: one warning without the flag, none with it."""
    _, _, _, base_env = recorded
    bare = build_variant(tmp_path / "b", "no_debug_anywhere")  # nothing local: debuginfod would be asked
    env = dict(base_env, DEBUGINFOD_URLS="http://127.0.0.1:9", STAX_CACHE_DIR=str(tmp_path / "cache"))
    asked = stax("record", "-o", str(tmp_path / "a.stax"), "--", str(bare.stripped), "2000", env=env)
    assert "Cannot reach the debuginfod server http://127.0.0.1:9" in asked.stderr
    quiet = stax("record", "--no-debuginfod", "-o", str(tmp_path / "b.stax"), "--", str(bare.stripped),
                 "2000", env=dict(env, STAX_CACHE_DIR=str(tmp_path / "cache2")))
    assert "Cannot reach" not in quiet.stderr and "DEBUGINFOD_URLS" not in quiet.stderr

"""proc_snapshot: /proc maps parsing, thread names, and the ELF build-id note reader."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

from stax.events import ImageKind, ThreadName
from stax_backend_linux.capture import proc_snapshot
from stax_binfmt.elf import read_build_id

MAPS = """\
55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234 /usr/bin/my prog
55d0c0a01000-55d0c0a05000 r-xp 00001000 08:01 1234 /usr/bin/my prog
7f1000000000-7f1000010000 rwxp 00000000 00:00 0
7f2000000000-7f2000001000 r-xp 00000000 00:00 0 [anon:v8 code]
7ffd1e5f0000-7ffd1e5f2000 r-xp 00000000 00:00 0                          [vdso]
7f3000000000-7f3000100000 r-xp 00010000 08:01 99 /lib/gone.so (deleted)
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
"""


def test_parse_maps_keeps_executable_mappings_only() -> None:
    loads = proc_snapshot.parse_maps(MAPS, 77, 5)
    got = [(hex(e.start), e.file_offset, e.path, e.kind) for e in loads]
    assert got == [
        ("0x55d0c0a01000", 0x1000, "/usr/bin/my prog", ImageKind.ELF),
        ("0x7f1000000000", 0, "//anon", ImageKind.JIT),
        ("0x7f2000000000", 0, "[anon:v8 code]", ImageKind.JIT),
        ("0x7ffd1e5f0000", 0, "[vdso]", ImageKind.VDSO),
        ("0x7f3000000000", 0x10000, "/lib/gone.so (deleted)", ImageKind.ELF),
    ]
    assert all(e.pid == 77 and e.time == 5 for e in loads)


def test_build_id_matches_readelf() -> None:
    out = subprocess.run(["readelf", "-n", sys.executable], capture_output=True, text=True).stdout
    match = re.search(r"Build ID: ([0-9a-f]+)", out)
    assert match, "the test interpreter has no build id note"
    assert read_build_id(sys.executable) == bytes.fromhex(match.group(1))
    assert read_build_id("/etc/hostname") is None
    assert read_build_id("/nonexistent/file") is None


def test_snapshot_of_this_process() -> None:
    ready, done = threading.Event(), threading.Event()

    def named() -> None:
        import ctypes

        ctypes.CDLL(None).prctl(15, b"snap-thread", 0, 0, 0)  # PR_SET_NAME
        ready.set()
        done.wait(5)

    thread = threading.Thread(target=named)
    thread.start()
    ready.wait(5)
    try:
        cache = proc_snapshot.BuildIdCache()
        events = proc_snapshot.snapshot([os.getpid()], 123, cache)
    finally:
        done.set()
        thread.join()
    names = {e.name for e in events if isinstance(e, ThreadName)}
    assert "snap-thread" in names
    loads = [e for e in events if not isinstance(e, ThreadName)]
    exe = os.path.realpath(sys.executable)
    mine = [e for e in loads if e.path == exe]
    assert mine and mine[0].build_id == read_build_id(exe)
    assert any(e.kind is ImageKind.VDSO for e in loads)

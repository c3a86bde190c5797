"""Perf maps (/tmp/perf-PID.map): parsing, latest-wins ranges, the source and its warnings."""

from __future__ import annotations

import time
from pathlib import Path

from stax.address_spaces import JITDUMP_PATHS_OPTION
from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax.stack_table import Image
from stax_symbols.jit.perf_map_file import parse_perf_map, perf_map_path
from stax_symbols.jit.perf_map_ranges import latest_covering
from stax_symbols.jit.perf_map_source import PerfMapSource

PID = 31337

# As node --perf-basic-prof and CPython -X perf write them, plus the odd cases.
MAP_TEXT = """\
18c4000 300 Builtin:DeoptimizationEntry_Eager
7ff510005b80 100 JS:^fib /tmp/jt/fib.js:1:13
0x7ff510006180 0x180 JS:*fib /tmp/jt/fib.js:1:13
7f0000001000 40 py::main:/srv/app.py
not a line at all
7f0000002000 zz bad_size
7f0000003000 0 empty_range

7f0000004000 10
7f0000005000 20 name with   spaces  \t
"""


def test_parse_lines_hex_with_and_without_0x_and_names_with_spaces() -> None:
    perf_map = parse_perf_map(MAP_TEXT)
    rows = list(zip(perf_map.starts, perf_map.ends, perf_map.names, strict=True))
    assert rows == [
        (0x18C4000, 0x18C4300, "Builtin:DeoptimizationEntry_Eager"),
        (0x7FF510005B80, 0x7FF510005C80, "JS:^fib /tmp/jt/fib.js:1:13"),
        (0x7FF510006180, 0x7FF510006300, "JS:*fib /tmp/jt/fib.js:1:13"),
        (0x7F0000001000, 0x7F0000001040, "py::main:/srv/app.py"),
        (0x7F0000005000, 0x7F0000005020, "name with   spaces"),
    ]
    assert perf_map.skipped == 4  # the text line, the bad size, the empty range, the nameless line


def test_latest_covering_prefers_the_newest_range() -> None:
    starts = [0x100, 0x140, 0x400, 0x100]
    ends = [0x200, 0x150, 0x500, 0x110]
    found = latest_covering(starts, ends, [0x105, 0x120, 0x145, 0x1FF, 0x200, 0x450, 0x90])
    assert found == {0x105: 3, 0x120: 0, 0x145: 1, 0x1FF: 0, 0x450: 2}


def _write_map(directory: Path, text: str, pid: int = PID) -> Path:
    path = perf_map_path(pid, directory)
    path.write_text(text)
    return path


def _context(tmp_path: Path, **options: object) -> SymbolContext:
    return SymbolContext(cache_dir=tmp_path, options=options)


def _image(kind: ImageKind = ImageKind.JIT, pid: int | None = PID) -> Image:
    return Image(3, "//anon", kind, None, pid)


def test_source_names_absolute_addresses_later_entries_win(tmp_path: Path) -> None:
    _write_map(tmp_path, "7f0000001000 1000 old_function\n"
                         "7f0000001400 100 replacement\n"
                         "7f0000009000 10 elsewhere\n")
    source = PerfMapSource(tmp_path)
    answer = source.symbolicate(
        _image(), [0x7F0000001010, 0x7F0000001450, 0x7F0000001500, 0x7F000000900F, 0x7F0000009010],
        _context(tmp_path))
    assert answer == {
        0x7F0000001010: (SymbolInfo("old_function", 0x10),),
        0x7F0000001450: (SymbolInfo("replacement", 0x50),),
        0x7F0000001500: (SymbolInfo("old_function", 0x500),),
        0x7F000000900F: (SymbolInfo("elsewhere", 0xF),),
    }


def test_serves_jit_and_unknown_images_of_a_pid_only(tmp_path: Path) -> None:
    _write_map(tmp_path, "1000 100 jitted\n")
    source = PerfMapSource(tmp_path)
    context = _context(tmp_path)
    assert source.symbolicate(_image(ImageKind.UNKNOWN), [0x1010], context)[0x1010][0].function == "jitted"
    assert source.symbolicate(Image(1, "/bin/x", ImageKind.ELF), [0x1010], context) == {}
    assert source.symbolicate(_image(pid=None), [0x1010], context) == {}
    assert context.warnings == []


def test_read_once_per_pid_per_pass(tmp_path: Path) -> None:
    path = _write_map(tmp_path, "1000 100 first\n")
    source = PerfMapSource(tmp_path)
    context = _context(tmp_path)
    assert source.symbolicate(_image(), [0x1000], context)[0x1000][0].function == "first"
    path.write_text("1000 100 first\n2000 100 appended_later\n")
    assert source.symbolicate(_image(ImageKind.UNKNOWN), [0x2000], context) == {}
    assert source.symbolicate(_image(), [0x2000], _context(tmp_path))[0x2000][0].function == "appended_later"


def test_missing_map_warns_once_for_a_jit_process(tmp_path: Path) -> None:
    source = PerfMapSource(tmp_path)
    context = _context(tmp_path)
    # core hands over the process's [unknown] image first, then its JIT image
    assert source.symbolicate(_image(ImageKind.UNKNOWN), [0x1000], context) == {}
    assert context.warnings == []
    assert source.symbolicate(_image(), [0x1000], context) == {}
    assert source.symbolicate(_image(), [0x2000], context) == {}
    assert source.symbolicate(_image(ImageKind.UNKNOWN, pid=PID + 1), [0x1000], context) == {}
    (warning,) = context.warnings  # once; and not for a mere [unknown] image
    assert str(perf_map_path(PID, tmp_path)) in warning and f"pid {PID}" in warning
    # a process that mapped a jitdump is named by the jitdump source: no perf-map complaint
    quiet = _context(tmp_path, **{JITDUMP_PATHS_OPTION: {PID: ("/x/jit-1.dump",)}})
    assert source.symbolicate(_image(), [0x1000], quiet) == {} and quiet.warnings == []


def test_unreadable_map_is_one_sentence(tmp_path: Path) -> None:
    perf_map_path(PID, tmp_path).mkdir()  # a directory where the file should be
    context = _context(tmp_path)
    assert PerfMapSource(tmp_path).symbolicate(_image(), [0x1000], context) == {}
    (warning,) = context.warnings
    assert "skipped" in warning and "is a directory, not a regular file" in warning


def test_speed_large_map(tmp_path: Path) -> None:
    lines = [f"{0x7F0000000000 + k * 0x100:x} c0 JS:*function_{k} /srv/app/module_{k % 50}.js:{k}:3"
             for k in range(200_000)]
    _write_map(tmp_path, "\n".join(lines) + "\n")
    addresses = [0x7F0000000000 + k * 0x100 + 0x10 for k in range(0, 200_000, 40)]
    start = time.perf_counter()
    answer = PerfMapSource(tmp_path).symbolicate(_image(), addresses, _context(tmp_path))
    elapsed = time.perf_counter() - start
    assert len(answer) == len(addresses)
    assert answer[addresses[-1]][0].function == "JS:*function_199960 /srv/app/module_10.js:199960:3"
    assert elapsed < 2.0, f"{elapsed:.2f} s for 200k lines"

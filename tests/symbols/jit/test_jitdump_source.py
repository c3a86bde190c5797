"""The jitdump source: which file, which load, lines, damaged files, and a recording end to end."""

from __future__ import annotations

from pathlib import Path

from stax.address_spaces import JITDUMP_PATHS_OPTION
from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind, ImageLoad, Sample
from stax.plugin_manager import StaxPlugins
from stax.recording.reader import Recording
from stax.recording.writer import RecordingBuilder
from stax.stack_table import Image
from stax_symbols.jit.jitdump_source import JitdumpSource
from tests.symbols.jit.test_jitdump_reader import BASE, DumpWriter

PID = 4242


def _context(tmp_path: Path, paths: dict[int, tuple[str, ...]] | None = None) -> SymbolContext:
    options = {JITDUMP_PATHS_OPTION: paths} if paths is not None else {}
    return SymbolContext(cache_dir=tmp_path, options=options)


def _jit(pid: int = PID, kind: ImageKind = ImageKind.JIT) -> Image:
    return Image(5, "//anon", kind, None, pid)


def _write(path: Path, writer: DumpWriter) -> str:
    path.write_bytes(writer.bytes())
    return str(path)


def _source() -> JitdumpSource:
    return JitdumpSource(search_dirs=[])  # no looking around this machine unless a test asks


def test_names_offsets_and_lines_from_the_mapped_dump(tmp_path: Path) -> None:
    w = DumpWriter()
    w.debug(BASE, [(BASE, 10, 1, b"/app/a.js"), (BASE + 0x20, 11, 5, b"/app/a.js"),
                   (BASE + 0x40, 30, 0, b"/app/inlined.js")])
    w.load(BASE, 0x80, "JS:*hot /app/a.js:10:1")
    w.load(BASE + 0x80, 0x40, "Builtin:NoLines")
    path = _write(tmp_path / f"jit-{PID}.dump", w)
    context = _context(tmp_path, {PID: (path,)})
    answer = _source().symbolicate(
        _jit(), [BASE, BASE + 0x1F, BASE + 0x20, BASE + 0x7F, BASE + 0x90, BASE + 0xC0], context)
    assert answer == {
        BASE: (SymbolInfo("JS:*hot /app/a.js:10:1", 0, "/app/a.js", 10),),
        BASE + 0x1F: (SymbolInfo("JS:*hot /app/a.js:10:1", 0x1F, "/app/a.js", 10),),
        BASE + 0x20: (SymbolInfo("JS:*hot /app/a.js:10:1", 0x20, "/app/a.js", 11),),
        BASE + 0x7F: (SymbolInfo("JS:*hot /app/a.js:10:1", 0x7F, "/app/inlined.js", 30),),
        BASE + 0x90: (SymbolInfo("Builtin:NoLines", 0x10),),
    }  # BASE + 0xC0 is past every load
    assert context.warnings == []


def test_the_last_load_of_an_address_wins_and_moves_keep_the_name(tmp_path: Path) -> None:
    w = DumpWriter()
    w.load(BASE, 0x100, "old_big")
    w.load(BASE + 0x40, 0x20, "new_small")  # code freed and replaced inside old_big's range
    w.load(BASE + 0x1000, 0x30, "mover")
    w.move(BASE + 0x1000, BASE + 0x2000, 0x30, 3)
    w.load(BASE + 0x1000, 0x10, "reuser")  # the moved-from range reused by new code
    path = _write(tmp_path / "jit-1.dump", w)
    answer = _source().symbolicate(
        _jit(), [BASE + 0x10, BASE + 0x48, BASE + 0x70, BASE + 0x2008, BASE + 0x1004, BASE + 0x1020],
        _context(tmp_path, {PID: (path,)}))
    named = {a - BASE: (c[0].function, c[0].symbol_offset) for a, c in answer.items()}
    assert named == {
        0x10: ("old_big", 0x10), 0x48: ("new_small", 0x8), 0x70: ("old_big", 0x70),
        0x2008: ("mover", 0x8), 0x1004: ("reuser", 0x4),
        0x1020: ("mover", 0x20),  # nothing newer covers the old range's tail
    }


def test_v8_damaged_file_names_fall_back_to_the_script_in_the_code_name(tmp_path: Path) -> None:
    w = DumpWriter(pad1=0xDEADBEEF)
    garbage = b"IS\x03\0\0\0\0\0\xa2\xd1X\xec{\x9a"
    w.debug(BASE, [(BASE + 0x40, 1, 13, garbage), (BASE + 0x40 + 0x27, 2, 28, garbage)], pad_to_8=True)
    w.load(BASE, 0x80, "JS:*fib /tmp/jt/fib.js:1:13")
    path = _write(tmp_path / "jit-9.dump", w)
    answer = _source().symbolicate(_jit(), [BASE + 0x30], _context(tmp_path, {PID: (path,)}))
    assert answer[BASE + 0x30] == (SymbolInfo("JS:*fib /tmp/jt/fib.js:1:13", 0x30, "/tmp/jt/fib.js", 2),)


def test_serves_only_per_process_jit_and_unknown_images(tmp_path: Path) -> None:
    w = DumpWriter()
    w.load(BASE, 0x80, "f")
    path = _write(tmp_path / "jit-1.dump", w)
    context = _context(tmp_path, {PID: (path,)})
    source = _source()
    assert source.symbolicate(_jit(kind=ImageKind.UNKNOWN), [BASE], context)[BASE][0].function == "f"
    assert source.symbolicate(Image(1, "/bin/node", ImageKind.ELF), [BASE], context) == {}
    assert source.symbolicate(Image(1, "[k]", ImageKind.KERNEL), [BASE], context) == {}
    assert source.symbolicate(_jit(pid=PID + 1), [BASE], context) == {}  # another process


def test_a_missing_mapped_dump_is_one_sentence(tmp_path: Path) -> None:
    gone = str(tmp_path / "jit-77.dump")
    context = _context(tmp_path, {PID: (gone,)})
    assert _source().symbolicate(_jit(), [BASE], context) == {}
    (warning,) = context.warnings
    assert gone in warning and "cannot be read" in warning


def test_corrupt_dump_warns_once_and_other_processes_are_still_named(tmp_path: Path) -> None:
    bad = tmp_path / "jit-1.dump"
    bad.write_bytes(b"this is not a jitdump at all, just some text......")
    good_writer = DumpWriter()
    good_writer.load(BASE, 0x80, "fine")
    good = _write(tmp_path / "jit-2.dump", good_writer)
    context = _context(tmp_path, {1: (str(bad),), 2: (good,)})
    source = _source()
    assert source.symbolicate(_jit(1), [BASE], context) == {}
    assert source.symbolicate(_jit(1, ImageKind.UNKNOWN), [BASE + 1], context) == {}
    assert source.symbolicate(_jit(2), [BASE], context)[BASE][0].function == "fine"
    (warning,) = context.warnings
    assert str(bad) in warning and "not a jitdump" in warning


def test_truncated_dump_names_its_valid_prefix(tmp_path: Path) -> None:
    w = DumpWriter()
    w.load(BASE, 0x10, "complete")
    cut = w.load(BASE + 0x10, 0x10, "half_written")
    path = tmp_path / "jit-3.dump"
    path.write_bytes(w.bytes()[:cut + 20])
    context = _context(tmp_path, {PID: (str(path),)})
    answer = _source().symbolicate(_jit(), [BASE + 4, BASE + 0x14], context)
    assert {a: c[0].function for a, c in answer.items()} == {BASE + 4: "complete"}
    assert len(context.warnings) == 1 and "ends inside a record" in context.warnings[0]


def test_fallback_finds_jit_pid_dump_by_name_with_a_warning(tmp_path: Path) -> None:
    w = DumpWriter(pid=PID)
    w.load(BASE, 0x80, "found_by_name")
    _write(tmp_path / f"jit-{PID}.dump", w)
    other = DumpWriter(pid=PID + 1)  # a file under this pid's name written by another process
    other.load(BASE, 0x80, "wrong_process")
    (tmp_path / "other").mkdir()
    _write(tmp_path / "other" / f"jit-{PID}.dump", other)
    source = JitdumpSource(search_dirs=[tmp_path / "other", tmp_path])
    context = _context(tmp_path)
    assert source.symbolicate(_jit(), [BASE], context)[BASE][0].function == "found_by_name"
    (warning,) = context.warnings
    assert f"pid {PID}" in warning and str(tmp_path / f"jit-{PID}.dump") in warning


def test_each_file_is_read_once_per_pass(tmp_path: Path) -> None:
    w = DumpWriter()
    w.load(BASE, 0x10, "first")
    path = tmp_path / "jit-1.dump"
    _write(path, w)
    source = _source()
    context = _context(tmp_path, {PID: (str(path),)})
    assert source.symbolicate(_jit(), [BASE], context)[BASE][0].function == "first"
    w.load(BASE + 0x100, 0x10, "appended")
    _write(path, w)
    assert source.symbolicate(_jit(kind=ImageKind.UNKNOWN), [BASE + 0x100], context) == {}
    fresh = _context(tmp_path, {PID: (str(path),)})
    assert source.symbolicate(_jit(), [BASE + 0x100], fresh)[BASE + 0x100][0].function == "appended"


def test_recording_names_jit_frames_through_the_mapped_dump(tmp_path: Path) -> None:
    """Core sees the runtime's mmap of jit-PID.dump and the source names the JIT frames."""
    w = DumpWriter(pid=PID)
    w.debug(BASE, [(BASE, 7, 0, b"/srv/app.js")])
    w.load(BASE, 0x100, "JS:*handler /srv/app.js:7:1")
    dump = _write(tmp_path / f"jit-{PID}.dump", w)
    builder = RecordingBuilder(tmp_path / "r.stax", StaxPlugins())
    builder.consume([
        ImageLoad(0, PID, 0x7F10_0000_0000, 0x7F10_0000_1000, 0, dump, ImageKind.ELF),
        ImageLoad(0, PID, BASE & ~0xFFF, (BASE & ~0xFFF) + 0x10000, 0, "//anon", ImageKind.JIT),
        Sample(1, PID, PID, 0, 1, (), (BASE + 0x10, BASE + 0x50)),
    ])
    assert builder.finish() == []
    recording = Recording.open(tmp_path / "r.stax")
    try:
        labels = {label.name for label in recording.frame_labels()}
        rows = recording.db.execute("SELECT function, file, line FROM frames WHERE function LIKE 'JS:%'")
        files = set(rows.fetchall())
    finally:
        recording.close()
    assert labels == {"JS:*handler /srv/app.js:7:1"}
    assert files == {("JS:*handler /srv/app.js:7:1", "/srv/app.js", 7)}


def test_jit_sources_are_entry_points_ordered_before_the_elf_band() -> None:
    plugins = StaxPlugins()
    infos = {i.name: i for i in plugins.plugins()}
    for entry_point in ("symbols-jitdump", "symbols-perf-map"):
        assert infos[entry_point].distribution == "stax-symbols"
        assert infos[entry_point].hooks == ("stax_symbol_sources",)
    ours = [(s.name, s.order) for s in plugins.symbol_sources() if s.name in ("jitdump", "perf-map")]
    assert ours == [("jitdump", 150), ("perf-map", 160)]


def test_a_dump_too_short_for_a_header_or_unreadable_is_one_sentence(tmp_path: Path) -> None:
    empty = tmp_path / "jit-1.dump"
    empty.write_bytes(b"")
    context = _context(tmp_path, {PID: (str(empty), str(tmp_path))})  # a directory is unreadable
    assert _source().symbolicate(_jit(), [BASE], context) == {}
    assert len(context.warnings) == 2
    assert "is empty" in context.warnings[0]
    assert "skipped" in context.warnings[1] and "is a directory, not a regular file" in context.warnings[1]

"""Core tells JIT symbol sources which jit-PID.dump files each process mapped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import stax
from stax.address_spaces import JITDUMP_PATHS_OPTION, AddressSpaces
from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind, ImageLoad, Sample
from stax.plugin_manager import StaxPlugins
from stax.recording.writer import RecordingBuilder
from stax.stack_table import Image, ImageTable


def _load(pid: int, start: int, path: str, kind: ImageKind = ImageKind.ELF) -> ImageLoad:
    return ImageLoad(0, pid, start, start + 0x1000, 0, path, kind)


def test_mapped_jitdump_files_are_remembered_per_pid() -> None:
    spaces = AddressSpaces(ImageTable())
    spaces.add(_load(7, 0x10000, "/work/dir/jit-7.dump"))
    spaces.add(_load(7, 0x20000, "/work/dir/jit-7.dump"))  # mapped twice: listed once
    spaces.add(_load(8, 0x10000, "/tmp/jit-123.dump"))
    for not_a_dump in ("/tmp/jit-7.dumpx", "/tmp/myjit-7.dump", "/tmp/jit-.dump", "/lib/libc.so.6"):
        spaces.add(_load(9, 0x30000, not_a_dump))
    assert spaces.jitdump_paths == {7: ["/work/dir/jit-7.dump"], 8: ["/tmp/jit-123.dump"]}


def test_a_forked_child_inherits_its_parents_dumps() -> None:
    spaces = AddressSpaces(ImageTable())
    spaces.add(_load(7, 0x10000, "/d/jit-7.dump"))
    spaces.fork(7, 9)
    spaces.add(_load(9, 0x20000, "/d/jit-9.dump"))
    assert spaces.jitdump_paths[9] == ["/d/jit-7.dump", "/d/jit-9.dump"]
    assert spaces.jitdump_paths[7] == ["/d/jit-7.dump"]


class _OptionsSpy:
    name = "spy"
    order = 1

    def __init__(self) -> None:
        self.seen: list[tuple[Image, object]] = []

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        self.seen.append((image, context.options.get(JITDUMP_PATHS_OPTION)))
        return {}


class _SpyPlugin:
    def __init__(self, source: _OptionsSpy) -> None:
        self.source = source

    @stax.hookimpl
    def stax_symbol_sources(self) -> list[_OptionsSpy]:
        return [self.source]


def test_finish_hands_the_paths_to_symbol_sources(tmp_path: Path) -> None:
    spy = _OptionsSpy()
    plugins = StaxPlugins()
    plugins.register(_SpyPlugin(spy))
    builder = RecordingBuilder(tmp_path / "r.stax", plugins)
    builder.consume([
        _load(42, 0x7F0000000000, "/w/jit-42.dump"),
        _load(42, 0x7F1000000000, "//anon", ImageKind.JIT),
        Sample(1, 42, 42, 0, 1, (), (0x7F1000000010,)),
    ])
    builder.finish(symbol_options={"other": 1})
    jit = [options for image, options in spy.seen if image.kind is ImageKind.JIT]
    assert jit == [{42: ("/w/jit-42.dump",)}]


def test_no_dump_no_option(tmp_path: Path) -> None:
    spy = _OptionsSpy()
    plugins = StaxPlugins()
    plugins.register(_SpyPlugin(spy))
    builder = RecordingBuilder(tmp_path / "r.stax", plugins)
    builder.consume([_load(42, 0x7F1000000000, "//anon", ImageKind.JIT),
                     Sample(1, 42, 42, 0, 1, (), (0x7F1000000010,))])
    builder.finish()
    assert spy.seen and all(options is None for _, options in spy.seen)

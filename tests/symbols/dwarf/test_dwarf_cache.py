"""A second recording of the same binaries does no DWARF work: core's build-id cache answers.

Both recordings go through the real RecordingBuilder and plugin sources with real addresses
of a stripped binary whose DWARF is in a build-id directory; between them the process memos
are cleared, as a new ``stax record`` process would start.  Counted: DWARF files opened,
units parsed, debug-file searches, and calls of the DWARF source.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stax.events import ImageLoad, Sample
from stax.plugin_manager import StaxPlugins
from stax.recording.reader import Recording
from stax.recording.writer import RecordingBuilder
from stax_binfmt.debug_files import build_id_path
from stax_symbols.debug_files.locator import PROCESS_LOCATOR
from stax_symbols.dwarf import resolver as dwarf_resolver
from stax_symbols.dwarf.memo import PROCESS_DWARF_MEMO
from stax_symbols.dwarf.source import DwarfSymbolSource
from tests.symbols.built_objects import load_segments
from tests.symbols.debug_workload import (
    HOT_FUNCTIONS,
    build_variant,
    instruction_addresses,
    reset_process_memos,
)


def record(path: Path, binary: Path, build_id: bytes, addresses: list[int]) -> list[str]:
    """A recording whose samples hit ``addresses`` (ELF vaddrs) of ``binary`` mapped at a made-up base."""
    base = 0x5555_0000_0000
    events: list[object] = []
    for seg in load_segments(binary):
        page = seg.offset & ~0xFFF
        start = base + (seg.vaddr & ~0xFFF)
        events.append(ImageLoad(0, 7, start, start + seg.file_size + (seg.offset - page), page, str(binary),
                                build_id=build_id))
    for i, address in enumerate(addresses):
        events.append(Sample(10 + i, 7, 7, 0, 1000, (), (base + address,)))
    builder = RecordingBuilder(path, StaxPlugins())
    builder.consume(events)
    return builder.finish()


def test_second_recording_does_no_dwarf_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEBUGINFOD_URLS", raising=False)
    monkeypatch.setenv("STAX_CACHE_DIR", str(tmp_path / "cache"))
    v = build_variant(tmp_path / "build", "cached")
    root = tmp_path / "debug"
    Path(build_id_path(str(root), v.build_id)).parent.mkdir(parents=True)
    shutil.copy(v.debug, build_id_path(str(root), v.build_id))
    monkeypatch.setenv("STAX_DEBUG_DIRS", str(root))
    addresses = instruction_addresses(v.twin, HOT_FUNCTIONS)

    calls = []
    original = DwarfSymbolSource.symbolicate

    def counting(self: DwarfSymbolSource, image, offsets, context):  # noqa: ANN001, ANN202
        calls.append(len(offsets))
        return original(self, image, offsets, context)

    parsed = []
    original_parsed = dwarf_resolver.DwarfResolver._parsed

    def counting_parsed(self, unit_index):  # noqa: ANN001, ANN202
        if unit_index not in self._scopes:
            parsed.append(unit_index)
        return original_parsed(self, unit_index)

    monkeypatch.setattr(DwarfSymbolSource, "symbolicate", counting)
    monkeypatch.setattr(dwarf_resolver.DwarfResolver, "_parsed", counting_parsed)

    reset_process_memos()
    PROCESS_DWARF_MEMO.opens = 0
    PROCESS_LOCATOR.searches = 0
    assert record(tmp_path / "first.stax", v.stripped, v.build_id, addresses) == []
    assert calls and PROCESS_DWARF_MEMO.opens == 1 and parsed and PROCESS_LOCATOR.searches == 1
    first = names_in(tmp_path / "first.stax")
    assert "local_worker" in first and "hot_inline" in first

    reset_process_memos()
    calls.clear()
    parsed.clear()
    PROCESS_DWARF_MEMO.opens = 0
    PROCESS_LOCATOR.searches = 0
    assert record(tmp_path / "second.stax", v.stripped, v.build_id, addresses) == []
    assert calls == [] and parsed == [] and PROCESS_DWARF_MEMO.opens == 0 and PROCESS_LOCATOR.searches == 0
    assert names_in(tmp_path / "second.stax") == first


def names_in(path: Path) -> set[str]:
    recording = Recording.open(path)
    try:
        labels = recording.frame_labels()
    finally:
        recording.close()
    return {label.name for label in labels} | {name for label in labels for name in label.inlined}

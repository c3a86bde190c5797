"""The .stax file: round trip, symbolication through a plugin, and bad files."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

import stax
from stax.contracts import SymbolContext, SymbolInfo
from stax.errors import RecordingFormatError
from stax.events import ImageKind, ImageLoad, LostKind, LostNotice, Sample, ThreadName
from stax.plugin_manager import StaxPlugins
from stax.recording.reader import Recording, SampleFilter
from stax.recording.schema import SCHEMA_VERSION
from stax.recording.writer import RecordingBuilder
from stax.stack_table import Image

KERNEL_IP = 0xFFFFFFFF81001234


class TableSource:
    """A symbol source naming offsets from a fixed table (and counting calls)."""

    name = "table"
    order = 10

    def __init__(self, names: dict[int, str]) -> None:
        self.names = names
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        self.calls.append((image.path, tuple(offsets)))
        return {o: [SymbolInfo(self.names[o], 0)] for o in offsets if o in self.names}


class TablePlugin:
    def __init__(self, source: TableSource) -> None:
        self.source = source

    @stax.hookimpl
    def stax_symbol_sources(self) -> list[TableSource]:
        return [self.source]


def _build(path: Path, plugins: StaxPlugins | None, samples: int = 100) -> RecordingBuilder:
    builder = RecordingBuilder(path, plugins)
    events: list = [
        ImageLoad(0, 42, 0x400000, 0x401000, 0x1000, "/bin/prog", ImageKind.ELF, b"\xaa\xbb"),
        ThreadName(0, 42, 42, "prog", is_exec=True),
        ImageLoad(1, 42, 0x400000, 0x401000, 0x1000, "/bin/prog", ImageKind.ELF, b"\xaa\xbb"),
        ThreadName(1, 42, 43, "worker"),
    ]
    for i in range(samples):
        leaf = 0x400100 if i % 4 else 0x400200  # 75% / 25%
        events.append(Sample(10 + i, 42, 43 if i % 2 else 42, 0, 1_001_001,
                             (KERNEL_IP,) if i == 0 else (), (leaf, 0x400051)))  # caller: return address
    events.append(LostNotice(500, 1, LostKind.LOST_RECORDS, 3))
    builder.consume(events)
    return builder


def test_round_trip(tmp_path: Path) -> None:
    source = TableSource({0x1100: "hot_a", 0x1200: "hot_b", 0x1050: "main"})
    plugins = StaxPlugins()
    plugins.register(TablePlugin(source))
    path = tmp_path / "r.stax"
    builder = _build(path, plugins)
    builder.set_meta({"frequency": 999})
    assert builder.finish() == []
    rec = Recording.open(path)
    assert rec.sample_count() == 100
    assert rec.meta()["frequency"] == 999
    assert rec.lost() == {"lost-records": 3}
    labels = rec.frame_labels()
    names = sorted(label.name for label in labels)
    assert "hot_a" in names and "hot_b" in names and "main" in names
    kernel = [label for label in labels if label.is_kernel]
    assert len(kernel) == 1 and kernel[0].image == "[kernel.kallsyms]"
    parents, frames = rec.stack_arrays()
    totals = {}
    for stack_id, count, weight in rec.stack_totals():
        leaf = labels[frames[stack_id]].name
        totals[leaf] = totals.get(leaf, 0) + count
        assert weight == count * 1_001_001
    assert totals["hot_a"] == 75 and totals["hot_b"] == 24  # sample 0 has a kernel leaf
    threads = {t.tid: t.name for t in rec.threads()}
    assert threads == {42: "prog", 43: "worker"}
    assert sum(c for *_, c, _ in rec.thread_totals(SampleFilter(tids=frozenset({43})))) == 50
    assert sum(c for *_, c, _ in rec.thread_totals(SampleFilter(comms=frozenset({"worker"})))) == 50
    # only unique offsets were asked for, once per image
    prog_calls = [offsets for image, offsets in source.calls if image == "/bin/prog"]
    assert prog_calls == [(0x1050, 0x1100, 0x1200)]


def test_second_recording_hits_the_build_id_cache(tmp_path: Path) -> None:
    source = TableSource({0x1100: "hot_a", 0x1200: "hot_b", 0x1050: "main"})
    plugins = StaxPlugins()
    plugins.register(TablePlugin(source))
    _build(tmp_path / "a.stax", plugins).finish()
    calls_after_first = len([c for c in source.calls if c[0] == "/bin/prog"])
    _build(tmp_path / "b.stax", plugins).finish()
    assert len([c for c in source.calls if c[0] == "/bin/prog"]) == calls_after_first
    names = {label.name for label in Recording.open(tmp_path / "b.stax").frame_labels()}
    assert {"hot_a", "hot_b", "main"} <= names


def test_unresolved_frames_read_image_plus_offset(tmp_path: Path) -> None:
    path = tmp_path / "u.stax"
    _build(path, None).finish(symbolicate=False)
    names = {label.name for label in Recording.open(path).frame_labels()}
    assert "prog+0x1100" in names


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingFormatError, match="does not exist"):
        Recording.open(tmp_path / "nope.stax")


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "g.stax"
    path.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(RecordingFormatError, match="not a readable stax recording"):
        Recording.open(path)


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "t.stax"
    _build(path, None, samples=20000).finish(symbolicate=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordingFormatError, match="corrupt or truncated"):
        rec = Recording.open(path)
        rec.stack_totals()
        rec.frame_labels()


def test_other_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "o.stax"
    sqlite3.connect(path).execute("CREATE TABLE x (y)")
    with pytest.raises(RecordingFormatError, match="not a stax recording"):
        Recording.open(path)


def test_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "n.stax"
    _build(path, None).finish(symbolicate=False)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(RecordingFormatError, match="newer than this stax understands"):
        Recording.open(path)


def test_callers_are_looked_up_at_the_return_address_minus_one(tmp_path: Path) -> None:
    """A call at the very end of a function returns to the next function's first byte."""
    source = TableSource({0x1100: "leaf", 0x11ff: "caller_ending_in_a_call", 0x1200: "next_function"})
    plugins = StaxPlugins()
    plugins.register(TablePlugin(source))
    path = tmp_path / "ret.stax"
    builder = RecordingBuilder(path, plugins)
    builder.consume([
        ImageLoad(0, 7, 0x400000, 0x401000, 0x1000, "/bin/ret", ImageKind.ELF, b"\x01"),
        Sample(1, 7, 7, 0, 1000, (), (0x400100, 0x400200)),   # caller's return address
        Sample(2, 7, 7, 0, 1000, (), (0x400200,)),            # the same address as a leaf
    ])
    builder.finish()
    rec = Recording.open(path)
    labels = rec.frame_labels()
    parents, frames = rec.stack_arrays()
    chains = sorted(
        [labels[frames[s]].name] + ([labels[frames[parents[s]]].name] if parents[s] >= 0 else [])
        for s, _, _ in rec.stack_totals()
    )
    assert chains == [["leaf", "caller_ending_in_a_call"], ["next_function"]]


class TokenSource(TableSource):
    """A table source whose answers depend on a token (like 'is the debug file installed')."""

    def __init__(self, names: dict[int, str]) -> None:
        super().__init__(names)
        self.token = "no-debug-file"

    def cache_token(self, image: Image, context: SymbolContext) -> str:
        return self.token


def test_a_changed_source_token_asks_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAX_CACHE_DIR", str(tmp_path / "cache"))
    source = TokenSource({0x1100: "hot_a", 0x1200: "hot_b", 0x1050: "main"})
    plugins = StaxPlugins()
    plugins.register(TablePlugin(source))
    def prog_calls() -> int:
        return len([c for c in source.calls if c[0] == "/bin/prog"])

    _build(tmp_path / "a.stax", plugins).finish()
    asked = prog_calls()
    _build(tmp_path / "b.stax", plugins).finish()
    assert prog_calls() == asked  # same token: all from the cache
    source.token = "debug-file-installed"
    _build(tmp_path / "c.stax", plugins).finish()
    assert prog_calls() == asked + 1  # better debug info may exist now: named again


def test_misses_expire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stax.symbol_cache as symbol_cache

    monkeypatch.setenv("STAX_CACHE_DIR", str(tmp_path / "cache"))
    source = TableSource({0x1100: "hot_a"})  # 0x1200 and 0x1050 stay unnamed: misses
    plugins = StaxPlugins()
    plugins.register(TablePlugin(source))
    _build(tmp_path / "a.stax", plugins).finish()
    _build(tmp_path / "b.stax", plugins).finish()
    prog_calls = [offsets for image, offsets in source.calls if image == "/bin/prog"]
    assert len(prog_calls) == 1  # the misses were remembered
    monkeypatch.setattr(symbol_cache, "MISS_TTL_S", -1)
    _build(tmp_path / "c.stax", plugins).finish()
    prog_calls = [offsets for image, offsets in source.calls if image == "/bin/prog"]
    assert prog_calls[-1] == (0x1050, 0x1200)  # only the expired misses are asked again

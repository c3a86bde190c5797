"""Mapping pcs to images: from ImageLoad events, /proc maps, and an in-memory [vdso]."""

from __future__ import annotations

from stax.events import ImageLoad
from stax_backend_linux.unwind import ElfUnwindTables, ModuleResolver, UnwindTableCache, unwind
from tests.backend_linux.unwind.snapshots import SnapshotRun, executable_maps


def test_from_image_loads_unwinds_like_proc_maps(qsort_run: SnapshotRun) -> None:
    """What the capture side has (ImageLoad events) gives the same walk as /proc/PID/maps."""
    pid = 4242
    loads = [
        ImageLoad(time=0, pid=pid, start=m.start, end=m.end, file_offset=m.offset, path=m.path)
        for m in executable_maps(qsort_run.maps)
    ]
    loads.append(ImageLoad(0, pid + 1, 0x1000, 0x2000, 0, "/nonexistent/other-process"))
    from_loads = ModuleResolver.from_image_loads(loads, pid=pid, table_cache=UnwindTableCache())
    from_maps = ModuleResolver.from_proc_maps(qsort_run.maps, table_cache=UnwindTableCache())
    assert from_loads.module_for(0x1500) is None
    for snapshot in qsort_run.snapshots[:5]:
        assert unwind(snapshot.regs, snapshot.stack, from_loads) == unwind(
            snapshot.regs, snapshot.stack, from_maps
        )


def test_tables_are_shared_per_file(qsort_run: SnapshotRun) -> None:
    cache = UnwindTableCache()
    first = ModuleResolver.from_proc_maps(qsort_run.maps, table_cache=cache)
    second = ModuleResolver.from_proc_maps(qsort_run.maps, table_cache=cache)
    assert [m.tables for m in first.modules] == [m.tables for m in second.modules]
    assert all(m.tables is not None for m in first.modules if m.path.startswith("/"))


def test_missing_file_is_reported_not_raised() -> None:
    cache = UnwindTableCache()
    resolver = ModuleResolver(cache)
    module = resolver.add_mapping(0x400000, 0x401000, 0, "/nonexistent/binary")
    assert module.tables is None and "/nonexistent/binary" in cache.errors
    assert resolver.row_for(0x400100) is None


def test_vdso_from_memory() -> None:
    """The [vdso] has no file: its image is read from memory and parsed from bytes."""
    with open("/proc/self/maps") as maps:
        line = next(line for line in maps if line.rstrip().endswith("[vdso]"))
    start, end = (int(v, 16) for v in line.split()[0].split("-"))
    with open("/proc/self/mem", "rb") as mem:
        mem.seek(start)
        image = mem.read(end - start)
    tables = ElfUnwindTables.from_bytes(image, "[vdso]")
    assert tables.eh_frame is not None and len(tables.eh_frame) > 0
    resolver = ModuleResolver(UnwindTableCache())
    resolver.add_mapping(start, end, 0, "[vdso]", tables=tables)
    first_function = tables.eh_frame.starts[0]
    module = resolver.module_for(start)
    assert module is not None and module.tables is tables
    row = resolver.row_for(first_function + module.bias)
    assert row is not None and row.start == first_function

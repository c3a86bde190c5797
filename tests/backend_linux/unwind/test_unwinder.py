"""The unwinder on real snapshots, checked against libgcc's unwinder and binutils' names."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from stax_backend_linux.unwind import ElfUnwindTables, ModuleResolver, StopReason, UnwindTableCache, unwind
from tests.backend_linux.unwind.snapshots import Snapshot, SnapshotRun, Symbolizer, run

LIBC_START = ["__libc_start_call_main", "__libc_start_main_impl", "_start"]


def _resolver(snapshot_run: SnapshotRun) -> ModuleResolver:
    return ModuleResolver.from_proc_maps(snapshot_run.maps, table_cache=UnwindTableCache())


def _function_address(binary: object, name: str) -> int:
    for line in run("nm", binary).splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2] == name:
            return int(fields[0], 16)
    raise AssertionError(f"{name} not in {binary}")


def test_three_deep_chain(chain_run: SnapshotRun) -> None:
    [snapshot] = chain_run.snapshots
    result = unwind(snapshot.regs, snapshot.stack, _resolver(chain_run))
    assert Symbolizer(chain_run.maps).chain(result.ips) == [
        "snap", "hot_loop", "driver_chain", "main", *LIBC_START,
    ]  # fmt: skip
    assert (result.truncated, result.reason, result.frame_pointer_frames) == (False, "outermost frame", 0)
    assert result.ips[1:] == list(snapshot.backtrace[1:])


def test_qsort_comparator_through_libc(qsort_run: SnapshotRun) -> None:
    """Every snapshot: comparator -> libc's msort recursion -> qsort_r -> driver -> main, exactly
    the return addresses libgcc's unwinder finds."""
    resolver = _resolver(qsort_run)
    symbolizer = Symbolizer(qsort_run.maps)
    depths = set()
    assert len(qsort_run.snapshots) == 60
    for snapshot in qsort_run.snapshots:
        result = unwind(snapshot.regs, snapshot.stack, resolver)
        assert not result.truncated, result
        assert result.ips[1:] == list(snapshot.backtrace[1:])
        names = symbolizer.chain(result.ips)
        assert names[:2] == ["snap", "compare_ints"]
        libc_part = names[2 : names.index("driver_qsort")]
        assert libc_part[-1] == "qsort_r"
        assert set(libc_part[:-1]) == {"msort_with_tmp.part.0"}
        assert names[names.index("driver_qsort") :] == ["driver_qsort", "main", *LIBC_START]
        depths.add(len(libc_part))
    assert len(depths) > 1, "snapshots should catch the merge sort at different depths"


def test_return_address_past_the_end_of_its_function(noreturn_run: SnapshotRun) -> None:
    """A call to a noreturn function ends ends_in_noreturn: its return address is the first
    byte after the function, so the caller's row must be looked up at ip - 1."""
    [snapshot] = noreturn_run.snapshots
    result = unwind(snapshot.regs, snapshot.stack, _resolver(noreturn_run))
    symbolizer = Symbolizer(noreturn_run.maps)
    assert symbolizer.chain(result.ips) == [
        "snap", "escape", "ends_in_noreturn", "driver_noreturn", "main", *LIBC_START,
    ]  # fmt: skip
    assert symbolizer.name(result.ips[2]) != "ends_in_noreturn"  # really past its end
    assert result.ips[1:] == list(snapshot.backtrace[1:])
    assert not result.truncated and result.frame_pointer_frames == 0


def test_short_stack_copy_gives_a_correct_prefix(qsort_run: SnapshotRun) -> None:
    resolver = _resolver(qsort_run)
    for snapshot in qsort_run.snapshots[:10]:
        full = unwind(snapshot.regs, snapshot.stack, resolver).ips
        previous = 0
        for size in (0, 8, 64, 200, 512, 1024, 2048):
            result = unwind(snapshot.regs, snapshot.stack[:size], resolver)
            assert result.ips == full[: len(result.ips)]
            if len(result.ips) < len(full):
                assert result.truncated and result.reason == StopReason.STACK_EXHAUSTED
            assert len(result.ips) >= previous
            previous = len(result.ips)
        assert 2 <= len(unwind(snapshot.regs, snapshot.stack[:64], resolver).ips) < len(full)


def test_signal_frame(signal_run: SnapshotRun) -> None:
    """Through glibc's __restore_rt ("zRS" CIE) back into the function that faulted."""
    [snapshot] = signal_run.snapshots
    resolver = _resolver(signal_run)
    result = unwind(snapshot.regs, snapshot.stack, resolver)
    assert not result.truncated, result
    assert result.ips[1:] == list(snapshot.backtrace[1:])
    symbolizer = Symbolizer(signal_run.maps)
    # the trampoline's FDE starts one byte early so ip - 1 finds it; the interrupted
    # pc is exact: not a return address
    names = [symbolizer.name(ip) for ip in result.ips[:1]]
    names += [symbolizer.name(result.ips[1] - 1), symbolizer.name(result.ips[2])]
    names += [symbolizer.name(result.ips[3])] + symbolizer.chain(result.ips[4:], first_exact=False)
    assert names == ["snap", "on_segv", "__restore_rt", "faulting_load", "driver_signal", "main", *LIBC_START]
    # the fault is on faulting_load's first instruction; its row was looked up there, not at pc - 1
    faulting_pc = result.ips[3]
    located = symbolizer.locate(faulting_pc)
    assert located is not None
    assert located[1] == _function_address(signal_run.binary, "faulting_load")
    assert faulting_pc in resolver.row_cache and faulting_pc - 1 not in resolver.row_cache


def test_plt_entry(qsort_run: SnapshotRun) -> None:
    """The lazy-binding PLT's CFA expression rsp + 8 + ((rip & 15) >= 11) * 8, on states
    rebuilt from a real snapshot: driver_qsort has just called qsort@plt."""
    snapshot = qsort_run.snapshots[0]
    resolver = _resolver(qsort_run)
    full = unwind(snapshot.regs, snapshot.stack, resolver).ips
    symbolizer = Symbolizer(qsort_run.maps)
    driver_index = symbolizer.chain(full).index("driver_qsort")
    return_address = full[driver_index]
    # the slot where `call qsort@plt` pushed its return address
    slot = next(
        offset
        for offset in range(0, len(snapshot.stack) - 7, 8)
        if int.from_bytes(snapshot.stack[offset : offset + 8], "little") == return_address
    )
    base = snapshot.regs["rsp"]
    plt = _plt_entry(qsort_run, "qsort")
    expected_tail = full[driver_index:]
    # (pc inside the PLT entry, words pushed since the call)
    for offset_in_entry, pushed in ((0, 0), (6, 0), (11, 1)):
        stack = b"\x07" * 8 * pushed + snapshot.stack[slot:]
        regs = {"rip": plt + offset_in_entry, "rsp": base + slot - 8 * pushed}
        result = unwind(regs, stack, resolver)
        assert result.ips == [plt + offset_in_entry, *expected_tail], (offset_in_entry, result)
        assert not result.truncated


def _plt_entry(snapshot_run: SnapshotRun, function: str) -> int:
    """Absolute address of ``function@plt`` in the harness, from objdump."""
    text = run("objdump", "-d", "-j", ".plt", snapshot_run.binary)
    match = re.search(rf"^([0-9a-f]+) <{function}@plt>:", text, re.M)
    assert match, f"{function}@plt not found (is the PLT lazy-binding style?)"
    vaddr = int(match.group(1), 16)
    symbolizer = Symbolizer(snapshot_run.maps)
    for candidate in symbolizer.maps:
        if candidate.path == str(snapshot_run.binary):
            located = symbolizer.locate(candidate.start)
            assert located is not None
            return candidate.start + vaddr - located[1]
    raise AssertionError("harness not mapped")


def test_without_eh_frame_hdr(no_hdr_run: SnapshotRun) -> None:
    """libgcc itself cannot walk this binary (it needs PT_GNU_EH_FRAME); a linear scan of
    .eh_frame can."""
    resolver = _resolver(no_hdr_run)
    module = next(m for m in resolver.modules if m.path == str(no_hdr_run.binary))
    assert module.tables is not None and module.tables.eh_frame_source == "scan"
    symbolizer = Symbolizer(no_hdr_run.maps)
    for snapshot in no_hdr_run.snapshots:
        result = unwind(snapshot.regs, snapshot.stack, resolver)
        names = symbolizer.chain(result.ips)
        assert names[:3] == ["snap", "compare_ints", "msort_with_tmp.part.0"]
        assert names[-6:] == ["qsort_r", "driver_qsort", "main", *LIBC_START]
        assert not result.truncated and result.frame_pointer_frames == 0


def test_debug_frame_from_separate_debug_file(debug_frame_run: SnapshotRun) -> None:
    resolver = _resolver(debug_frame_run)
    module = next(m for m in resolver.modules if m.path == str(debug_frame_run.binary))
    assert module.tables is not None
    symbolizer = Symbolizer(debug_frame_run.maps)
    for snapshot in debug_frame_run.snapshots:
        result = unwind(snapshot.regs, snapshot.stack, resolver)
        names = symbolizer.chain(result.ips)
        assert names[:2] == ["snap", "compare_ints"]
        assert names[-5:] == ["driver_qsort", "main", *LIBC_START]
        assert not result.truncated and result.frame_pointer_frames == 0
    assert module.tables.debug_frame is not None


def test_separate_debug_file_with_a_wrong_crc_is_not_used(
    debug_frame_run: SnapshotRun, tmp_path: Path
) -> None:
    """The debug link's CRC32 vouches for the file found by name (as stax-symbols checks it): a
    debug file of the same build rewritten since (here one byte appended) is not used."""
    binary = tmp_path / "harness"
    shutil.copy(debug_frame_run.binary, binary)
    debug = debug_frame_run.binary.with_name("harness.debug")
    shutil.copy(debug, tmp_path / "harness.debug")
    assert ElfUnwindTables.from_path(str(binary), debug_dirs=[str(tmp_path / "none")]).debug_frame is not None
    with open(tmp_path / "harness.debug", "ab") as stale:
        stale.write(b"\0")
    assert ElfUnwindTables.from_path(str(binary), debug_dirs=[str(tmp_path / "none")]).debug_frame is None


def test_frame_pointer_fallback(frame_pointer_run: SnapshotRun) -> None:
    """No CFI for our code at all: the rbp chain carries the walk, and says so."""
    resolver = _resolver(frame_pointer_run)
    symbolizer = Symbolizer(frame_pointer_run.maps)
    for snapshot in frame_pointer_run.snapshots:
        result = unwind(snapshot.regs, snapshot.stack, resolver)
        names = symbolizer.chain(result.ips)
        assert names[:2] == ["snap", "compare_ints"]
        assert names[-5:] == ["driver_qsort", "main", *LIBC_START]
        assert "qsort_r" in names
        assert result.frame_pointer_frames == 3  # compare_ints, driver_qsort, main
        assert not result.truncated


def test_unmapped_pc_without_frame_pointer_stops() -> None:
    resolver = ModuleResolver(UnwindTableCache())
    result = unwind({"rip": 0x1234, "rsp": 0x7000, "rbp": 0x10}, bytes(64), resolver)
    assert result.ips == [0x1234]
    assert result.truncated and result.reason == StopReason.NO_UNWIND_INFO


def test_speed(qsort_run: SnapshotRun) -> None:
    """Warm unwinds of the qsort set; perf's own DWARF post-processing manages ~2.9k/s here."""
    resolver = _resolver(qsort_run)
    snapshots: list[Snapshot] = qsort_run.snapshots
    for snapshot in snapshots:
        unwind(snapshot.regs, snapshot.stack, resolver)
    rounds = 20
    start = time.perf_counter()
    for _ in range(rounds):
        for snapshot in snapshots:
            unwind(snapshot.regs, snapshot.stack, resolver)
    rate = rounds * len(snapshots) / (time.perf_counter() - start)
    print(f"unwind: {rate:.0f} samples/s on the qsort snapshots")
    assert rate > 5_000

"""The macOS backend's capability rows, for this Linux host and for the Mac cases (facts injected),
and the Mac-only bindings: importable here, one sentence when called."""

from __future__ import annotations

from pathlib import Path

import pytest

from stax.capabilities import Capability, CapabilityStatus
from stax.errors import CaptureError
from stax_backend_macos import darwin_ffi, kdebug_control
from stax_backend_macos.host_capabilities import SETUP_FIX, capability_rows
from stax_backend_macos.plugin import MacosBackend


def by_capability(rows) -> dict:  # noqa: ANN001
    return {r.capability: r for r in rows}


def test_on_linux_every_row_is_unavailable_not_macos() -> None:
    rows = MacosBackend().capabilities()
    assert {r.capability for r in rows} == set(Capability) - {Capability.DWARF_UNWINDING}
    assert {(r.status, r.reason) for r in rows} == {(CapabilityStatus.UNAVAILABLE, "not macOS")}


def test_on_a_mac_root_records_itself_others_through_staxd_or_not_at_all(tmp_path: Path) -> None:
    socket_path, kpep = tmp_path / "staxd.sock", tmp_path / "kpep"
    kpep.mkdir()
    rows = by_capability(capability_rows("darwin", is_root=True, staxd_socket=socket_path, kpep_dir=kpep))
    assert rows[Capability.ON_CPU_SAMPLING].status is CapabilityStatus.AVAILABLE
    assert rows[Capability.DWARF_UNWINDING].status is CapabilityStatus.UNAVAILABLE
    rows = by_capability(capability_rows("darwin", is_root=False, staxd_socket=socket_path, kpep_dir=kpep))
    off = rows[Capability.OFF_CPU_INTERVALS]
    assert (off.status, off.fix) == (CapabilityStatus.UNAVAILABLE, SETUP_FIX)
    assert off.reason == f"kperf and kdebug need root, and staxd is not installed ({socket_path} is missing)"
    socket_path.touch()
    rows = by_capability(capability_rows("darwin", is_root=False, staxd_socket=socket_path, kpep_dir=kpep))
    assert rows[Capability.WAKEUP_ATTRIBUTION].status is CapabilityStatus.VIA_STAXD
    kpep.rmdir()
    rows = by_capability(capability_rows("darwin", is_root=True, staxd_socket=socket_path, kpep_dir=kpep))
    pmu = rows[Capability.PMU_COUNTERS]
    assert pmu.status is CapabilityStatus.UNAVAILABLE
    assert pmu.reason == f"no PMU event database ({kpep} is missing)"


@pytest.mark.parametrize("call", [darwin_ffi.libsystem, darwin_ffi.kperf, darwin_ffi.kperfdata,
                                  kdebug_control.reset])
def test_the_mac_bindings_refuse_off_macos_in_one_sentence(call) -> None:  # noqa: ANN001
    with pytest.raises(CaptureError, match=r"exists only on macOS; this host is linux\.$"):
        call()


def test_the_typefilter_sets_one_bit_per_class_and_subclass() -> None:
    bitmap = kdebug_control.typefilter([(1, 0x40), (37, -1)])
    assert len(bitmap) == 8192
    set_bits = {i * 8 + b for i, byte in enumerate(bitmap) for b in range(8) if byte >> b & 1}
    assert set_bits == {0x0140} | {(37 << 8) | sub for sub in range(256)}
    assert kdebug_control.trace_classes(off_cpu=False) == [(37, -1), (7, -1), (31, 5)]

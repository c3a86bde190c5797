"""Recordings of samples placed on known addresses of a real binary, of any architecture.

The binary is mapped as its PT_LOAD headers say (with its build id), samples and
blocked spans carry the addresses given, and the real :class:`RecordingBuilder` with
the installed plugins symbolicates and keeps code exactly as at the end of ``stax record``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from stax.blocked_reason import BlockedReason
from stax.events import Event, ImageKind, ImageLoad, OffCpuInterval, Sample, ThreadName
from stax.plugin_manager import StaxPlugins, get_plugins
from stax.recording.writer import RecordingBuilder
from stax_symbols.elf_file import read_elf

PID = 4242
PERIOD_NS = 1_000_000


def image_loads(binary: Path, pid: int = PID) -> list[ImageLoad]:
    """One ImageLoad per executable PT_LOAD, at its link address (a non-PIE executable)."""
    with open(binary, "rb") as stream:
        elf = read_elf(stream, str(binary))
    return [ImageLoad(0, pid, seg.vaddr, seg.vaddr + seg.file_size, seg.file_offset, str(binary),
                      ImageKind.ELF, elf.build_id)
            for seg in elf.segments.segments if seg.executable]


def write_elf_recording(
    path: Path,
    binary: Path,
    samples: Mapping[tuple[int, ...], int],
    blocked: Sequence[tuple[tuple[int, ...], int]] = (),
    plugins: StaxPlugins | None = None,
) -> Path:
    """``samples``: user stack (leaf address first, then return addresses) -> sample count;
    ``blocked``: (user stack, blocked ns) per span, the leaf being where it left user code."""
    builder = RecordingBuilder(path, plugins=plugins or get_plugins())
    events: list[Event] = [*image_loads(binary), ThreadName(0, PID, PID, binary.name)]
    time = 1_000
    for stack, count in samples.items():
        for _ in range(count):
            events.append(Sample(time, PID, PID, 0, PERIOD_NS, (), tuple(stack)))
            time += PERIOD_NS
    for stack, ns in blocked:
        events.append(OffCpuInterval(time, time + ns, PID, PID, 0, BlockedReason.SLEEP, "", (),
                                     tuple(stack)))
        time += ns + 1_000
    builder.consume(events)
    builder.finish(symbolicate=True, symbol_options={"debuginfod": False})
    return path

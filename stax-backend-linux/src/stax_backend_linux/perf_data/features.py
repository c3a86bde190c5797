"""The feature sections of a perf.data file: build ids, the machine, the command, event names.

After the data section comes one ``perf_file_section`` per feature bit set in the
header, in bit order (perf.data-file-format.txt, "Feature sections").  A string is
``u32 len; char s[len]`` (NUL-padded); a string list ``u32 nr`` strings.  The ones
read here:

* HEADER_BUILD_ID (2): ``perf_record_header_build_id`` records: header, ``pid``, 24
  bytes of build id (its length at byte 20 when PERF_RECORD_MISC_BUILD_ID_SIZE is set,
  else 20), the file name;
* HOSTNAME (3), OSRELEASE (4), VERSION (5), ARCH (6), CPUDESC (8): strings;
  NRCPUS (7): u32 available, u32 online; CMDLINE (11): a string list;
* EVENT_DESC (12): ``u32 nr, attr_size``, then per event its attr, ``u32 nr_ids``,
  its name, its ids;
* TRACING_DATA (1): the tracepoint formats (:mod:`.tracing_data`).

A feature stax does not read is skipped; one that does not parse is noted, never fatal.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import attrs

from stax_backend_linux.perf_data.header import SECTION, PerfFileHeader
from stax_backend_linux.perf_data.tracing_data import Tracepoint, parse_tracing_data
from stax_binfmt.tracefs import TraceField

HEADER_TRACING_DATA = 1
HEADER_BUILD_ID = 2
HEADER_HOSTNAME = 3
HEADER_OSRELEASE = 4
HEADER_VERSION = 5
HEADER_ARCH = 6
HEADER_NRCPUS = 7
HEADER_CPUDESC = 8
HEADER_CMDLINE = 11
HEADER_EVENT_DESC = 12

PERF_RECORD_MISC_BUILD_ID_SIZE = 1 << 15
BUILD_ID_RECORD = struct.Struct("<IHHi20sB3x")  # header, pid, build_id[20], size, reserved
U32 = struct.Struct("<I")
U32_PAIR = struct.Struct("<II")
STRINGS = {
    HEADER_HOSTNAME: "hostname",
    HEADER_OSRELEASE: "os_release",
    HEADER_VERSION: "perf_version",
    HEADER_ARCH: "arch",
    HEADER_CPUDESC: "cpu_desc",
}


@attrs.define
class PerfFeatures:
    """What the feature sections said (empty where a feature is missing)."""

    machine: dict[str, str | int] = attrs.field(factory=dict)
    """hostname, os_release, perf_version, arch, cpu_desc, nr_cpus_online, nr_cpus_available."""
    cmdline: list[str] = attrs.field(factory=list)
    build_ids: dict[str, bytes] = attrs.field(factory=dict)
    """File name -> build id (the kernel's and modules' too)."""
    event_names: dict[int, str] = attrs.field(factory=dict)
    """Event id -> perf's event name (``cpu-clock:ppp``, ``sched:sched_switch``)."""
    tracepoints: dict[int, Tracepoint] = attrs.field(factory=dict)
    """Tracepoint id (an attr's config) -> its name and field offsets."""
    notes: list[str] = attrs.field(factory=list)

    def tracepoint_fields(self, config: int) -> dict[str, TraceField] | None:
        tracepoint = self.tracepoints.get(config)
        return tracepoint.fields if tracepoint is not None else None


def read_features(f: BinaryIO, path: Path, header: PerfFileHeader, file_size: int) -> PerfFeatures:
    """Read the feature sections ``header`` announces (those stax uses)."""
    found = PerfFeatures()
    if not header.features:
        return found
    f.seek(header.data.end)
    table = f.read(SECTION.size * len(header.features))
    if len(table) < SECTION.size * len(header.features):
        found.notes.append(
            f"{path.name} ends before its feature sections (build ids, host, command line), "
            f"so those are missing"
        )
        return found
    for index, feature in enumerate(header.features):
        offset, size = SECTION.unpack_from(table, index * SECTION.size)
        if feature not in _READERS and feature not in STRINGS:
            continue
        if offset + size > file_size:
            found.notes.append(f"feature section {feature} of {path.name} lies past its end and was skipped")
            continue
        f.seek(offset)
        read_feature(feature, f.read(size), found, path)
    return found


def read_feature(feature: int, raw: bytes, found: PerfFeatures, path: Path) -> None:
    """Add one feature's contents (a section of a file, or a pipe's HEADER_FEATURE record) to ``found``."""
    try:
        if feature in STRINGS:
            found.machine[STRINGS[feature]] = _string(raw, 0)[0]
        elif feature in _READERS:
            _READERS[feature](raw, found)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError):
        found.notes.append(f"feature section {feature} of {path.name} is damaged and was skipped")


def read_build_id_record(raw: bytes, found: PerfFeatures) -> None:
    """One HEADER_BUILD_ID record of a pipe (the same record the BUILD_ID feature lists)."""
    _build_ids(raw, found)


def _string(raw: bytes, at: int) -> tuple[str, int]:
    """A perf header string at ``at``: (text, offset after it)."""
    (length,) = U32.unpack_from(raw, at)
    at += 4
    if at + length > len(raw):
        raise ValueError("string past the section")
    text = raw[at : at + length].split(b"\0", 1)[0].decode("utf-8", "replace")
    return text, at + length


def _strings(raw: bytes, at: int) -> tuple[list[str], int]:
    (count,) = U32.unpack_from(raw, at)
    at += 4
    out = []
    for _ in range(count):
        text, at = _string(raw, at)
        out.append(text)
    return out, at


def _nrcpus(raw: bytes, found: PerfFeatures) -> None:
    available, online = U32_PAIR.unpack_from(raw, 0)
    found.machine["nr_cpus_available"] = available
    found.machine["nr_cpus_online"] = online


def _cmdline(raw: bytes, found: PerfFeatures) -> None:
    found.cmdline = _strings(raw, 0)[0]


def _build_ids(raw: bytes, found: PerfFeatures) -> None:
    at = 0
    while at + BUILD_ID_RECORD.size <= len(raw):
        _type, misc, size, _pid, build_id, id_size = BUILD_ID_RECORD.unpack_from(raw, at)
        if size < BUILD_ID_RECORD.size or at + size > len(raw):
            raise ValueError("build id record past the section")
        name = (
            raw[at + BUILD_ID_RECORD.size : at + size].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        )
        length = min(id_size, 20) if misc & PERF_RECORD_MISC_BUILD_ID_SIZE else 20
        if name and any(build_id[:length]):
            found.build_ids[name] = build_id[:length]
        at += size


def _event_desc(raw: bytes, found: PerfFeatures) -> None:
    count, attr_size = U32_PAIR.unpack_from(raw, 0)
    at = 8
    for _ in range(count):
        at += attr_size
        (nr_ids,) = U32.unpack_from(raw, at)
        name, at = _string(raw, at + 4)
        ids = struct.unpack_from(f"<{nr_ids}Q", raw, at)
        at += 8 * nr_ids
        for event_id in ids:
            found.event_names[event_id] = name


def _tracing_data(raw: bytes, found: PerfFeatures) -> None:
    found.tracepoints = parse_tracing_data(raw)


_READERS = {
    HEADER_NRCPUS: _nrcpus,
    HEADER_CMDLINE: _cmdline,
    HEADER_BUILD_ID: _build_ids,
    HEADER_EVENT_DESC: _event_desc,
    HEADER_TRACING_DATA: _tracing_data,
}

"""The perf.data file header and its attrs section.

perf's ``tools/perf/Documentation/perf.data-file-format.txt``: the file starts with
``struct perf_file_header`` (104 bytes)::

    u64 magic;                       "PERFILE2", little-endian as written by an LE host
    u64 size;                        sizeof(struct perf_file_header)
    u64 attr_size;                   size of one entry of the attrs section
    struct perf_file_section attrs;  {u64 offset, size}
    struct perf_file_section data;   the records
    struct perf_file_section event_types;   unused
    u64 adds_features[4];            bitmap of the feature sections after the data

Each attrs entry is a ``struct perf_event_attr`` (``attr_size - 16`` bytes, whatever
that perf's attr size was) then a perf_file_section pointing at the u64 ids of the
event's instances, which is how records are matched to their event.  A pipe
(``perf record -o -``) writes only magic and size (16) and streams the attrs and
features as records (:mod:`.pipe_stream`); a big-endian host writes the magic
byte-reversed.
"""

from __future__ import annotations

import struct
from functools import cache
from pathlib import Path
from typing import BinaryIO

import attrs

from stax.errors import StaxError
from stax_binfmt import perf_event_ffi
from stax_binfmt.perf_event_attr import FLAG_BITS

MAGIC = b"PERFILE2"
MAGIC_BIG_ENDIAN = MAGIC[::-1]
MAGIC_V1 = b"PERFFILE"
PIPE_HEADER_SIZE = 16
FILE_HEADER = struct.Struct("<8sQQ QQ QQ QQ 4Q")
SECTION = struct.Struct("<QQ")
ATTR_FIXED = struct.Struct("<IIQQQQQ")  # type, size, config, sample_period, sample_type, read_format, flags
ATTR_CLOCKID = struct.Struct("<i")
ATTR_USER_DUMP = struct.Struct("<QI")  # sample_regs_user, sample_stack_user (PERF_ATTR_SIZE_VER3)
FEATURE_BITS = 256


class PerfDataError(StaxError):
    """A perf.data file stax cannot import; ``str()`` is one sentence with the fix."""


@attrs.frozen(slots=True)
class Section:
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


@attrs.frozen(slots=True)
class PerfAttr:
    """One event of the recording: the fields of its perf_event_attr stax reads, and its ids."""

    type: int
    config: int
    sample_period: int
    sample_type: int
    read_format: int
    flags: int
    clockid: int | None
    ids: tuple[int, ...]
    sample_regs_user: int = 0
    """The user registers each sample copies (PERF_SAMPLE_REGS_USER; ``--call-graph dwarf``)."""
    sample_stack_user: int = 0
    """Bytes of user stack each sample copies (PERF_SAMPLE_STACK_USER)."""

    def flag(self, name: str) -> bool:
        return bool(self.flags >> FLAG_BITS[name] & 1)

    @property
    def sample_id_all(self) -> bool:
        return self.flag("sample_id_all")


@attrs.frozen(slots=True)
class PerfFileHeader:
    attr_size: int
    attrs_section: Section
    data: Section
    features: tuple[int, ...]
    """The feature bits set, in order: their sections follow the data in this order."""
    pipe: bool = False
    """Written to a pipe: no attrs section, no feature sections; the data runs to the end."""


def describe_magic(head: bytes) -> str | None:
    """What kind of perf.data ``head`` starts, or None when it is not one."""
    magic = head[:8]
    if magic == MAGIC:
        return (
            "pipe" if len(head) >= 16 and struct.unpack_from("<Q", head, 8)[0] == PIPE_HEADER_SIZE else "file"
        )
    if magic == MAGIC_BIG_ENDIAN:
        return "big-endian"
    if magic == MAGIC_V1:
        return "v1"
    return None


def read_header(f: BinaryIO, path: Path, file_size: int) -> PerfFileHeader:
    """The header of ``path``; one sentence for every kind of perf.data stax cannot read."""
    head = f.read(FILE_HEADER.size)
    kind = describe_magic(head)
    if kind is None:
        raise PerfDataError(
            f"{path} is not a perf.data file (its first bytes are not PERFILE2); "
            f"give a file written by 'perf record'."
        )
    if kind == "big-endian":
        raise PerfDataError(
            f"{path} was recorded on a big-endian machine, which stax does not import; "
            f"convert it there with 'perf script' or import a little-endian recording."
        )
    if kind == "v1":
        raise PerfDataError(
            f"{path} is a version 1 perf.data (from perf before 2.6.37), which stax does "
            f"not import; record it again with a current perf."
        )
    if kind == "pipe":  # attrs and features arrive as records (pipe_stream.py)
        return PerfFileHeader(
            0, Section(0, 0), Section(PIPE_HEADER_SIZE, max(0, file_size - PIPE_HEADER_SIZE)), (), pipe=True
        )
    if len(head) < FILE_HEADER.size:
        raise PerfDataError(
            f"{path} is truncated: it ends inside the perf.data header ({len(head)} of "
            f"{FILE_HEADER.size} bytes); copy the file again."
        )
    (_magic, size, attr_size, attrs_off, attrs_size, data_off, data_size, _et_off, _et_size, *bitmap) = (
        FILE_HEADER.unpack(head)
    )
    if size != FILE_HEADER.size or attr_size < ATTR_FIXED.size + SECTION.size:
        raise PerfDataError(
            f"{path} has a damaged or unknown perf.data header (it gives a header size of "
            f"{size} bytes, not {FILE_HEADER.size}); record it again with a current perf."
        )
    features = tuple(bit for bit in range(FEATURE_BITS) if bitmap[bit // 64] >> (bit % 64) & 1)
    header = PerfFileHeader(attr_size, Section(attrs_off, attrs_size), Section(data_off, data_size), features)
    for name, section in (("attributes", header.attrs_section), ("data", header.data)):
        if section.end > file_size:
            raise PerfDataError(
                f"{path} is truncated: its {name} section runs to byte {section.end:,} but the "
                f"file has {file_size:,} bytes; copy it again, or record it again."
            )
    return header


def read_attrs(f: BinaryIO, path: Path, header: PerfFileHeader, file_size: int) -> list[PerfAttr]:
    """Every event's attr and ids, in file order."""
    section = header.attrs_section
    if section.size % header.attr_size or not section.size:
        raise PerfDataError(
            f"{path} has a damaged attributes section ({section.size} bytes, not a multiple "
            f"of {header.attr_size}); record it again."
        )
    f.seek(section.offset)
    raw = f.read(section.size)
    out = []
    attr_bytes = header.attr_size - SECTION.size
    for at in range(0, len(raw), header.attr_size):
        ids_off, ids_size = SECTION.unpack_from(raw, at + attr_bytes)
        if ids_off + ids_size > file_size or ids_size % 8:
            raise PerfDataError(
                f"{path} is truncated or damaged: the ids of event {len(out) + 1} lie outside "
                f"the file; record it again."
            )
        f.seek(ids_off)
        ids = struct.unpack(f"<{ids_size // 8}Q", f.read(ids_size))
        out.append(parse_attr(raw, at, attr_bytes, ids))
    return out


@cache
def _attr_offset(field: str) -> int:
    """Where ``field`` sits in perf_event_attr, from perf_event.h as stax_binfmt declares it."""
    return perf_event_ffi.ffi().offsetof("struct perf_event_attr", field)


def parse_attr(raw: bytes | memoryview, at: int, attr_bytes: int, ids: tuple[int, ...]) -> PerfAttr:
    """The attr of ``attr_bytes`` bytes at ``at`` (a file's attrs section or a pipe's HEADER_ATTR)."""
    type_, _size, config, period, sample_type, read_format, flags = ATTR_FIXED.unpack_from(raw, at)
    clockid_at, dump_at = _attr_offset("clockid"), _attr_offset("sample_regs_user")
    clockid = None
    if attr_bytes >= clockid_at + ATTR_CLOCKID.size and flags >> FLAG_BITS["use_clockid"] & 1:
        (clockid,) = ATTR_CLOCKID.unpack_from(raw, at + clockid_at)
    regs_user = stack_user = 0
    if attr_bytes >= dump_at + ATTR_USER_DUMP.size:
        regs_user, stack_user = ATTR_USER_DUMP.unpack_from(raw, at + dump_at)
    return PerfAttr(
        type_, config, period, sample_type, read_format, flags, clockid, ids, regs_user, stack_user
    )

"""Read jitdump files (``jit-PID.dump``), per the Linux perf jitdump specification.

The format (tools/perf/Documentation/jitdump-specification.txt in the kernel tree):

* **File header** (§III): ``u32 magic`` (0x4A695444, "JiTD"; reading 0x4454694A means the
  file has the other byte order), ``u32 version`` (1), ``u32 total_size`` (of the header),
  ``u32 elf_mach`` (ELF ``e_machine``), ``u32 pad1``, ``u32 pid``, ``u64 timestamp``,
  ``u64 flags`` (bit 0: JITDUMP_FLAGS_ARCH_TIMESTAMP).
* **Record header** (§IV): ``u32 id``, ``u32 total_size`` (including this header),
  ``u64 timestamp``; the payload follows without padding.
* ``JIT_CODE_LOAD`` = 0 (§V): ``u32 pid, u32 tid, u64 vma, u64 code_addr, u64 code_size,
  u64 code_index``, the NUL-terminated function name, then ``code_size`` code bytes.
* ``JIT_CODE_MOVE`` = 1 (§VI): ``u32 pid, u32 tid, u64 vma, u64 old_code_addr,
  u64 new_code_addr, u64 code_size, u64 code_index``.
* ``JIT_CODE_DEBUG_INFO`` = 2 (§VII): ``u64 code_addr, u64 nr_entry``, then entries of
  ``u64 code_addr, u32 line, u32 discrim`` and a NUL-terminated file name.  It comes
  *before* the JIT_CODE_LOAD it describes.
* ``JIT_CODE_CLOSE`` = 3 (§VIII): no payload; the end of the runtime.
* ``JIT_CODE_UNWINDING_INFO`` = 4 (§IX): eh_frame data, skipped here.

Reading never raises on bad data: a damaged file yields the records before the damage and
one sentence saying what is wrong (see :attr:`Jitdump.problems`).  The file may sit in
``/tmp`` and stax may run as root, so :func:`load_jitdump` reads only a regular file (no
link, no FIFO) owned by an expected uid and at most :data:`MAX_JITDUMP_BYTES`; a code range
that ends past 2^64 or spans more than 1 GiB is damage, and control characters in function
names are written as ``\\xHH`` (:func:`stax.text_safety.printable`).

Two quirks of V8 (node), the most common writer, are handled here because they change
how bytes are laid out or meant:

* V8 writes ``pad1`` = 0xDEADBEEF and adds the ELF header size (0x40 on 64-bit targets) to
  every debug-entry address, so that ``perf inject`` (which places the code after an ELF
  header) lines up; :attr:`JitdumpHeader.debug_address_bias` undoes it.
* node 20's V8 writes a script name that is not a flat one-byte string from freed memory:
  the right *length* of garbage, which may contain NULs, so walking entries by ``strlen``
  (§VII) goes astray.  When the spec walk does not end where the record ends, the entries
  are re-read with the one stride that fits the record size, and damaged names become
  ``None`` (:func:`read_jitdump`).
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Collection
from pathlib import Path

import attrs

from stax.text_safety import printable
from stax.trusted_files import UntrustedFile, open_owned_file
from stax_symbols.perf_map_ranges import ADDRESS_LIMIT, MAX_CODE_SIZE

JITDUMP_MAGIC = 0x4A695444
""""JiTD" as a u32 in the writer's byte order (§III)."""

JIT_CODE_LOAD = 0
JIT_CODE_MOVE = 1
JIT_CODE_DEBUG_INFO = 2
JIT_CODE_CLOSE = 3
JIT_CODE_UNWINDING_INFO = 4

FILE_HEADER_SIZE = 40
RECORD_HEADER_SIZE = 16
MAX_JITDUMP_BYTES = 1 << 30
"""A jitdump larger than 1 GiB is skipped (it is mapped, not read, so memory stays small)."""
MAX_DEBUG_SPAN = 1 << 24
"""Debug entries lie within this distance above their function's code_addr."""

Buffer = bytes | mmap.mmap
"""What the reader decodes: the file's bytes, or a read-only map of it."""

V8_PAD1_MARKER = 0xDEADBEEF
_ELF_HEADER_SIZE_32 = 0x34
_ELF_HEADER_SIZE_64 = 0x40
# e_machine values of 32-bit targets (elf.h): EM_386, EM_ARM, EM_MIPS, EM_PPC.
_ELF_32_BIT_MACHINES = frozenset({3, 40, 8, 20})


@attrs.frozen(slots=True)
class JitdumpHeader:
    """The file header (§III); ``little_endian`` is what the magic said."""

    little_endian: bool
    version: int
    total_size: int
    elf_mach: int
    pad1: int
    pid: int
    timestamp: int
    flags: int

    @property
    def debug_address_bias(self) -> int:
        """What to subtract from debug-entry addresses to get code addresses (V8: ELF header size)."""
        if self.pad1 != V8_PAD1_MARKER:
            return 0
        return _ELF_HEADER_SIZE_32 if self.elf_mach in _ELF_32_BIT_MACHINES else _ELF_HEADER_SIZE_64


@attrs.frozen(slots=True)
class JitDebugEntry:
    """One source position of JIT_CODE_DEBUG_INFO (§VII); ``file`` is None if its name was damaged."""

    address: int
    line: int
    discrim: int
    file: str | None


@attrs.frozen(slots=True)
class JitCodeLoad:
    """JIT_CODE_LOAD (§V), with the debug entries of the JIT_CODE_DEBUG_INFO before it.

    ``code_file_offset`` is where the ``code_size`` code bytes sit in the file.
    """

    timestamp: int
    pid: int
    tid: int
    vma: int
    code_addr: int
    code_size: int
    code_index: int
    name: str
    code_file_offset: int
    debug: tuple[JitDebugEntry, ...] = ()


@attrs.frozen(slots=True)
class JitCodeMove:
    """JIT_CODE_MOVE (§VI): the code of load ``code_index`` now lives at ``new_code_addr``."""

    timestamp: int
    pid: int
    tid: int
    vma: int
    old_code_addr: int
    new_code_addr: int
    code_size: int
    code_index: int


@attrs.frozen(slots=True)
class Jitdump:
    """What one file said: code loads and moves in file order, and what was wrong with it."""

    path: str
    header: JitdumpHeader | None
    code: tuple[JitCodeLoad | JitCodeMove, ...] = ()
    records: int = 0
    """Records read, of every type."""
    closed: bool = False
    """A JIT_CODE_CLOSE record was seen."""
    problems: tuple[str, ...] = ()
    """One sentence per kind of damage; empty for a sound file."""


def load_jitdump(
    path: str | Path, owners: Collection[int] | None = None, max_bytes: int = MAX_JITDUMP_BYTES
) -> Jitdump:
    """Read the jitdump at ``path``; a file that cannot be read gives a Jitdump with a problem.

    ``owners``: the uids the file may belong to (default: root and the user running stax).
    """
    if owners is None:
        owners = frozenset({0, os.geteuid()})
    try:
        with open_owned_file(path, owners, max_bytes) as f:
            size = os.fstat(f.fileno()).st_size
            if size < FILE_HEADER_SIZE:
                return read_jitdump(f.read(), str(path))
            # mapped rather than read: a long-running runtime's dump can be hundreds of MB,
            # and only names and offsets are kept from it
            with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as data:
                return read_jitdump(data, str(path))
    except UntrustedFile as exc:
        return Jitdump(str(path), None, problems=(
            f"JIT frames stay unnamed because stax skipped {path}: it {exc.reason}; only a"
            " regular file of the process's own user (or root) is read.",))
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        return Jitdump(str(path), None, problems=(
            f"JIT frames stay unnamed because {path} cannot be read ({reason}).",))


def read_jitdump(data: Buffer, path: str = "<jitdump>") -> Jitdump:
    """Decode a whole jitdump held in memory (bytes or a read-only map); never raises on bad data."""
    header, problem = _read_header(data, path)
    if header is None:
        return Jitdump(path, None, problems=(problem,) if problem else ())
    order = "<" if header.little_endian else ">"
    record_header = struct.Struct(order + "IIQ")
    load_fixed = struct.Struct(order + "IIQQQQ")
    move_fixed = struct.Struct(order + "IIQQQQQ")
    debug_fixed = struct.Struct(order + "QQ")
    entry_fixed = struct.Struct(order + "QII")
    bias = header.debug_address_bias

    code: list[JitCodeLoad | JitCodeMove] = []
    problems: list[str] = []
    damaged_records = 0
    damaged_debug = 0
    pending_debug: tuple[int, tuple[JitDebugEntry, ...]] | None = None
    records = 0
    closed = False
    size = len(data)
    off = header.total_size
    while off < size:
        if off + RECORD_HEADER_SIZE > size:
            problems.append(_truncated(path, off, code))
            break
        rid, total, when = record_header.unpack_from(data, off)
        if total < RECORD_HEADER_SIZE:
            problems.append(
                f"{path} is damaged at byte {off} (a record claims {total} bytes), so only the"
                f" {_loads(code)} code loads before it are used."
            )
            break
        end = off + total
        if end > size:
            problems.append(_truncated(path, off, code))
            break
        records += 1
        body = off + RECORD_HEADER_SIZE
        if rid == JIT_CODE_LOAD:
            load = _code_load(data, body, end, when, load_fixed, pending_debug)
            if load is None:
                damaged_records += 1
            else:
                code.append(load)
            pending_debug = None  # debug info describes the *next* load only (§VII)
        elif rid == JIT_CODE_MOVE:
            if end - body < move_fixed.size:
                damaged_records += 1
            else:
                pid, tid, vma, old, new, csize, index = move_fixed.unpack_from(data, body)
                if csize > MAX_CODE_SIZE or new + csize > ADDRESS_LIMIT:
                    damaged_records += 1
                else:
                    code.append(JitCodeMove(when, pid, tid, vma, old, new, csize, index))
        elif rid == JIT_CODE_DEBUG_INFO:
            debug = _debug_info(data, body, end, debug_fixed, entry_fixed, bias)
            if debug is None:
                damaged_debug += 1
                pending_debug = None
            else:
                pending_debug = debug
        elif rid == JIT_CODE_CLOSE:
            closed = True
            break
        # JIT_CODE_UNWINDING_INFO and ids newer than this reader: skipped by total_size.
        off = end
    if damaged_records:
        problems.append(
            f"{path} has {damaged_records} damaged code records (sizes or names that do not fit);"
            " their functions stay unnamed."
        )
    if damaged_debug:
        problems.append(
            f"{path} has {damaged_debug} debug-info records that cannot be read;"
            " their functions are named without source lines."
        )
    return Jitdump(path, header, tuple(code), records, closed, tuple(problems))


def _read_header(data: Buffer, path: str) -> tuple[JitdumpHeader | None, str | None]:
    """Parse §III; return (header, None) or (None, the sentence saying why not)."""
    if len(data) < FILE_HEADER_SIZE:
        if not data:
            return None, f"{path} is empty (the runtime wrote no JIT records), so JIT frames stay unnamed."
        return None, f"{path} is too short to be a jitdump ({len(data)} bytes), so JIT frames stay unnamed."
    (magic,) = struct.unpack_from("<I", data)
    if magic == JITDUMP_MAGIC:
        order = "<"
    elif magic == int.from_bytes(JITDUMP_MAGIC.to_bytes(4, "little"), "big"):
        order = ">"
    else:
        return None, (
            f"{path} is not a jitdump (magic {magic:#010x}, expected 'JiTD'), so JIT frames stay"
            " unnamed."
        )
    _magic, version, total, mach, pad1, pid, when, flags = struct.unpack_from(order + "IIIIIIQQ", data)
    if version < 1 or version > 2:
        return None, (
            f"{path} is jitdump version {version}, which stax does not read (it reads 1),"
            " so JIT frames stay unnamed."
        )
    if total < FILE_HEADER_SIZE or total > len(data):
        return None, (
            f"{path} has a damaged header (header size {total}), so JIT frames stay unnamed."
        )
    return JitdumpHeader(order == "<", version, total, mach, pad1, pid, when, flags), None


def _code_load(
    data: Buffer,
    body: int,
    end: int,
    when: int,
    fixed: struct.Struct,
    pending_debug: tuple[int, tuple[JitDebugEntry, ...]] | None,
) -> JitCodeLoad | None:
    """Decode JIT_CODE_LOAD (§V); None if the record does not hold what it claims."""
    if end - body < fixed.size + 1:
        return None
    pid, tid, vma, code_addr, code_size, code_index = fixed.unpack_from(data, body)
    name_at = body + fixed.size
    nul = data.find(b"\0", name_at, end)
    if nul < 0 or code_size > MAX_CODE_SIZE or nul + 1 + code_size > end:
        return None
    if code_addr + code_size > ADDRESS_LIMIT:
        return None
    name = printable(data[name_at:nul].decode("utf-8", "replace"))
    debug = pending_debug[1] if pending_debug is not None and pending_debug[0] == code_addr else ()
    return JitCodeLoad(when, pid, tid, vma, code_addr, code_size, code_index, name, nul + 1, debug)


def _debug_info(
    data: Buffer,
    body: int,
    end: int,
    fixed: struct.Struct,
    entry: struct.Struct,
    bias: int,
) -> tuple[int, tuple[JitDebugEntry, ...]] | None:
    """Decode JIT_CODE_DEBUG_INFO (§VII) as (code_addr, entries); None if it cannot be read.

    Entry addresses come back with the writer's bias removed, i.e. as code addresses.
    """
    if end - body < fixed.size:
        return None
    code_addr, count = fixed.unpack_from(data, body)
    first = body + fixed.size
    if count == 0:
        return code_addr, ()
    if count * (entry.size + 1) > end - first:
        return None  # an absurd nr_entry
    entries = _entries_by_strlen(data, first, end, count, code_addr, entry, bias)
    if entries is None:
        entries = _entries_by_stride(data, first, end, count, code_addr, entry, bias)
    if entries is None:
        return None
    return code_addr, entries


def _plausible(address: int, code_addr: int) -> bool:
    return code_addr <= address < code_addr + MAX_DEBUG_SPAN


def _file_name(raw: bytes) -> str | None:
    """The entry's file name, or None if the bytes are not a printable name."""
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return name if name and name.isprintable() else None


def _entries_by_strlen(
    data: Buffer, pos: int, end: int, count: int, code_addr: int, entry: struct.Struct, bias: int
) -> tuple[JitDebugEntry, ...] | None:
    """The spec's walk: the next entry starts after the name's NUL (§VII).

    Accepted only if every address is plausible, every name is text and the walk ends
    where the record does (allowing up to 7 bytes of alignment padding).
    """
    out = []
    unpack = entry.unpack_from
    for _ in range(count):
        if pos + entry.size >= end:
            return None
        address, line, discrim = unpack(data, pos)
        nul = data.find(b"\0", pos + entry.size, end)
        if nul < 0 or not _plausible(address, code_addr):
            return None
        name = _file_name(data[pos + entry.size:nul])
        if name is None:
            return None
        out.append(JitDebugEntry(address - bias, line, discrim, name))
        pos = nul + 1
    if end - pos >= 8:
        return None
    return tuple(out)


def _entries_by_stride(
    data: Buffer, first: int, end: int, count: int, code_addr: int, entry: struct.Struct, bias: int
) -> tuple[JitDebugEntry, ...] | None:
    """Re-read entries of one fixed stride, for writers whose names hold stray NULs (V8).

    V8 writes every entry's name with the same length, so the record size less padding
    (0-7 bytes) divides evenly into ``count`` strides; each stride must end in NUL and
    start with a plausible address.  Names that are not text become None.
    """
    unpack = entry.unpack_from
    for pad in range(8):
        payload = end - first - pad
        if payload <= 0 or payload % count:
            continue
        stride = payload // count
        if stride <= entry.size:
            continue
        out = []
        for k in range(count):
            pos = first + k * stride
            address, line, discrim = unpack(data, pos)
            if data[pos + stride - 1] != 0 or not _plausible(address, code_addr):
                break
            raw = data[pos + entry.size:pos + stride - 1]
            name = None if b"\0" in raw else _file_name(raw)
            out.append(JitDebugEntry(address - bias, line, discrim, name))
        else:
            return tuple(out)
    return None


def _loads(code: list[JitCodeLoad | JitCodeMove]) -> int:
    return sum(1 for c in code if isinstance(c, JitCodeLoad))


def _truncated(path: str, off: int, code: list[JitCodeLoad | JitCodeMove]) -> str:
    return (
        f"{path} ends inside a record at byte {off} (the runtime was still writing, or the file"
        f" was cut short), so only its first {_loads(code)} code loads are used."
    )

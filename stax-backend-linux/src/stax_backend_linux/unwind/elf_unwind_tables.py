"""The unwind tables of one ELF file, parsed once and shared by every process that maps it.

An :class:`ElfUnwindTables` answers "which row applies at this ELF virtual
address?".  It looks in ``.eh_frame`` first (through ``.eh_frame_hdr``'s search
table when there is one, LSB 5.0 §10.6.2), then in ``.debug_frame`` of the file
or of its separate debug file, because code built with
``-fno-asynchronous-unwind-tables -g`` only has the latter.  The file is read with
:mod:`stax_binfmt.elf` and the separate debug file found with
:func:`stax_binfmt.debug_files.separate_debug_files` (build id, then
``.gnu_debuglink`` with its CRC checked), as stax-symbols finds it.

:class:`UnwindTableCache` keys parsed files by build id and by
(path, device, inode, mtime, size) so that each file is read once per process
of the unwinder, and rows once per FDE.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable, Sequence
from typing import BinaryIO

from stax_binfmt.cfi.eh_frame_hdr import FdeIndex
from stax_binfmt.cfi.errors import UnwindTableError
from stax_binfmt.cfi.parser import CfiSection
from stax_binfmt.cfi.unwind_row import UnwindRow
from stax_binfmt.debug_files import SYSTEM_DEBUG_ROOT, mismatch, separate_debug_files
from stax_binfmt.elf import EM_X86_64, ElfFormatError, LoadSegments, read_headers, read_section

DEFAULT_DEBUG_DIRS: tuple[str, ...] = (SYSTEM_DEBUG_ROOT,)
_MISSING = object()


class ElfUnwindTables:
    """Unwind information of one ELF image, in its own virtual address space."""

    def __init__(
        self,
        name: str,
        *,
        eh_frame: FdeIndex | None,
        debug_frame: FdeIndex | None = None,
        segments: LoadSegments | None = None,
        build_id: bytes | None = None,
        debug_dirs: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.eh_frame = eh_frame
        self._debug_frame = debug_frame
        self._debug_dirs = tuple(debug_dirs)
        self._debug_loaded = debug_frame is not None or not self._debug_dirs
        self.segments = segments if segments is not None else LoadSegments(())
        self.build_id = build_id
        self._rows: dict[int, UnwindRow | None] = {}
        self.eh_frame_source = "none"
        """How the ``.eh_frame`` index was built: "eh_frame_hdr", "scan" or "none"."""

    # -- construction ---------------------------------------------------------------

    @classmethod
    def from_path(cls, path: str, *, debug_dirs: Sequence[str] = DEFAULT_DEBUG_DIRS) -> ElfUnwindTables:
        """Parse a file's unwind sections (raises OSError / UnwindTableError)."""
        with open(path, "rb") as stream:
            return cls._from_stream(stream, path, debug_dirs=debug_dirs)

    @classmethod
    def from_bytes(cls, image: bytes, name: str = "[memory]") -> ElfUnwindTables:
        """Parse an ELF image held in memory, e.g. the ``[vdso]`` read from a process."""
        return cls._from_stream(io.BytesIO(image), name, debug_dirs=())

    @classmethod
    def _from_stream(cls, stream: BinaryIO, name: str, *, debug_dirs: Sequence[str]) -> ElfUnwindTables:
        try:
            headers = read_headers(stream)
            if headers.header.machine != EM_X86_64:
                raise UnwindTableError(f"{name} is for machine {headers.header.machine}, not x86-64")
            segments = headers.segments
            read_indirect = _indirect_reader(stream, name, segments)

            eh_index: FdeIndex | None = None
            source = "none"
            eh = read_section(stream, headers, ".eh_frame")
            if eh is not None:
                section = CfiSection(eh[0], eh[1], read_indirect=read_indirect)
                hdr = read_section(stream, headers, ".eh_frame_hdr")
                if hdr is not None:
                    try:
                        eh_index = FdeIndex.from_eh_frame_hdr(hdr[0], hdr[1], section)
                        source = "eh_frame_hdr"
                    except UnwindTableError:
                        eh_index = None
                if eh_index is None:
                    eh_index = FdeIndex.by_scanning(section)
                    source = "scan"

            debug_index: FdeIndex | None = None
            debug = read_section(stream, headers, ".debug_frame")
            if debug is not None:
                debug_index = FdeIndex.by_scanning(CfiSection(debug[0], 0, is_debug_frame=True))
        except ElfFormatError as exc:
            raise UnwindTableError(f"{name} is not a readable ELF file: {exc}") from None
        tables = cls(
            name,
            eh_frame=eh_index,
            debug_frame=debug_index,
            segments=segments,
            build_id=headers.build_id,
            debug_dirs=debug_dirs if debug_index is None else (),
        )
        tables.eh_frame_source = source
        return tables

    # -- addresses ----------------------------------------------------------------

    def vaddr_for_file_offset(self, file_offset: int) -> int | None:
        """The ELF virtual address of a file offset inside a PT_LOAD segment."""
        return self.segments.vaddr_for_offset(file_offset)

    # -- rows -----------------------------------------------------------------------

    @property
    def debug_frame(self) -> FdeIndex | None:
        """``.debug_frame`` of this file or its separate debug file (found and loaded on first use)."""
        if not self._debug_loaded:
            self._debug_loaded = True
            debuglink = os.path.isabs(self.name)
            for candidate in separate_debug_files(self.name, self.build_id, self._debug_dirs,
                                                  debuglink=debuglink):
                try:
                    with open(candidate.path, "rb") as stream:
                        headers = read_headers(stream)
                        if mismatch(candidate, headers.build_id, self.name, self.build_id) is not None:
                            continue
                        found = read_section(stream, headers, ".debug_frame")
                    if found is not None:
                        section = CfiSection(found[0], 0, is_debug_frame=True)
                        self._debug_frame = FdeIndex.by_scanning(section)
                        break
                except (OSError, ElfFormatError, UnwindTableError):
                    continue
        return self._debug_frame

    def row_for(self, vaddr: int) -> UnwindRow | None:
        """The unwind row for an ELF virtual address, or None if no FDE covers it.

        Cached per address; the first lookup in a function runs its CFA program once.
        Raises :class:`UnwindTableError` on malformed CFI.
        """
        row = self._rows.get(vaddr, _MISSING)
        if row is _MISSING:
            row = self._find_row(vaddr)
            self._rows[vaddr] = row
        return row  # type: ignore[return-value]

    def _find_row(self, vaddr: int) -> UnwindRow | None:
        index = self.eh_frame
        fde = index.find_fde(vaddr) if index is not None else None
        if fde is None:
            index = self.debug_frame  # loads the separate debug file on first need
            fde = index.find_fde(vaddr) if index is not None else None
        if fde is None or index is None:
            return None
        return index.section.rows_for(fde).row_at(vaddr)


def _indirect_reader(stream: BinaryIO, name: str, segments: LoadSegments) -> Callable[[int], int]:
    """Read a u64 at an ELF virtual address from the file (for DW_EH_PE_indirect)."""
    in_memory = stream.getvalue() if isinstance(stream, io.BytesIO) else None

    def read(vaddr: int) -> int:
        offset = segments.offset_for_vaddr(vaddr, 8)
        if offset is None:
            raise UnwindTableError(f"indirect pointer {vaddr:#x} is not in a loaded segment of {name}")
        if in_memory is not None:
            return struct.unpack_from("<Q", in_memory, offset)[0]
        with open(name, "rb") as f:
            f.seek(offset)
            return struct.unpack("<Q", f.read(8))[0]

    return read


class UnwindTableCache:
    """Parsed :class:`ElfUnwindTables` by file identity and by build id."""

    def __init__(self, debug_dirs: Sequence[str] = DEFAULT_DEBUG_DIRS) -> None:
        self.debug_dirs = tuple(debug_dirs)
        self._by_identity: dict[tuple[object, ...], ElfUnwindTables | None] = {}
        self._by_build_id: dict[bytes, ElfUnwindTables] = {}
        self.errors: dict[str, str] = {}
        """Files that could not be read: path -> one sentence why."""

    def get(self, path: str) -> ElfUnwindTables | None:
        """The tables of the file at ``path``, or None if it cannot be read (see ``errors``)."""
        try:
            st = os.stat(path)
        except OSError as exc:
            self.errors[path] = f"cannot read {path}: {exc.strerror}"
            return None
        key = (path, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
        tables = self._by_identity.get(key, _MISSING)
        if tables is not _MISSING:
            return tables  # type: ignore[return-value]
        try:
            tables = ElfUnwindTables.from_path(path, debug_dirs=self.debug_dirs)
        except (OSError, UnwindTableError) as exc:
            self.errors[path] = f"cannot read unwind tables of {path}: {exc}"
            tables = None
        if tables is not None and tables.build_id:
            tables = self._by_build_id.setdefault(tables.build_id, tables)
        self._by_identity[key] = tables
        return tables

    def add(self, tables: ElfUnwindTables) -> ElfUnwindTables:
        """Register tables made elsewhere (e.g. from bytes); returns the shared instance."""
        if tables.build_id:
            return self._by_build_id.setdefault(tables.build_id, tables)
        return tables


_default_cache: UnwindTableCache | None = None


def default_table_cache() -> UnwindTableCache:
    """The process-wide cache the resolver uses unless given another."""
    global _default_cache
    if _default_cache is None:
        _default_cache = UnwindTableCache()
    return _default_cache

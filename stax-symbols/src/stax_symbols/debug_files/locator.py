"""Where the debug info of an image is: one chain for every source that needs it.

In order, as gdb does (gdb manual, "Separate Debug Files"), the first file with DWARF wins:

1. the image file itself, if it was built with ``-g`` and not stripped;
2. ``<root>/.build-id/xx/rest.debug`` for each debug root (``STAX_DEBUG_DIRS``, the
   ``debug_dirs`` option, then ``/usr/lib/debug``) - also where Debian's ``-dbgsym``
   packages install;
3. the image's ``.gnu_debuglink`` name beside it, in ``.debug/`` beside it, and under each
   root followed by the image's directory, with the CRC32 checked;

   (2 and 3 are :func:`stax_binfmt.debug_files.separate_debug_files`, which the unwinder
   follows too for ``.debug_frame``)
4. a debuginfod server (``DEBUGINFOD_URLS``), unless the ``debuginfod`` option is False.

Every candidate must carry the image's build id; one that does not is rejected in one
sentence (a stale debug package would name every frame wrongly).  The image file itself is
the file at the recorded path when its build id matches, or else debuginfod's copy of the
executable, since offsets map to addresses through its PT_LOAD headers (a debug file's
program headers describe no file bytes).

The answer is memoized per process for each (image, settings), warnings included, so the
DWARF, debug-file and debuginfod sources share one search.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from stax.contracts import SymbolContext
from stax_binfmt.debug_files import (
    SYSTEM_DEBUG_ROOT,
    Candidate,
    mismatch,
    separate_debug_files,
)
from stax_symbols.debuginfod.client import DebuginfodClient, server_urls
from stax_symbols.dwarf.forms import DwarfError
from stax_symbols.dwarf.sections import has_debug_info
from stax_symbols.elf.elf_file import ElfReadError, read_elf
from stax_symbols.elf.memo import PROCESS_MEMO, ElfMemo

if TYPE_CHECKING:
    from stax.stack_table import Image

DEBUG_DIRS_ENV = "STAX_DEBUG_DIRS"
DELETED_SUFFIX = " (deleted)"
"""The kernel's mark on the path of a file unlinked while mapped."""


@attrs.frozen(slots=True)
class ImageFiles:
    """The files that describe one image; any may be None."""

    image_file: str | None
    """The object itself (PT_LOAD headers, .dynsym): on disk, or debuginfod's executable."""
    dwarf_file: str | None
    """The file whose .debug_info describes the image."""
    dwarf_origin: str | None
    """How it was found: ``image``, ``build-id``, ``debuglink`` or ``debuginfod``."""
    symbols_file: str | None
    """A separate debug file with a .symtab (names local functions of a stripped image)."""
    warnings: tuple[str, ...] = ()


def debug_roots(options: Mapping[str, object]) -> list[str]:
    """Global debug directories, most specific first: env, option, then /usr/lib/debug."""
    roots = [p for p in os.environ.get(DEBUG_DIRS_ENV, "").split(os.pathsep) if p]
    extra = options.get("debug_dirs")
    if isinstance(extra, str):
        roots.append(extra)
    elif isinstance(extra, list | tuple):
        roots.extend(str(p) for p in extra)
    roots.append(SYSTEM_DEBUG_ROOT)
    return list(dict.fromkeys(os.path.abspath(r) for r in roots))


def debuginfod_enabled(options: Mapping[str, object]) -> bool:
    """False when the user turned debuginfod off (``stax record --no-debuginfod``)."""
    return options.get("debuginfod") is not False


@attrs.frozen(slots=True)
class _Examined:
    build_id: bytes | None
    has_dwarf: bool
    has_symtab: bool


class DebugFileLocator:
    """Finds :class:`ImageFiles` for images; one per process is shared (``PROCESS_LOCATOR``)."""

    def __init__(self, memo: ElfMemo | None = None) -> None:
        self.memo = memo or PROCESS_MEMO
        self._answers: dict[tuple[object, ...], ImageFiles] = {}
        self._clients: dict[tuple[object, ...], DebuginfodClient] = {}
        self._lock = threading.Lock()
        self.searches = 0
        """How many searches ran (not memo hits); tests check the sources share one."""

    def client(self, context: SymbolContext) -> DebuginfodClient | None:
        """The debuginfod client for the current settings, or None when off or unconfigured."""
        urls = server_urls()
        if not urls or not debuginfod_enabled(context.options):
            return None
        root = context.cache_dir / "debuginfod"
        key = (tuple(urls), str(root))
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = DebuginfodClient(urls, root)
        return client

    def locate(self, image: Image, context: SymbolContext) -> ImageFiles:
        """The files of ``image``; warnings of the search are (re)issued through ``context``."""
        client = self.client(context)
        roots = debug_roots(context.options)
        key = (image.path, image.build_id, tuple(roots), tuple(client.urls) if client else ())
        with self._lock:
            found = self._answers.get(key)
        if found is None:
            self.searches += 1
            found = _Search(image, roots, client, self.memo).run()
            with self._lock:
                self._answers[key] = found
        for sentence in found.warnings:
            context.warn(sentence)
        return found

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self._clients.clear()


class _Search:
    """One walk down the chain for one image."""

    def __init__(
        self, image: Image, roots: list[str], client: DebuginfodClient | None, memo: ElfMemo
    ) -> None:
        self.image = image
        self.roots = roots
        self.client = client
        self.memo = memo
        self.warnings: list[str] = []
        self.path = image.path.removesuffix(DELETED_SUFFIX)
        self.build_id = image.build_id
        self.dwarf_file: str | None = None
        self.dwarf_origin: str | None = None
        self.symbols_file: str | None = None

    def warn(self, sentence: str) -> None:
        if sentence not in self.warnings:
            self.warnings.append(sentence)

    def run(self) -> ImageFiles:
        image_file = self._image_file()
        on_disk = image_file == self.path
        if image_file is not None and _has_debug_info(image_file):
            self.dwarf_file, self.dwarf_origin = image_file, "image"
        if self.dwarf_file is None:
            for candidate in separate_debug_files(self.path, self.build_id, self.roots, debuglink=on_disk,
                                                  warn=self.warn):
                if self._consider(candidate):
                    break
        if self.dwarf_file is None and self.client is not None and self.build_id is not None:
            fetched = self.client.fetch(self.build_id, "debuginfo", self.path, self.warn)
            if fetched is not None:
                self._consider(Candidate(str(fetched), "debuginfod", False))
        return ImageFiles(image_file, self.dwarf_file, self.dwarf_origin, self.symbols_file,
                          tuple(self.warnings))

    def _image_file(self) -> str | None:
        if self.path.startswith("/") and not self.path.startswith("/memfd:") and os.path.isfile(self.path):
            try:
                loaded = self.memo.load(self.path)
            except ElfReadError:
                loaded = None  # the ELF symbol source says why, once
            if loaded is not None and (self.build_id is None or loaded.build_id == self.build_id):
                self.build_id = self.build_id or loaded.build_id
                return self.path
        if self.client is not None and self.build_id is not None:
            fetched = self.client.fetch(self.build_id, "executable", self.path, self.warn)
            if fetched is not None:
                return str(fetched)
        return None

    def _examine(self, path: str) -> _Examined | None:
        try:
            with open(path, "rb") as stream:
                elf = read_elf(stream, path)
        except ElfReadError as exc:
            self.warn(f"{exc}".replace("Cannot read symbols from", "Cannot use the debug file", 1))
            return None
        has_dwarf = any(s.name == ".debug_info" and s.has_contents for s in elf.sections)
        has_symtab = any(s.name == ".symtab" for s in elf.symbol_sections)
        return _Examined(elf.build_id, has_dwarf, has_symtab)

    def _consider(self, candidate: Candidate) -> bool:
        """Take ``candidate`` if it is this image's debug file with DWARF; True if it was taken."""
        path = candidate.path
        if not os.path.isfile(path):
            return False
        examined = self._examine(path)
        if examined is None:
            return False
        problem = mismatch(candidate, examined.build_id, self.path, self.build_id)
        if problem is not None:
            self.warn(problem)
            return False
        if examined.has_symtab and self.symbols_file is None:
            self.symbols_file = path
        if examined.has_dwarf:
            self.dwarf_file, self.dwarf_origin = path, candidate.origin
            if examined.has_symtab:
                self.symbols_file = path  # names and DWARF from one file
            return True
        return False


def _has_debug_info(path: str) -> bool:
    """Whether the image file itself carries DWARF (read from its section headers only)."""
    try:
        with open(path, "rb") as stream:
            return has_debug_info(stream)
    except (OSError, DwarfError, ValueError, struct.error):
        return False  # the ELF source says why the image cannot be read, once


PROCESS_LOCATOR = DebugFileLocator()
"""The locator the stax-symbols sources of this process share."""

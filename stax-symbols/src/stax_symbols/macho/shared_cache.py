"""The dyld shared cache: its files, mappings, images, and the unmapped local symbols.

On macOS 11+ system dylibs exist only inside the cache (``dyld_shared_cache_arm64e`` and
its subcaches); a recorded image names ``/usr/lib/libSystem.B.dylib`` and carries its UUID,
and this module finds that dylib in the cache.  Facts from ``<mach-o/dyld_cache_format.h>``
and dyld's ``DyldSharedCache.cpp`` / ``dsc_extractor.cpp`` (dyld-1378), see
:mod:`.shared_cache_layout`:

* The header's ``mappingOffset`` is also its length: newer fields exist only below it.
* Mappings ``{address, size, fileOffset}`` place file bytes at unslid VM addresses.  A
  split cache adds subcaches listed at ``subCacheArrayOffset`` (entries with a file suffix
  once the header reaches ``cacheSubType``; before that, files ``.1``, ``.2``, ...), each a
  file with its own header (whose UUID must be the entry's) and mappings.  Any segment of
  any dylib, ``__LINKEDIT`` included, may be in any file: reads go by VM address through
  every file's mappings.
* Images: ``imagesOffset/Count`` (older caches ``imagesOffsetOld/CountOld``) give each
  dylib's mach-header address and path; ``imagesTextOffset/Count`` give its UUID,
  ``__TEXT`` address and size.
* Local (non-exported) symbols are not mapped at all: they are in ``<cache>.symbols`` when
  the header has a non-zero ``symbolFileUUID`` (that file's own header must carry the UUID;
  a ``.development`` suffix is dropped first), else at ``localSymbolsOffset`` in the main
  file.  ``dyld_cache_local_symbols_info`` lists per dylib ``{dylibOffset, nlistStartIndex,
  nlistCount}`` into one nlist array and string pool; ``dylibOffset`` is the dylib's VM
  offset from the cache base (64-bit entries, caches with ``symbolFileUUID``) or its file
  offset in the main cache (32-bit entries, older caches: the same number for a mach header).

Addresses here are unslid; the runtime slide is subtracted by whoever recorded them.
"""

from __future__ import annotations

import bisect
import ctypes
import os

import attrs

from stax_symbols.macho.image_uuid import uuid_text
from stax_symbols.macho.load_commands import HEADER_SIZE, MachImage, MachoError, commands_size, parse_image
from stax_symbols.macho.shared_cache_layout import (
    CacheHeader,
    ImageInfo,
    ImageTextInfo,
    LocalSymbolsEntry,
    LocalSymbolsEntry64,
    LocalSymbolsInfo,
    MappingInfo,
    SubcacheEntry,
    SubcacheEntryV1,
    field_offset,
    header_has,
)

MAGIC_PREFIX = b"dyld_v1"
_MAX_MAPPINGS = 64
_MAX_IMAGES = 1 << 16
_MAX_SUBCACHES = 256
_DEVELOPMENT_SUFFIX = ".development"
_SYMBOLS_SUFFIX = ".symbols"


@attrs.frozen(slots=True)
class Mapping:
    address: int
    size: int
    file_offset: int


@attrs.frozen(slots=True)
class CacheFile:
    """One file of the cache (the main one, a subcache, or the .symbols file)."""

    path: str
    header: CacheHeader = attrs.field(eq=False, repr=False)
    mappings: tuple[Mapping, ...]

    @property
    def uuid(self) -> bytes:
        return bytes(self.header.uuid)

    def read(self, offset: int, size: int) -> bytes:
        return read_exact(self.path, offset, size)


@attrs.frozen(slots=True)
class CacheImage:
    """One dylib of the cache: where its mach header is, its UUID, its ``__TEXT`` extent."""

    path: str
    uuid: bytes | None
    address: int
    text_size: int


def read_exact(path: str, offset: int, size: int) -> bytes:
    with open(path, "rb") as stream:
        stream.seek(offset)
        data = stream.read(size)
    if len(data) != size:
        raise MachoError(f"{path} is shorter than its header says ({size} bytes at {offset:#x})")
    return data


def is_shared_cache(head: bytes) -> bool:
    return head.startswith(MAGIC_PREFIX)


def _open_file(path: str) -> CacheFile:
    head = read_exact(path, 0, min(ctypes.sizeof(CacheHeader), os.path.getsize(path)))
    if not is_shared_cache(head):
        raise MachoError(f"{path} is not a dyld shared cache file (no dyld_v1 magic)")
    raw = head.ljust(ctypes.sizeof(CacheHeader), b"\0")
    header = CacheHeader.from_buffer_copy(raw)
    if header.mappingOffset < field_offset("imagesOffsetOld"):
        raise MachoError(f"{path} has a dyld cache header of {header.mappingOffset} bytes")
    # Fields past mappingOffset are not this header's: zero them so nothing reads them.
    cut = header.mappingOffset
    if cut < len(raw):
        header = CacheHeader.from_buffer_copy(raw[:cut].ljust(len(raw), b"\0"))
    if header.mappingCount > _MAX_MAPPINGS:
        raise MachoError(f"{path} claims {header.mappingCount} mappings")
    size = ctypes.sizeof(MappingInfo)
    table = read_exact(path, header.mappingOffset, size * header.mappingCount)
    mappings = []
    for i in range(header.mappingCount):
        m = MappingInfo.from_buffer_copy(table, i * size)
        mappings.append(Mapping(m.address, m.size, m.fileOffset))
    return CacheFile(path, header, tuple(mappings))


class SharedCache:
    """A main cache file with its subcaches and local-symbols file (raises MachoError)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.main = _open_file(path)
        self.files = [self.main, *self._subcaches()]
        rows = sorted((m.address, m.size, m.file_offset, f.path) for f in self.files for m in f.mappings)
        self._mapping_starts = [r[0] for r in rows]
        self._mappings = rows
        self.images = self._images()
        by_address = sorted(self.images, key=lambda i: i.address)
        self._image_starts = [i.address for i in by_address]
        self._images_by_address = by_address
        self._by_uuid = {i.uuid: i for i in self.images if i.uuid}
        self._local_symbols: dict[int, tuple[bytes, bytes]] | None = None

    @property
    def uuid(self) -> bytes:
        return self.main.uuid

    @property
    def base_address(self) -> int:
        return self.main.mappings[0].address if self.main.mappings else 0

    # -- files ------------------------------------------------------------------------------

    def _subcaches(self) -> list[CacheFile]:
        header = self.main.header
        if not header_has(header, "subCacheArrayCount") or header.subCacheArrayCount == 0:
            return []
        count = header.subCacheArrayCount
        if count > _MAX_SUBCACHES:
            raise MachoError(f"{self.path} claims {count} subcaches")
        with_suffix = header_has(header, "cacheSubType")
        kind = SubcacheEntry if with_suffix else SubcacheEntryV1
        size = ctypes.sizeof(kind)
        table = self.main.read(header.subCacheArrayOffset, size * count)
        out = []
        for i in range(count):
            entry = kind.from_buffer_copy(table, i * size)
            suffix = entry.fileSuffix.decode("utf-8", "replace") if with_suffix else f".{i + 1}"
            sub_path = self.path + suffix
            if not os.path.exists(sub_path):
                raise MachoError(
                    f"the subcache {sub_path} of {self.path} is missing; copy the whole cache directory"
                )
            sub = _open_file(sub_path)
            if sub.uuid != bytes(entry.uuid):
                raise MachoError(
                    f"{sub_path} is not the subcache {self.path} lists (UUID"
                    f" {uuid_text(sub.uuid)}, expected {uuid_text(bytes(entry.uuid))})"
                )
            out.append(sub)
        return out

    # -- reading by address --------------------------------------------------------------------

    def read_vm(self, address: int, size: int) -> bytes:
        """``size`` bytes at unslid ``address``, from whichever file maps them."""
        at = bisect.bisect_right(self._mapping_starts, address) - 1
        if at >= 0:
            start, length, file_offset, path = self._mappings[at]
            if address + size <= start + length:
                return read_exact(path, file_offset + address - start, size)
        raise MachoError(f"{address:#x} (+{size}) is in no mapping of {self.path}")

    # -- images ---------------------------------------------------------------------------------

    def _images(self) -> list[CacheImage]:
        header = self.main.header
        if header_has(header, "imagesCount") and header.imagesCount:
            offset, count = header.imagesOffset, header.imagesCount
        else:
            offset, count = header.imagesOffsetOld, header.imagesCountOld
        if count > _MAX_IMAGES:
            raise MachoError(f"{self.path} claims {count} images")
        texts: dict[int, tuple[bytes, int]] = {}
        if header_has(header, "imagesTextCount") and header.imagesTextCount <= _MAX_IMAGES:
            size = ctypes.sizeof(ImageTextInfo)
            table = self.main.read(header.imagesTextOffset, size * header.imagesTextCount)
            for i in range(header.imagesTextCount):
                t = ImageTextInfo.from_buffer_copy(table, i * size)
                texts[t.loadAddress] = (bytes(t.uuid), t.textSegmentSize)
        size = ctypes.sizeof(ImageInfo)
        table = self.main.read(offset, size * count)
        out = []
        for i in range(count):
            info = ImageInfo.from_buffer_copy(table, i * size)
            uuid, text_size = texts.get(info.address, (None, 0))
            out.append(CacheImage(self._string(info.pathFileOffset), uuid, info.address, text_size))
        return out

    def _string(self, offset: int) -> str:
        data = self.main.read(offset, min(1024, os.path.getsize(self.path) - offset))
        return data.split(b"\0", 1)[0].decode("utf-8", "replace")

    def image_by_uuid(self, uuid: bytes) -> CacheImage | None:
        return self._by_uuid.get(uuid)

    def image_at(self, address: int) -> CacheImage | None:
        """The image whose ``__TEXT`` holds unslid ``address``."""
        at = bisect.bisect_right(self._image_starts, address) - 1
        if at >= 0:
            image = self._images_by_address[at]
            if address < image.address + image.text_size:
                return image
        return None

    def load_commands(self, image: CacheImage) -> MachImage:
        """The load commands of ``image`` (its mach header is at ``image.address``)."""
        size = commands_size(self.read_vm(image.address, HEADER_SIZE))
        return parse_image(self.read_vm(image.address, size))

    # -- local symbols ----------------------------------------------------------------------------

    def local_symbols(self, image: CacheImage) -> tuple[bytes, bytes] | None:
        """(nlist entries, string pool) of ``image``'s local symbols, or None without any."""
        if self._local_symbols is None:
            self._local_symbols = self._read_local_symbols()
        return self._local_symbols.get(image.address)

    def _symbols_file(self) -> CacheFile | None:
        header = self.main.header
        if header_has(header, "symbolFileUUID"):
            wanted = bytes(header.symbolFileUUID)
            if not any(wanted):
                return None
            base = (
                self.path[: -len(_DEVELOPMENT_SUFFIX)]
                if self.path.endswith(_DEVELOPMENT_SUFFIX)
                else self.path
            )
            path = base + _SYMBOLS_SUFFIX
            if not os.path.exists(path):
                raise MachoError(
                    f"the local symbols file {path} of {self.path} is missing; copy it"
                    f" with the cache to name non-exported functions"
                )
            symbols = _open_file(path)
            if symbols.uuid != wanted:
                raise MachoError(
                    f"{path} is not the local symbols file of {self.path} (UUID"
                    f" {uuid_text(symbols.uuid)}, expected {uuid_text(wanted)})"
                )
            return symbols
        return self.main if header.localSymbolsOffset else None

    def _read_local_symbols(self) -> dict[int, tuple[bytes, bytes]]:
        symbols = self._symbols_file()
        if symbols is None or not symbols.header.localSymbolsOffset:
            return {}
        at = symbols.header.localSymbolsOffset
        info = LocalSymbolsInfo.from_buffer_copy(symbols.read(at, ctypes.sizeof(LocalSymbolsInfo)))
        nlists = symbols.read(at + info.nlistOffset, info.nlistCount * 16)
        strings = symbols.read(at + info.stringsOffset, info.stringsSize)
        wide = self.main.header.mappingOffset >= field_offset("symbolFileUUID")
        kind = LocalSymbolsEntry64 if wide else LocalSymbolsEntry
        size = ctypes.sizeof(kind)
        table = symbols.read(at + info.entriesOffset, size * info.entriesCount)
        out = {}
        for i in range(info.entriesCount):
            entry = kind.from_buffer_copy(table, i * size)
            if entry.nlistStartIndex + entry.nlistCount > info.nlistCount:
                raise MachoError(
                    f"the local symbols of {self.path} are damaged (entry {i} runs past the table)"
                )
            start = entry.nlistStartIndex * 16
            out[self.base_address + entry.dylibOffset] = (
                nlists[start : start + entry.nlistCount * 16],
                strings,
            )
        return out

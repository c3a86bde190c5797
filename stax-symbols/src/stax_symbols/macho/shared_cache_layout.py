"""The structures of the dyld shared cache, as ``<mach-o/dyld_cache_format.h>`` (dyld-1378)
declares them, so field offsets come from one declaration (ctypes lays them out with the
same C alignment rules) rather than from hand-counted numbers.

Only what symbolication reads is declared.  The header grew over the years: its
``mappingOffset`` is also its length, so a field is present only if it ends at or before
``mappingOffset`` (:func:`header_has`).
"""

from __future__ import annotations

import ctypes

_u8, _u32, _u64 = ctypes.c_uint8, ctypes.c_uint32, ctypes.c_uint64


class CacheHeader(ctypes.LittleEndianStructure):
    """``struct dyld_cache_header``, up to ``cacheSubType`` (what stax reads)."""

    _fields_ = [
        ("magic", ctypes.c_char * 16),
        ("mappingOffset", _u32),
        ("mappingCount", _u32),
        ("imagesOffsetOld", _u32),
        ("imagesCountOld", _u32),
        ("dyldBaseAddress", _u64),
        ("codeSignatureOffset", _u64),
        ("codeSignatureSize", _u64),
        ("slideInfoOffsetUnused", _u64),
        ("slideInfoSizeUnused", _u64),
        ("localSymbolsOffset", _u64),
        ("localSymbolsSize", _u64),
        ("uuid", _u8 * 16),
        ("cacheType", _u64),
        ("branchPoolsOffset", _u32),
        ("branchPoolsCount", _u32),
        ("dyldInCacheMH", _u64),
        ("dyldInCacheEntry", _u64),
        ("imagesTextOffset", _u64),
        ("imagesTextCount", _u64),
        ("patchInfoAddr", _u64),
        ("patchInfoSize", _u64),
        ("otherImageGroupAddrUnused", _u64),
        ("otherImageGroupSizeUnused", _u64),
        ("progClosuresAddr", _u64),
        ("progClosuresSize", _u64),
        ("progClosuresTrieAddr", _u64),
        ("progClosuresTrieSize", _u64),
        ("platform", _u32),
        ("formatVersionAndFlags", _u32),
        ("sharedRegionStart", _u64),
        ("sharedRegionSize", _u64),
        ("maxSlide", _u64),
        ("dylibsImageArrayAddr", _u64),
        ("dylibsImageArraySize", _u64),
        ("dylibsTrieAddr", _u64),
        ("dylibsTrieSize", _u64),
        ("otherImageArrayAddr", _u64),
        ("otherImageArraySize", _u64),
        ("otherTrieAddr", _u64),
        ("otherTrieSize", _u64),
        ("mappingWithSlideOffset", _u32),
        ("mappingWithSlideCount", _u32),
        ("dylibsPBLStateArrayAddrUnused", _u64),
        ("dylibsPBLSetAddr", _u64),
        ("programsPBLSetPoolAddr", _u64),
        ("programsPBLSetPoolSize", _u64),
        ("programTrieAddr", _u64),
        ("programTrieSize", _u32),
        ("osVersion", _u32),
        ("altPlatform", _u32),
        ("altOsVersion", _u32),
        ("swiftOptsOffset", _u64),
        ("swiftOptsSize", _u64),
        ("subCacheArrayOffset", _u32),
        ("subCacheArrayCount", _u32),
        ("symbolFileUUID", _u8 * 16),
        ("rosettaReadOnlyAddr", _u64),
        ("rosettaReadOnlySize", _u64),
        ("rosettaReadWriteAddr", _u64),
        ("rosettaReadWriteSize", _u64),
        ("imagesOffset", _u32),
        ("imagesCount", _u32),
        ("cacheSubType", _u32),
    ]


class MappingInfo(ctypes.LittleEndianStructure):
    """``struct dyld_cache_mapping_info``."""

    _fields_ = [
        ("address", _u64),
        ("size", _u64),
        ("fileOffset", _u64),
        ("maxProt", _u32),
        ("initProt", _u32),
    ]


class ImageInfo(ctypes.LittleEndianStructure):
    """``struct dyld_cache_image_info``."""

    _fields_ = [
        ("address", _u64),
        ("modTime", _u64),
        ("inode", _u64),
        ("pathFileOffset", _u32),
        ("pad", _u32),
    ]


class ImageTextInfo(ctypes.LittleEndianStructure):
    """``struct dyld_cache_image_text_info``."""

    _fields_ = [("uuid", _u8 * 16), ("loadAddress", _u64), ("textSegmentSize", _u32), ("pathOffset", _u32)]


class SubcacheEntryV1(ctypes.LittleEndianStructure):
    """``struct dyld_subcache_entry_v1`` (caches whose header ends before ``cacheSubType``)."""

    _fields_ = [("uuid", _u8 * 16), ("cacheVMOffset", _u64)]


class SubcacheEntry(ctypes.LittleEndianStructure):
    """``struct dyld_subcache_entry``: with the file name suffix (``.01``, ``.25.data``)."""

    _fields_ = [("uuid", _u8 * 16), ("cacheVMOffset", _u64), ("fileSuffix", ctypes.c_char * 32)]


class LocalSymbolsInfo(ctypes.LittleEndianStructure):
    """``struct dyld_cache_local_symbols_info`` (offsets count from this structure)."""

    _fields_ = [
        ("nlistOffset", _u32),
        ("nlistCount", _u32),
        ("stringsOffset", _u32),
        ("stringsSize", _u32),
        ("entriesOffset", _u32),
        ("entriesCount", _u32),
    ]


class LocalSymbolsEntry(ctypes.LittleEndianStructure):
    """``struct dyld_cache_local_symbols_entry``: old caches; ``dylibOffset`` is a file offset."""

    _fields_ = [("dylibOffset", _u32), ("nlistStartIndex", _u32), ("nlistCount", _u32)]


class LocalSymbolsEntry64(ctypes.LittleEndianStructure):
    """``struct dyld_cache_local_symbols_entry_64``: caches with ``symbolFileUUID``;
    ``dylibOffset`` is a VM offset from the cache's base address."""

    _fields_ = [("dylibOffset", _u64), ("nlistStartIndex", _u32), ("nlistCount", _u32)]


def header_has(header: CacheHeader, field: str) -> bool:
    """Whether ``field`` is part of this cache's header (it ends within ``mappingOffset``)."""
    descriptor = getattr(CacheHeader, field)
    return descriptor.offset + descriptor.size <= header.mappingOffset


def field_offset(field: str) -> int:
    """``offsetof(dyld_cache_header, field)``."""
    return getattr(CacheHeader, field).offset

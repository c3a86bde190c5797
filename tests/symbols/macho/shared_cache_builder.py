"""Write a small dyld shared cache from the layout in dyld's ``<mach-o/dyld_cache_format.h>``
(dyld-1378) and ``<mach-o/loader.h>``, with hand-counted offsets, independent of stax's reader.

Two dylibs with a small ``__text`` each; their ``__LINKEDIT`` (exported symbols, strings,
function starts) lives in a subcache ``.01``; local symbols in ``.symbols``.  ``modern=False``
writes the older single-file layout instead: a short header (no subcaches, no
``symbolFileUUID``), ``imagesOffsetOld``, local symbols in the main file with 32-bit entries.
"""

from __future__ import annotations

import struct
from pathlib import Path

import attrs

BASE = 0x180000000
MODERN_HEADER = 0x1D0  # past cacheSubType (0x1C8 + 4): subcache entries carry a file suffix
OLD_HEADER = 0x118  # up to dyldsTrieSize: no subcaches, no symbolFileUUID, imagesOffsetOld
# offsetof(dyld_cache_header, field), counted from the declaration
OFFSETS = {
    "magic": (0x00, "16s"),
    "mappingOffset": (0x10, "I"),
    "mappingCount": (0x14, "I"),
    "imagesOffsetOld": (0x18, "I"),
    "imagesCountOld": (0x1C, "I"),
    "localSymbolsOffset": (0x48, "Q"),
    "localSymbolsSize": (0x50, "Q"),
    "uuid": (0x58, "16s"),
    "imagesTextOffset": (0x88, "Q"),
    "imagesTextCount": (0x90, "Q"),
    "subCacheArrayOffset": (0x188, "I"),
    "subCacheArrayCount": (0x18C, "I"),
    "symbolFileUUID": (0x190, "16s"),
    "imagesOffset": (0x1C0, "I"),
    "imagesCount": (0x1C4, "I"),
}
N_SECT_EXT, N_SECT_LOCAL = 0x0F, 0x0E
S_PURE_INSTRUCTIONS = 0x80000400


@attrs.frozen
class Dylib:
    path: str
    uuid: bytes
    address: int
    """Of its mach header (start of __TEXT); __text is at +TEXT_OFFSET."""
    exported: tuple[tuple[str, int], ...]
    local: tuple[tuple[str, int], ...]
    starts: tuple[int, ...]
    """Function starts, as offsets into __text."""


DYLIBS = (
    Dylib(
        "/usr/lib/system/libdemo_a.dylib",
        bytes.fromhex("a1" * 16),
        BASE + 0x4000,
        (("_a_public", 0x00), ("_a_other", 0x40)),
        (("_a_hidden", 0x20),),
        (0x00, 0x20, 0x40, 0x60),
    ),
    Dylib(
        "/usr/lib/libdemo_b.dylib",
        bytes.fromhex("b2" * 16),
        BASE + 0x8000,
        (("_b_entry", 0x00),),
        (),
        (0x00,),
    ),
)
TEXT_SIZE = 0x100
TEXT_OFFSET = 0x200
"""Where __text starts in each dylib, past its mach header and load commands."""
CACHE_UUID, SUB_UUID, SYMBOLS_UUID = bytes([0xC0] * 16), bytes([0x5B] * 16), bytes([0x57] * 16)


def header(length: int, **fields: object) -> bytearray:
    out = bytearray(length)
    for name, value in fields.items():
        offset, fmt = OFFSETS[name]
        assert offset + struct.calcsize(fmt) <= length, name
        struct.pack_into("<" + fmt, out, offset, value)
    return out


def place(buffer: bytearray, offset: int, data: bytes) -> None:
    if len(buffer) < offset + len(data):
        buffer.extend(bytes(offset + len(data) - len(buffer)))
    buffer[offset : offset + len(data)] = data


def mapping(address: int, size: int, file_offset: int) -> bytes:
    return struct.pack("<QQQII", address, size, file_offset, 5, 5)


def uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def strings_and_nlists(symbols: tuple[tuple[str, int], ...], text: int, kind: int) -> tuple[bytes, bytes]:
    pool = bytearray(b" \0")
    entries = bytearray()
    for name, offset in symbols:
        entries += struct.pack("<IBBHQ", len(pool), kind, 1, 0, text + offset)
        pool += name.encode() + b"\0"
    return bytes(entries), bytes(pool)


def mach_header(
    dylib: Dylib, linkedit_vmaddr: int, linkedit_fileoff: int, nsyms: int, strsize: int, starts_size: int
) -> bytes:
    """mach_header_64 + LC_SEGMENT_64 __TEXT (one __text) + __LINKEDIT + LC_SYMTAB + LC_UUID
    + LC_FUNCTION_STARTS + LC_ID_DYLIB, as <mach-o/loader.h> lays them out."""
    text = struct.pack(
        "<II16sQQQQIIII",
        0x19,
        72 + 80,
        b"__TEXT",
        dylib.address,
        0x1000,
        dylib.address - BASE,
        0x1000,
        5,
        5,
        1,
        0,
    )
    text += struct.pack(
        "<16s16sQQIIIIIIII",
        b"__text",
        b"__TEXT",
        dylib.address + TEXT_OFFSET,
        TEXT_SIZE,
        dylib.address - BASE + TEXT_OFFSET,
        2,
        0,
        0,
        S_PURE_INSTRUCTIONS,
        0,
        0,
        0,
    )
    linkedit = struct.pack(
        "<II16sQQQQIIII",
        0x19,
        72,
        b"__LINKEDIT",
        linkedit_vmaddr,
        0x1000,
        linkedit_fileoff,
        0x1000,
        1,
        1,
        0,
        0,
    )
    symtab = struct.pack("<IIIIII", 0x2, 24, linkedit_fileoff, nsyms, linkedit_fileoff + 0x200, strsize)
    uuid = struct.pack("<II16s", 0x1B, 24, dylib.uuid)
    starts = struct.pack("<IIII", 0x26, 16, linkedit_fileoff + 0x400, starts_size)
    name = dylib.path.encode() + b"\0"
    name += bytes(-(24 + len(name)) % 8)
    id_dylib = struct.pack("<IIIIII", 0xD, 24 + len(name), 24, 0, 0x10000, 0x10000) + name
    commands = [text, linkedit, symtab, uuid, starts, id_dylib]
    body = b"".join(commands)
    return (
        struct.pack("<IiiIIIII", 0xFEEDFACF, 0x0100000C, 2, 6, len(commands), len(body), 0x80000000, 0) + body
    )


def write_cache(directory: Path, modern: bool = True) -> Path:
    """Write the cache files into ``directory``; return the main file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    main = directory / "dyld_shared_cache_arm64e"
    length = MODERN_HEADER if modern else OLD_HEADER
    cache = bytearray(0x10000)
    # __LINKEDIT of every dylib: in the subcache (modern) or in the main file after __TEXT (old)
    linkedit_file = bytearray(0x1000 + 0x1000 * len(DYLIBS)) if modern else cache
    linkedit_base_file = 0x1000 if modern else 0x10000
    local_entries: list[tuple[int, int, int]] = []
    local_nlists, local_pool = bytearray(), bytearray(b" \0")
    for k, dylib in enumerate(DYLIBS):
        text = dylib.address + TEXT_OFFSET
        nlists, pool = strings_and_nlists(dylib.exported, text, N_SECT_EXT)
        starts = b""
        previous = dylib.address
        for offset in dylib.starts:
            starts += uleb(text + offset - previous)
            previous = text + offset
        starts += b"\0"
        fileoff = linkedit_base_file + 0x1000 * k
        place(linkedit_file, fileoff, nlists)
        place(linkedit_file, fileoff + 0x200, pool)
        place(linkedit_file, fileoff + 0x400, starts)
        commands = mach_header(
            dylib, BASE + 0x20000 + 0x1000 * k, fileoff, len(dylib.exported), len(pool), len(starts)
        )
        assert len(commands) <= TEXT_OFFSET
        place(cache, dylib.address - BASE, commands)
        place(
            cache, dylib.address - BASE + TEXT_OFFSET, bytes(range(256))[:TEXT_SIZE]
        )  # a small text segment
        entries, names = strings_and_nlists(dylib.local, text, N_SECT_LOCAL)
        # re-base the string offsets onto the shared local pool
        rebased = bytearray(entries)
        for i in range(len(dylib.local)):
            (strx,) = struct.unpack_from("<I", rebased, 16 * i)
            struct.pack_into("<I", rebased, 16 * i, strx - 2 + len(local_pool))
        local_entries.append((dylib.address - BASE, len(local_nlists) // 16, len(dylib.local)))
        local_nlists += rebased
        local_pool += names[2:]
    paths_at = 0x400
    images = bytearray()
    texts = bytearray()
    for dylib in DYLIBS:
        images += struct.pack("<QQQII", dylib.address, 0, 0, paths_at, 0)
        texts += struct.pack("<16sQII", dylib.uuid, dylib.address, 0x1000, paths_at)
        place(cache, paths_at, dylib.path.encode() + b"\0")
        paths_at += 0x40
    place(cache, 0x300, texts)
    local_info_at = 0x1000
    local_entry_format = "<QII" if modern else "<III"
    local_table = b"".join(struct.pack(local_entry_format, *e) for e in local_entries)
    info = struct.pack(
        "<IIIIII", 0x100, len(local_nlists) // 16, 0x400, len(local_pool), 0x20, len(local_entries)
    )
    local_blob = bytearray(0x400 + len(local_pool))
    place(local_blob, 0, info)
    place(local_blob, 0x20, local_table)
    place(local_blob, 0x100, bytes(local_nlists))
    place(local_blob, 0x400, bytes(local_pool))
    if modern:
        head = header(
            length,
            magic=b"dyld_v1  arm64e",
            mappingOffset=length,
            mappingCount=1,
            uuid=CACHE_UUID,
            imagesTextOffset=0x300,
            imagesTextCount=len(DYLIBS),
            subCacheArrayOffset=0x380,
            subCacheArrayCount=1,
            symbolFileUUID=SYMBOLS_UUID,
            imagesOffset=0x200,
            imagesCount=len(DYLIBS),
        )
        place(cache, 0, head)
        place(cache, length, mapping(BASE, 0x10000, 0))
        place(cache, 0x200, images)
        place(cache, 0x380, struct.pack("<16sQ32s", SUB_UUID, 0x20000, b".01"))
        sub = linkedit_file
        place(
            sub,
            0,
            header(length, magic=b"dyld_v1  arm64e", mappingOffset=length, mappingCount=1, uuid=SUB_UUID),
        )
        place(sub, length, mapping(BASE + 0x20000, 0x1000 * len(DYLIBS), 0x1000))
        (directory / (main.name + ".01")).write_bytes(bytes(sub))
        symbols = bytearray(
            header(
                length,
                magic=b"dyld_v1  arm64e",
                mappingOffset=length,
                mappingCount=0,
                uuid=SYMBOLS_UUID,
                localSymbolsOffset=local_info_at,
                localSymbolsSize=len(local_blob),
            )
        )
        place(symbols, local_info_at, local_blob)
        (directory / (main.name + ".symbols")).write_bytes(bytes(symbols))
    else:
        local_at = 0x10000 + 0x1000 * len(DYLIBS)
        head = header(
            length,
            magic=b"dyld_v1  arm64e",
            mappingOffset=length,
            mappingCount=2,
            imagesOffsetOld=0x200,
            imagesCountOld=len(DYLIBS),
            uuid=CACHE_UUID,
            localSymbolsOffset=local_at,
            localSymbolsSize=len(local_blob),
            imagesTextOffset=0x300,
            imagesTextCount=len(DYLIBS),
        )
        place(cache, 0, head)
        place(
            cache, length, mapping(BASE, 0x10000, 0) + mapping(BASE + 0x20000, 0x1000 * len(DYLIBS), 0x10000)
        )
        place(cache, 0x200, images)
        place(cache, local_at, local_blob)
    main.write_bytes(bytes(cache))
    return main

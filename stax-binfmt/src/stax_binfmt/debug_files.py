"""Separate debug files: where the one for an ELF image may be, and whether a candidate is it.

gdb's order (gdb manual, "Separate Debug Files"), which stax-symbols (names, lines) and the
unwinder (``.debug_frame``) both follow through :func:`separate_debug_files`:

1. ``<root>/.build-id/xx/rest.debug`` for each debug root (Debian's ``-dbgsym`` packages
   install there);
2. the image's ``.gnu_debuglink`` name beside it, in ``.debug/`` beside it, and under each
   root followed by the image's directory.  ``objcopy --add-gnu-debuglink`` stores the file
   name (NUL-terminated, padded to 4 bytes) and the CRC32 of the debug file's contents; a
   candidate whose CRC differs is never used.

Then :func:`mismatch` says whether a candidate found either way carries the image's build
id: a stale debug package would name every frame (and unwind every stack) wrongly.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator, Sequence

import attrs

from stax_binfmt.elf import ElfFormatError, read_headers, read_section

SYSTEM_DEBUG_ROOT = "/usr/lib/debug"
"""Where distributions install debug files; always searched last."""


@attrs.frozen(slots=True)
class DebugLink:
    """The contents of a .gnu_debuglink section."""

    name: str
    crc: int


@attrs.frozen(slots=True)
class Candidate:
    """A file that may be an image's separate debug file, and how it was found."""

    path: str
    origin: str
    """``build-id`` or ``debuglink``."""
    crc_checked: bool
    """Its CRC32 matched the image's debug link (so it belongs even without a build id)."""


def parse_debuglink(data: bytes, little_endian: bool) -> DebugLink | None:
    """The debug link held in a .gnu_debuglink section's bytes, or None if they are not one."""
    end = data.find(b"\0")
    if end <= 0:
        return None
    crc_at = (end + 4) & ~3  # the name, its NUL, then padding to a 4-byte boundary
    if crc_at + 4 > len(data):
        return None
    name = data[:end].decode("utf-8", "replace")
    if "/" in name:
        return None  # a bare file name by definition; a path here would escape the search dirs
    return DebugLink(name, int.from_bytes(data[crc_at : crc_at + 4], "little" if little_endian else "big"))


def read_debuglink(path: str) -> DebugLink | None:
    """The debug link of the ELF file at ``path``, or None if it has none or cannot be read."""
    try:
        with open(path, "rb") as stream:
            headers = read_headers(stream)
            found = read_section(stream, headers, ".gnu_debuglink")
    except (OSError, ElfFormatError):
        return None
    return parse_debuglink(found[0], headers.header.little_endian) if found is not None else None


def build_id_path(root: str, build_id: bytes) -> str:
    """``<root>/.build-id/xx/rest.debug``: the first byte names the directory."""
    hex_id = build_id.hex()
    return os.path.join(root, ".build-id", hex_id[:2], hex_id[2:] + ".debug")


def candidate_paths(binary_path: str, link: DebugLink, debug_roots: Sequence[str]) -> list[str]:
    """Where the linked file may be, in gdb's order."""
    directory = os.path.dirname(os.path.realpath(binary_path))
    paths = [os.path.join(directory, link.name), os.path.join(directory, ".debug", link.name)]
    for root in debug_roots:
        paths.append(os.path.join(root, directory.lstrip("/"), link.name))
    seen: set[str] = set()
    return [p for p in paths if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def file_crc32(path: str) -> int:
    """CRC32 (the zlib/ISO-HDLC polynomial gdb uses) of the whole file at ``path``."""
    crc = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc & 0xFFFFFFFF


def separate_debug_files(
    path: str,
    build_id: bytes | None,
    debug_roots: Sequence[str],
    *,
    debuglink: bool = True,
    warn: Callable[[str], None] | None = None,
) -> Iterator[Candidate]:
    """The existing files that may be the debug file of the image at ``path``, in gdb's order.

    Lazy: the caller stops at the first it can use, so the debug link is read, and CRCs are
    computed, only when the build-id directories had nothing.  ``debuglink`` False skips the
    debug link (an image not on disk has none to read).  A debug-link candidate whose CRC
    does not match, or that cannot be read, is not yielded; ``warn`` gets one sentence why.
    """
    if build_id is not None and len(build_id) > 1:
        for root in debug_roots:
            candidate = build_id_path(root, build_id)
            if os.path.isfile(candidate):
                yield Candidate(candidate, "build-id", False)
    if not debuglink:
        return
    link = read_debuglink(path)
    if link is None:
        return
    own = os.path.realpath(path)
    for candidate in candidate_paths(path, link, debug_roots):
        if os.path.realpath(candidate) == own or not os.path.isfile(candidate):
            continue
        try:
            crc = file_crc32(candidate)
        except OSError as exc:
            if warn is not None:
                warn(f"Cannot read the debug file {candidate}: {exc.strerror or exc}.")
            continue
        if crc != link.crc:
            if warn is not None:
                warn(f"The debug file {candidate} does not match {path} (CRC32 {crc:08x}, the"
                     f" debug link expects {link.crc:08x}), so it was ignored.")
            continue
        yield Candidate(candidate, "debuglink", True)


def mismatch(candidate: Candidate, candidate_build_id: bytes | None, image_path: str,
             image_build_id: bytes | None) -> str | None:
    """Why ``candidate`` is not the debug file of the image (one sentence), or None if it is.

    Its build id must be the image's; one without a build id is taken only when the debug
    link's CRC vouched for it.  An image without a build id accepts anything found.
    """
    if image_build_id is None:
        return None
    if candidate_build_id is not None and candidate_build_id != image_build_id:
        return (f"The debug file {candidate.path} belongs to another build of {image_path} (build id"
                f" {candidate_build_id.hex()}, the image has {image_build_id.hex()}), so it was ignored.")
    if candidate_build_id is None and not candidate.crc_checked:
        return (f"The debug file {candidate.path} has no build id to prove it belongs to {image_path},"
                " so it was ignored.")
    return None

"""Turn ``stax symbolize FILE ADDR...`` into what symbol sources take: images, offsets, options.

Addresses are the file's own (link-time) virtual addresses, what ``addr2line -e`` and
``llvm-symbolizer --obj`` take: for ELF the address goes through the PT_LOAD headers to a
file offset; for Mach-O it becomes an offset from ``__TEXT`` of the chosen slice; for a dyld
shared cache it picks the dylib whose ``__TEXT`` holds it.  A debug file given with
``--debug-file`` must be of the same build, or the command stops with one sentence.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import attrs

from stax.errors import StaxError, UsageError
from stax.events import ImageKind
from stax.stack_table import Image
from stax_symbols.elf_file import ElfReadError, read_elf
from stax_symbols.macho.cache_locator import CACHE_OPTION
from stax_symbols.macho.dsym_locator import DSYM_OPTION, dsym_slice
from stax_symbols.macho.load_commands import MachoError
from stax_symbols.macho.macho_file import is_macho_file
from stax_symbols.macho.memo import PROCESS_CACHE_MEMO, PROCESS_MACHO_MEMO
from stax_symbols.macho.shared_cache import is_shared_cache
from stax_symbols.macho.symbol_source import ARCH_OPTION


@attrs.frozen(slots=True)
class Target:
    """Where one address goes: an image and the offset frames of that image carry."""

    address: int
    image: Image | None
    offset: int | None


@attrs.frozen(slots=True)
class Plan:
    kind: str
    """``elf``, ``macho`` or ``dyld-shared-cache``."""
    arch: str | None
    targets: tuple[Target, ...]
    options: dict[str, object]


def plan(
    path: str,
    addresses: Sequence[int],
    arch: str | None,
    debug_file: str | None,
    debug_dirs: Sequence[str],
    scratch: str,
) -> Plan:
    """The images and offsets for ``addresses`` in ``path`` (raises StaxError, one sentence);
    ``scratch`` is a temporary directory for the duration of the command."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(64)
    except IsADirectoryError:
        raise UsageError(
            f"{path} is a directory; give the binary itself (for a .dSYM, its binary with --debug-file)."
        ) from None
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    options: dict[str, object] = {"debuginfod": False, "debug_dirs": [os.path.abspath(d) for d in debug_dirs]}
    if head.startswith(b"\x7fELF"):
        if arch:
            raise UsageError(f"{path} is an ELF file, which has one architecture; drop --arch.")
        return _elf(path, addresses, debug_file, options, scratch)
    if is_macho_file(head):
        return _macho(path, addresses, arch, debug_file, options)
    if is_shared_cache(head):
        return _shared_cache(path, addresses, options)
    raise UsageError(f"{path} is not an ELF, Mach-O or dyld shared cache file.")


def _elf(
    path: str, addresses: Sequence[int], debug_file: str | None, options: dict[str, object], scratch: str
) -> Plan:
    try:
        with open(path, "rb") as stream:
            elf = read_elf(stream, path)
    except ElfReadError as exc:
        raise StaxError(str(exc)) from None
    if debug_file:
        _adopt_elf_debug_file(path, elf.build_id, debug_file, options, scratch)
    image = Image(0, os.path.abspath(path), ImageKind.ELF, elf.build_id)
    targets = []
    for address in addresses:
        offset = elf.segments.offset_for_vaddr(address)
        targets.append(Target(address, image if offset is not None else None, offset))
    return Plan("elf", None, tuple(targets), options)


def _adopt_elf_debug_file(
    path: str, build_id: bytes | None, debug_file: str, options: dict[str, object], root: str
) -> None:
    """Check the debug file is of this build, then serve it through a build-id directory, the
    way the debug-file chain finds every other one."""
    try:
        with open(debug_file, "rb") as stream:
            debug = read_elf(stream, debug_file)
    except (ElfReadError, OSError) as exc:
        raise StaxError(
            str(exc) if isinstance(exc, ElfReadError) else f"Cannot read {debug_file}: {exc.strerror or exc}."
        ) from None
    if build_id is None:
        raise StaxError(
            f"{path} has no build id, so {debug_file} cannot be matched to it; rebuild with -Wl,--build-id."
        )
    if debug.build_id != build_id:
        found = debug.build_id.hex() if debug.build_id else "none"
        raise StaxError(
            f"{debug_file} is not the debug file of {path} (build id {found},"
            f" expected {build_id.hex()}); give the one split from this build."
        )
    hex_id = build_id.hex()
    link = os.path.join(root, ".build-id", hex_id[:2], hex_id[2:] + ".debug")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(os.path.abspath(debug_file), link)
    options["debug_dirs"] = [root, *options["debug_dirs"]]  # type: ignore[misc]


def _macho(
    path: str, addresses: Sequence[int], arch: str | None, debug_file: str | None, options: dict[str, object]
) -> Plan:
    try:
        chosen = PROCESS_MACHO_MEMO.load(path).select(arch=arch)
    except MachoError as exc:
        raise StaxError(_sentence(str(exc))) from None
    uuid = chosen.image.uuid
    if debug_file:
        if uuid is None:
            raise StaxError(f"{path} has no LC_UUID, so {debug_file} cannot be matched to it.")
        try:
            dsym_slice(debug_file, uuid, path)
        except MachoError as exc:
            raise StaxError(_sentence(str(exc))) from None
        options[DSYM_OPTION] = debug_file
    if arch:
        options[ARCH_OPTION] = arch
    image = Image(0, os.path.abspath(path), ImageKind.MACHO, uuid)
    base = chosen.image.text_vmaddr
    targets = [Target(a, image if a >= base else None, a - base if a >= base else None) for a in addresses]
    return Plan("macho", chosen.image.arch, tuple(targets), options)


def _shared_cache(path: str, addresses: Sequence[int], options: dict[str, object]) -> Plan:
    try:
        cache = PROCESS_CACHE_MEMO.load(path)
    except MachoError as exc:
        raise StaxError(_sentence(str(exc))) from None
    options[CACHE_OPTION] = [path]
    images: dict[str, Image] = {}
    targets = []
    for address in addresses:
        found = cache.image_at(address)  # type: ignore[attr-defined]
        if found is None:
            targets.append(Target(address, None, None))
            continue
        image = images.setdefault(found.path, Image(len(images), found.path, ImageKind.MACHO, found.uuid))
        targets.append(Target(address, image, address - found.address))
    return Plan("dyld-shared-cache", None, tuple(targets), options)


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."

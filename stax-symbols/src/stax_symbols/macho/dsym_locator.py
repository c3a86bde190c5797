"""Where the dSYM of a Mach-O image is, and whether it is the right one.

dsymutil links the DWARF of an image into a bundle ``NAME.dSYM/Contents/Resources/DWARF/NAME``
(a Mach-O file of filetype MH_DSYM with the image's UUID and segments).  Searched in order:

1. a dSYM given explicitly (``stax symbolize --debug-file``; the ``dsym`` symbol option);
2. ``<binary>.dSYM`` beside the binary (where Xcode and dsymutil put it);
3. for each debug directory (``STAX_DEBUG_DIRS``, the ``debug_dirs`` option, the same
   roots :func:`~stax_symbols.debug_file_locator.debug_roots` gives ELF's search):
   ``<dir>/<name>.dSYM``, then every ``*.dSYM`` in it.

A candidate counts only if one of its slices has the image's UUID; a bundle with another
UUID (a stale dSYM of an earlier build) is refused in one sentence, because its lines
would be confidently wrong.  (Spotlight's ``mdfind com_apple_xcode_dsym_uuids`` lookup is
not done: it exists only on a Mac.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from stax_symbols.macho.image_uuid import mismatch
from stax_symbols.macho.load_commands import MachoError
from stax_symbols.macho.macho_file import MachoSlice
from stax_symbols.macho.memo import PROCESS_MACHO_MEMO, MachoMemo

DSYM_OPTION = "dsym"
_DWARF_DIR = os.path.join("Contents", "Resources", "DWARF")


@attrs.frozen(slots=True)
class DsymSearch:
    found: MachoSlice | None
    warnings: tuple[str, ...] = ()


def dwarf_files(candidate: str) -> list[str]:
    """The DWARF files of a ``.dSYM`` bundle, or ``[candidate]`` if it is a file."""
    if not os.path.isdir(candidate):
        return [candidate]
    directory = os.path.join(candidate, _DWARF_DIR)
    try:
        return [os.path.join(directory, name) for name in sorted(os.listdir(directory))]
    except OSError:
        return []


def dsym_slice(candidate: str, uuid: bytes, binary: str, memo: MachoMemo | None = None) -> MachoSlice:
    """The slice of the dSYM ``candidate`` (bundle or DWARF file) with ``uuid``; raises
    MachoError with one sentence when it has none or cannot be read."""
    memo = memo or PROCESS_MACHO_MEMO
    files = dwarf_files(candidate)
    if not files:
        raise MachoError(f"{candidate} holds no DWARF file (expected {_DWARF_DIR}/NAME inside the bundle).")
    found_uuid = None
    for path in files:
        macho = memo.load(path)
        for s in macho.slices:
            if s.image.uuid == uuid:
                return s
            found_uuid = found_uuid or s.image.uuid
    raise MachoError(
        mismatch(candidate, uuid, found_uuid, f"the dSYM of {binary}", f"rebuild it with: dsymutil {binary}")
        or ""
    )


def find_dsym(
    binary: str,
    uuid: bytes,
    options: Mapping[str, object],
    debug_dirs: list[str],
    memo: MachoMemo | None = None,
) -> DsymSearch:
    """The first candidate whose UUID matches, with a sentence for each that did not."""
    warnings: list[str] = []
    explicit = options.get(DSYM_OPTION)
    candidates = [str(explicit)] if explicit else []
    candidates.append(binary + ".dSYM")
    name = os.path.basename(binary)
    for directory in debug_dirs:
        candidates.append(os.path.join(directory, name + ".dSYM"))
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            continue
        candidates.extend(os.path.join(directory, e) for e in entries if e.endswith(".dSYM"))
    named = set(candidates[: 1 + bool(explicit)]) | {os.path.join(d, name + ".dSYM") for d in debug_dirs}
    for candidate in dict.fromkeys(candidates):
        if not os.path.exists(candidate):
            continue
        try:
            return DsymSearch(dsym_slice(candidate, uuid, binary, memo), tuple(warnings))
        except MachoError as exc:
            if candidate in named:  # other bundles in a directory are someone else's: no noise
                warnings.append(str(exc))
    return DsymSearch(None, tuple(warnings))

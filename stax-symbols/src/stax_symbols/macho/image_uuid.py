"""Mach-O UUIDs (``LC_UUID``): the identity of one build of one architecture.

The linker writes a UUID into every image and dsymutil copies it into the dSYM's DWARF
file, so the UUID plays the part the GNU build id plays for ELF: a recording keeps it as
the image's ``build_id``, a dSYM is accepted only with the binary's UUID, and dyld shared
cache images are found by it.  Apple's tools print UUIDs as 8-4-4-4-12 upper-case hex
(``dwarfdump --uuid``), so messages do too.
"""

from __future__ import annotations


def uuid_text(uuid: bytes | None) -> str:
    """``4C4C444A-5555-3144-A151-3A50AD099DAE``, or ``none``."""
    if not uuid:
        return "none"
    h = uuid.hex().upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" if len(h) == 32 else h


def mismatch(label: str, expected: bytes | None, found: bytes | None, what: str, remedy: str) -> str | None:
    """One sentence when ``found`` is not ``expected`` (None when they agree or nothing was
    expected): ``label`` is the file, ``what`` names what it was meant to be."""
    if expected is None or expected == found:
        return None
    return (
        f"{label} is not {what} (UUID {uuid_text(found)}, expected {uuid_text(expected)}),"
        f" so it is not used; {remedy}."
    )

"""DWARF attribute encodings: abbreviation tables, and reading or skipping one form.

The DIE walk in :mod:`.inlines` visits every DIE of a compile unit, so this is the
hot path of DWARF symbolication.  pyelftools builds an object per DIE and attribute
(~25 µs per DIE, ~20 s for libpython); here each abbreviation is compiled once into a
plan: DIEs we do not need are skipped by a byte count when all their forms have a fixed
size, and only the attributes of subprograms and inlined subroutines are decoded.

Numbers (DW_FORM_*, DW_AT_*, DW_TAG_*) are from DWARF 5, section 7.5 and figures 20-21.
"""

from __future__ import annotations

import struct

import attrs

from stax_binfmt.leb128 import read_sleb128, read_uleb128, skip_leb128

# Tags (DWARF 5, 7.5.3, table 7.3).
TAG_COMPILE_UNIT = 0x11
TAG_PARTIAL_UNIT = 0x3C
TAG_SKELETON_UNIT = 0x4A
TAG_SUBPROGRAM = 0x2E
TAG_INLINED_SUBROUTINE = 0x1D
TAG_LEXICAL_BLOCK = 0x0B
# Types whose children (members, enumerators) never hold code: skipped via DW_AT_sibling.
TYPE_TAGS = frozenset({0x01, 0x02, 0x04, 0x13, 0x15, 0x17})  # array, class, enum, struct, subroutine, union

# Attributes (7.5.4, table 7.5).
AT_SIBLING = 0x01
AT_NAME = 0x03
AT_STMT_LIST = 0x10
AT_LOW_PC = 0x11
AT_HIGH_PC = 0x12
AT_COMP_DIR = 0x1B
AT_ABSTRACT_ORIGIN = 0x31
AT_SPECIFICATION = 0x47
AT_ENTRY_PC = 0x52
AT_RANGES = 0x55
AT_CALL_FILE = 0x58
AT_CALL_LINE = 0x59
AT_LINKAGE_NAME = 0x6E
AT_STR_OFFSETS_BASE = 0x72
AT_ADDR_BASE = 0x73
AT_RNGLISTS_BASE = 0x74
AT_MIPS_LINKAGE_NAME = 0x2007

# Forms (7.5.6, table 7.6) and the GNU extensions gcc and dwz emit.
FORM_ADDR = 0x01
FORM_BLOCK2 = 0x03
FORM_BLOCK4 = 0x04
FORM_DATA2 = 0x05
FORM_DATA4 = 0x06
FORM_DATA8 = 0x07
FORM_STRING = 0x08
FORM_BLOCK = 0x09
FORM_BLOCK1 = 0x0A
FORM_DATA1 = 0x0B
FORM_FLAG = 0x0C
FORM_SDATA = 0x0D
FORM_STRP = 0x0E
FORM_UDATA = 0x0F
FORM_REF_ADDR = 0x10
FORM_REF1 = 0x11
FORM_REF2 = 0x12
FORM_REF4 = 0x13
FORM_REF8 = 0x14
FORM_REF_UDATA = 0x15
FORM_INDIRECT = 0x16
FORM_SEC_OFFSET = 0x17
FORM_EXPRLOC = 0x18
FORM_FLAG_PRESENT = 0x19
FORM_STRX = 0x1A
FORM_ADDRX = 0x1B
FORM_REF_SUP4 = 0x1C
FORM_STRP_SUP = 0x1D
FORM_DATA16 = 0x1E
FORM_LINE_STRP = 0x1F
FORM_REF_SIG8 = 0x20
FORM_IMPLICIT_CONST = 0x21
FORM_LOCLISTX = 0x22
FORM_RNGLISTX = 0x23
FORM_REF_SUP8 = 0x24
FORM_STRX1 = 0x25
FORM_STRX2 = 0x26
FORM_STRX3 = 0x27
FORM_STRX4 = 0x28
FORM_ADDRX1 = 0x29
FORM_ADDRX2 = 0x2A
FORM_ADDRX3 = 0x2B
FORM_ADDRX4 = 0x2C
FORM_GNU_ADDR_INDEX = 0x1F01
FORM_GNU_STR_INDEX = 0x1F02
FORM_GNU_REF_ALT = 0x1F20
FORM_GNU_STRP_ALT = 0x1F21

CONSTANT_FORMS = frozenset({FORM_DATA1, FORM_DATA2, FORM_DATA4, FORM_DATA8, FORM_SDATA, FORM_UDATA,
                            FORM_IMPLICIT_CONST})
"""Forms of the constant class: DW_AT_high_pc in one of these is a length, not an address."""
CU_REF_FORMS = frozenset({FORM_REF1, FORM_REF2, FORM_REF4, FORM_REF8, FORM_REF_UDATA})
"""References relative to the start of their unit."""
INDEXED_STRING_FORMS = frozenset({FORM_STRX, FORM_STRX1, FORM_STRX2, FORM_STRX3, FORM_STRX4,
                                  FORM_GNU_STR_INDEX})
INDEXED_ADDRESS_FORMS = frozenset({FORM_ADDRX, FORM_ADDRX1, FORM_ADDRX2, FORM_ADDRX3, FORM_ADDRX4,
                                   FORM_GNU_ADDR_INDEX})


class DwarfError(Exception):
    """Debug info this reader cannot follow (a damaged file or an unsupported encoding)."""


def read_cstring(data: bytes, pos: int) -> str:
    """The NUL-terminated string at ``pos`` (names are UTF-8; bad bytes are replaced)."""
    end = data.index(b"\0", pos)
    return data[pos:end].decode("utf-8", "replace")


@attrs.frozen(slots=True)
class Encoding:
    """What the size of forms depends on: offset size (4 or 8), address size, version."""

    offset_size: int
    address_size: int
    version: int
    little_endian: bool = True
    fixed_sizes: dict[int, int] = attrs.field(init=False, eq=False, hash=False, repr=False)
    """DW_FORM_* -> byte size, for the forms whose size does not depend on their value."""

    def __attrs_post_init__(self) -> None:
        sizes = _fixed_sizes(self.offset_size, self.address_size, self.version)
        object.__setattr__(self, "fixed_sizes", sizes)


def fixed_form_size(form: int, enc: Encoding) -> int | None:
    """Bytes a form occupies when that is known without reading it, else None."""
    return enc.fixed_sizes.get(form)


def _fixed_sizes(offset_size: int, address_size: int, version: int) -> dict[int, int]:
    """DW_FORM_* -> size in bytes of every form whose size is known from the encoding (7.5.6)."""
    sizes = dict.fromkeys((FORM_DATA1, FORM_REF1, FORM_FLAG, FORM_STRX1, FORM_ADDRX1), 1)
    sizes.update(dict.fromkeys((FORM_DATA2, FORM_REF2, FORM_STRX2, FORM_ADDRX2), 2))
    sizes.update(dict.fromkeys((FORM_STRX3, FORM_ADDRX3), 3))
    sizes.update(dict.fromkeys((FORM_DATA4, FORM_REF4, FORM_STRX4, FORM_ADDRX4, FORM_REF_SUP4), 4))
    sizes.update(dict.fromkeys((FORM_DATA8, FORM_REF8, FORM_REF_SIG8, FORM_REF_SUP8), 8))
    sizes[FORM_DATA16] = 16
    sizes[FORM_FLAG_PRESENT] = sizes[FORM_IMPLICIT_CONST] = 0
    sizes[FORM_ADDR] = address_size
    sizes.update(dict.fromkeys((FORM_STRP, FORM_SEC_OFFSET, FORM_LINE_STRP, FORM_STRP_SUP, FORM_GNU_REF_ALT,
                                FORM_GNU_STRP_ALT), offset_size))
    # DWARF 2 made ref_addr address-sized; DWARF 3 and later offset-sized (7.5.5).
    sizes[FORM_REF_ADDR] = address_size if version <= 2 else offset_size
    return sizes


_UNSIGNED = {1: "B", 2: "H", 4: "I", 8: "Q"}


def unsigned_reader(size: int, little_endian: bool = True) -> struct.Struct:
    return struct.Struct(("<" if little_endian else ">") + _UNSIGNED[size])


def skip_form(form: int, data: bytes, pos: int, enc: Encoding) -> int:
    """The position after one attribute value of ``form`` at ``pos``."""
    size = fixed_form_size(form, enc)
    if size is not None:
        return pos + size
    if form in (FORM_UDATA, FORM_SDATA, FORM_REF_UDATA, FORM_STRX, FORM_ADDRX, FORM_LOCLISTX,
                FORM_RNGLISTX, FORM_GNU_ADDR_INDEX, FORM_GNU_STR_INDEX):
        return skip_leb128(data, pos)
    if form == FORM_STRING:
        return data.index(b"\0", pos) + 1
    if form in (FORM_EXPRLOC, FORM_BLOCK):
        length, pos = read_uleb128(data, pos)
        return pos + length
    if form == FORM_BLOCK1:
        return pos + 1 + data[pos]
    if form == FORM_BLOCK2:
        return pos + 2 + int.from_bytes(data[pos : pos + 2], "little" if enc.little_endian else "big")
    if form == FORM_BLOCK4:
        return pos + 4 + int.from_bytes(data[pos : pos + 4], "little" if enc.little_endian else "big")
    if form == FORM_INDIRECT:
        real, pos = read_uleb128(data, pos)
        return skip_form(real, data, pos, enc)
    raise DwarfError(f"unknown attribute form {form:#x}")


def read_form(form: int, data: bytes, pos: int, enc: Encoding) -> tuple[object, int]:
    """One attribute value, undecoded beyond its form: integers for references, offsets,
    indexes and constants; ``str`` for inline strings; ``bytes`` for blocks.

    The caller knows which section an offset or index points into (strp -> .debug_str,
    strx -> .debug_str_offsets, ...), so it resolves them.
    """
    size = fixed_form_size(form, enc)
    if size is not None:
        if size == 0:
            return True, pos  # flag_present; implicit_const values come from the abbreviation
        order = "little" if enc.little_endian else "big"
        return int.from_bytes(data[pos : pos + size], order), pos + size
    if form in (FORM_UDATA, FORM_REF_UDATA, FORM_STRX, FORM_ADDRX, FORM_LOCLISTX, FORM_RNGLISTX,
                FORM_GNU_ADDR_INDEX, FORM_GNU_STR_INDEX):
        return read_uleb128(data, pos)
    if form == FORM_SDATA:
        return read_sleb128(data, pos)
    if form == FORM_STRING:
        end = data.index(b"\0", pos)
        return data[pos:end].decode("utf-8", "replace"), end + 1
    if form == FORM_INDIRECT:
        real, pos = read_uleb128(data, pos)
        return read_form(real, data, pos, enc)
    end = skip_form(form, data, pos, enc)
    return bytes(data[pos:end]), end


@attrs.frozen(slots=True)
class Abbrev:
    """One abbreviation declaration, with a precomputed way to skip DIEs that use it.

    ``fixed_size`` is the byte size of all attribute values when no form is variable-length
    (the common case for types, variables and parameters), so skipping is one addition.
    """

    code: int
    tag: int
    has_children: bool
    attributes: tuple[tuple[int, int, int], ...]
    """(DW_AT_*, DW_FORM_*, implicit constant) in declaration order."""
    fixed_size: int | None
    has_sibling: bool
    skip_plan: tuple[int, ...] | None
    """Steps to skip the attribute values: a byte count (>= 0) or one of the ``_SKIP_*`` codes;
    None when a rare form needs the general :func:`skip_form`."""


def read_abbrev_table(data: bytes, offset: int, enc: Encoding) -> dict[int, Abbrev]:
    """The abbreviation table at ``offset`` in .debug_abbrev (DWARF 5, 7.5.3)."""
    table: dict[int, Abbrev] = {}
    pos = offset
    while True:
        code, pos = read_uleb128(data, pos)
        if code == 0:
            return table
        table[code], pos = _read_declaration(data, pos, code, enc)


def read_abbrev(data: bytes, offset: int, wanted: int, enc: Encoding) -> Abbrev | None:
    """Declaration ``wanted`` of the abbreviation table at ``offset``, or None if it has none.

    The declarations before it are stepped over without being compiled: a unit's top DIE
    needs one declaration, and its table may hold hundreds (7.5.3).
    """
    pos = offset
    while True:
        code, pos = read_uleb128(data, pos)
        if code == 0:
            return None
        if code == wanted:
            return _read_declaration(data, pos, code, enc)[0]
        pos = skip_leb128(data, pos) + 1  # tag, DW_CHILDREN_*
        while True:
            name, pos = read_uleb128(data, pos)
            form, pos = read_uleb128(data, pos)
            if name == 0 and form == 0:
                break
            if form == FORM_IMPLICIT_CONST:
                pos = skip_leb128(data, pos)


def _read_declaration(data: bytes, pos: int, code: int, enc: Encoding) -> tuple[Abbrev, int]:
    """One declaration after its code: tag, children flag, (attribute, form) specifications."""
    tag, pos = read_uleb128(data, pos)
    has_children = data[pos] != 0
    pos += 1
    attributes = []
    while True:
        name, pos = read_uleb128(data, pos)
        form, pos = read_uleb128(data, pos)
        if name == 0 and form == 0:
            break
        implicit = 0
        if form == FORM_IMPLICIT_CONST:
            implicit, pos = read_sleb128(data, pos)
        attributes.append((name, form, implicit))
    plan = _skip_plan(attributes, enc)
    total = sum(plan) if plan is not None and (not plan or min(plan) >= 0) else None
    abbrev = Abbrev(code, tag, has_children, tuple(attributes), total,
                    any(a[0] == AT_SIBLING for a in attributes), plan)
    return abbrev, pos


_SKIP_LEB = -1
_SKIP_CSTRING = -2
_SKIP_ULEB_BLOCK = -3
_SKIP_BLOCK1 = -4
_LEB_FORMS = frozenset({FORM_UDATA, FORM_SDATA, FORM_REF_UDATA, FORM_STRX, FORM_ADDRX, FORM_LOCLISTX,
                        FORM_RNGLISTX, FORM_GNU_ADDR_INDEX, FORM_GNU_STR_INDEX})


def _skip_plan(attributes: list[tuple[int, int, int]], enc: Encoding) -> tuple[int, ...] | None:
    """Compile the forms of an abbreviation into skip steps, merging runs of fixed sizes."""
    plan: list[int] = []
    for _name, form, _implicit in attributes:
        size = fixed_form_size(form, enc)
        if size is not None:
            if plan and plan[-1] >= 0:
                plan[-1] += size
            else:
                plan.append(size)
        elif form in _LEB_FORMS:
            plan.append(_SKIP_LEB)
        elif form == FORM_STRING:
            plan.append(_SKIP_CSTRING)
        elif form in (FORM_EXPRLOC, FORM_BLOCK):
            plan.append(_SKIP_ULEB_BLOCK)
        elif form == FORM_BLOCK1:
            plan.append(_SKIP_BLOCK1)
        else:
            return None
    return tuple(plan)


Attributes = dict[int, tuple[int, object]]
"""{DW_AT_*: (DW_FORM_*, raw value)} of one DIE."""


def read_attributes(abbrev: Abbrev, data: bytes, pos: int, enc: Encoding) -> tuple[Attributes, int]:
    """All attributes of one DIE as {DW_AT_*: (form, raw value)}, and the position after them."""
    values: Attributes = {}
    for name, form, implicit in abbrev.attributes:
        if form == FORM_IMPLICIT_CONST:
            values[name] = (form, implicit)
            continue
        if form == FORM_INDIRECT:
            form, pos = read_uleb128(data, pos)
        value, pos = read_form(form, data, pos, enc)
        values[name] = (form, value)
    return values, pos


def skip_attributes(abbrev: Abbrev, data: bytes, pos: int, enc: Encoding) -> int:
    """The position after the attributes of one DIE, reading only what variable forms need."""
    if abbrev.fixed_size is not None:
        return pos + abbrev.fixed_size
    if abbrev.skip_plan is None:
        # rare forms (block2/4, indirect, unknown): skip attribute by attribute
        for _name, form, _implicit in abbrev.attributes:
            pos = skip_form(form, data, pos, enc)
        return pos
    for step in abbrev.skip_plan:
        if step >= 0:
            pos += step
        elif step == _SKIP_LEB:
            while data[pos] & 0x80:
                pos += 1
            pos += 1
        elif step == _SKIP_ULEB_BLOCK:
            length, pos = read_uleb128(data, pos)
            pos += length
        elif step == _SKIP_CSTRING:
            pos = data.index(b"\0", pos) + 1
        elif step == _SKIP_BLOCK1:
            pos += 1 + data[pos]
    return pos



# Steps of a compiled reader (see compile_reader): (op, attribute, form, n).
_OP_SKIP = 0  # n fixed bytes
_OP_UNSIGNED = 1  # an n-byte unsigned value
_OP_CONSTANT = 2  # no bytes: the value is n (implicit_const, flag_present)
_OP_READ = 3  # a variable-size value: read_form
_OP_SKIP_LEB = 4
_OP_SKIP_BLOCK = 5  # ULEB length, then that many bytes (exprloc, block)
_OP_SKIP_FORM = 6  # anything else: skip_form

ReaderSteps = tuple[tuple[int, int, int, int], ...]


def compile_reader(abbrev: Abbrev, enc: Encoding, wanted: frozenset[int]) -> ReaderSteps:
    """Steps that read only the ``wanted`` attributes of DIEs using ``abbrev`` and skip the rest.

    Subprogram DIEs carry a dozen attributes (decl_file, type, frame_base, ...) of which the
    inline walk needs a few; skipping by precomputed sizes halves the cost of reading them.
    """
    steps: list[tuple[int, int, int, int]] = []
    for name, form, implicit in abbrev.attributes:
        size = fixed_form_size(form, enc) if form != FORM_INDIRECT else None
        if name in wanted:
            if form == FORM_IMPLICIT_CONST:
                steps.append((_OP_CONSTANT, name, form, implicit))
            elif size == 0:
                steps.append((_OP_CONSTANT, name, form, 1))
            elif size is not None and size <= 8:
                steps.append((_OP_UNSIGNED, name, form, size))
            else:
                steps.append((_OP_READ, name, form, 0))
        elif size is not None:
            if steps and steps[-1][0] == _OP_SKIP:
                steps[-1] = (_OP_SKIP, 0, 0, steps[-1][3] + size)
            elif size:
                steps.append((_OP_SKIP, 0, 0, size))
        elif form in _LEB_FORMS:
            steps.append((_OP_SKIP_LEB, 0, form, 0))
        elif form in (FORM_EXPRLOC, FORM_BLOCK):
            steps.append((_OP_SKIP_BLOCK, 0, form, 0))
        else:
            steps.append((_OP_SKIP_FORM, 0, form, 0))
    return tuple(steps)


def read_selected(steps: ReaderSteps, data: bytes, pos: int, enc: Encoding) -> tuple[Attributes, int]:
    """Run a :func:`compile_reader` plan: the wanted attributes, and the position after the DIE."""
    values: Attributes = {}
    order = "little" if enc.little_endian else "big"
    for op, name, form, n in steps:
        if op == _OP_SKIP:
            pos += n
        elif op == _OP_UNSIGNED:
            values[name] = (form, int.from_bytes(data[pos : pos + n], order))
            pos += n
        elif op == _OP_CONSTANT:
            values[name] = (form, n)
        elif op == _OP_READ:
            if form == FORM_INDIRECT:
                form, pos = read_uleb128(data, pos)
            value, pos = read_form(form, data, pos, enc)
            values[name] = (form, value)
        elif op == _OP_SKIP_LEB:
            while data[pos] & 0x80:
                pos += 1
            pos += 1
        elif op == _OP_SKIP_BLOCK:
            length, pos = read_uleb128(data, pos)
            pos += length
        else:
            pos = skip_form(form, data, pos, enc)
    return values, pos

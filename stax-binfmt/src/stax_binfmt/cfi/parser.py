"""CIE and FDE records of ``.eh_frame`` / ``.debug_frame``, and the CFA programs in them.

References:

* DWARF 5 §6.4.1 (the table), §6.4.2 (call frame instructions), §7.24 (encodings).
* LSB 5.0 Core §10.6.1 "The .eh_frame section": the differences from
  ``.debug_frame`` — a CIE id of 0 (``.debug_frame``: 0xffffffff), an FDE's CIE
  pointer relative to the field itself (``.debug_frame``: a section offset), the
  ``z``/``R``/``P``/``L``/``S`` augmentations, and pc_begin encoded with the CIE's
  ``R`` pointer encoding (``.debug_frame``: an absolute address).

Only what an unwinder needs is decoded; a FDE's program is run once and its rows
cached (see :class:`CfiSection.rows_for`).
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stax_binfmt.cfi.errors import UnwindTableError
from stax_binfmt.cfi.expression import DwarfExpression
from stax_binfmt.cfi.pointer_encoding import (
    DW_EH_PE_absptr,
    DW_EH_PE_omit,
    DW_EH_PE_udata4,
    read_encoded_pointer,
)
from stax_binfmt.cfi.unwind_row import RuleKind, UnwindRow
from stax_binfmt.cfi.x86_64_registers import CALLEE_SAVED, REGISTER_COUNT, RIP, RSP
from stax_binfmt.leb128 import read_sleb128, read_uleb128

_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

# DWARF 5 §7.24, Table 7.29: call frame instruction encodings
DW_CFA_advance_loc = 0x40  # high 2 bits
DW_CFA_offset = 0x80
DW_CFA_restore = 0xC0
DW_CFA_nop = 0x00
DW_CFA_set_loc = 0x01
DW_CFA_advance_loc1 = 0x02
DW_CFA_advance_loc2 = 0x03
DW_CFA_advance_loc4 = 0x04
DW_CFA_offset_extended = 0x05
DW_CFA_restore_extended = 0x06
DW_CFA_undefined = 0x07
DW_CFA_same_value = 0x08
DW_CFA_register = 0x09
DW_CFA_remember_state = 0x0A
DW_CFA_restore_state = 0x0B
DW_CFA_def_cfa = 0x0C
DW_CFA_def_cfa_register = 0x0D
DW_CFA_def_cfa_offset = 0x0E
DW_CFA_def_cfa_expression = 0x0F
DW_CFA_expression = 0x10
DW_CFA_offset_extended_sf = 0x11
DW_CFA_def_cfa_sf = 0x12
DW_CFA_def_cfa_offset_sf = 0x13
DW_CFA_val_offset = 0x14
DW_CFA_val_offset_sf = 0x15
DW_CFA_val_expression = 0x16
DW_CFA_GNU_window_save = 0x2D
DW_CFA_GNU_args_size = 0x2E
DW_CFA_GNU_negative_offset_extended = 0x2F

# A rule while the program runs: (kind, argument).  "offset(N)" uses this extra kind.
_OFFSET = -1
Rule = tuple[int, object]


@dataclass(frozen=True, slots=True)
class Cie:
    """A Common Information Entry (DWARF 5 §6.4.1; LSB §10.6.1.1)."""

    offset: int
    version: int
    augmentation: str
    code_alignment: int
    data_alignment: int
    return_address_register: int
    fde_encoding: int
    lsda_encoding: int
    signal_frame: bool
    initial_instructions: bytes


@dataclass(frozen=True, slots=True)
class Fde:
    """A Frame Description Entry covering ``pc_begin <= pc < pc_end`` (ELF addresses)."""

    offset: int
    cie: Cie
    pc_begin: int
    pc_end: int
    instructions: bytes


class FdeRows:
    """The rows of one FDE's table, searchable by pc."""

    __slots__ = ("starts", "rows")

    def __init__(self, rows: list[UnwindRow]) -> None:
        self.rows = rows
        self.starts = [row.start for row in rows]

    def row_at(self, pc: int) -> UnwindRow | None:
        index = bisect.bisect_right(self.starts, pc) - 1
        if index < 0:
            return None
        row = self.rows[index]
        return row if pc < row.end else None


class CfiSection:
    """The bytes of one ``.eh_frame`` or ``.debug_frame`` section and where it is loaded.

    ``address`` is the section's ELF virtual address (``sh_addr``), used for
    ``pcrel`` pointers; ``.debug_frame`` has absolute addresses and no encodings.
    """

    def __init__(
        self,
        data: bytes,
        address: int,
        *,
        is_debug_frame: bool = False,
        data_base: int = 0,
        text_base: int = 0,
        read_indirect: Callable[[int], int] | None = None,
    ) -> None:
        self.data = bytes(data)
        self.address = address
        self.is_debug_frame = is_debug_frame
        self.data_base = data_base
        self.text_base = text_base
        self.read_indirect = read_indirect
        self._cies: dict[int, Cie] = {}
        self._fdes: dict[int, Fde] = {}
        self._rows: dict[int, FdeRows] = {}

    # -- entries -----------------------------------------------------------------

    def _entry_header(self, offset: int) -> tuple[int, int, int, bool] | None:
        """(end of entry, position of the id field, id value, is_64bit); None at a terminator."""
        data = self.data
        if offset + 4 > len(data):
            return None
        length = _U32.unpack_from(data, offset)[0]
        pos = offset + 4
        is_64 = False
        if length == 0xFFFFFFFF:  # DWARF 5 §7.4: 64-bit DWARF format
            length = _U64.unpack_from(data, pos)[0]
            pos += 8
            is_64 = True
        if length == 0:
            return None
        end = pos + length
        if end > len(data):
            raise UnwindTableError(f"CFI entry at {offset:#x} runs past the end of the section")
        id_pos = pos
        if is_64:
            entry_id = _U64.unpack_from(data, pos)[0]
        else:
            entry_id = _U32.unpack_from(data, pos)[0]
        return end, id_pos, entry_id, is_64

    def _is_cie_id(self, entry_id: int, is_64: bool) -> bool:
        if not self.is_debug_frame:
            return entry_id == 0
        return entry_id == (0xFFFFFFFFFFFFFFFF if is_64 else 0xFFFFFFFF)

    def cie_at(self, offset: int) -> Cie:
        """Parse (once) the CIE at a section offset."""
        cie = self._cies.get(offset)
        if cie is None:
            cie = self._parse_cie(offset)
            self._cies[offset] = cie
        return cie

    def _parse_cie(self, offset: int) -> Cie:
        header = self._entry_header(offset)
        if header is None:
            raise UnwindTableError(f"no CIE at {offset:#x}")
        end, id_pos, entry_id, is_64 = header
        if not self._is_cie_id(entry_id, is_64):
            raise UnwindTableError(f"entry at {offset:#x} is not a CIE")
        data = self.data
        pos = id_pos + (8 if is_64 else 4)
        version = data[pos]
        pos += 1
        aug_end = data.index(b"\0", pos)
        augmentation = data[pos:aug_end].decode("ascii", "replace")
        pos = aug_end + 1
        address_size = 8
        if version >= 4:  # DWARF 4+: address_size, segment_selector_size
            address_size = data[pos]
            pos += 2
        if "eh" in augmentation:
            raise UnwindTableError("the pre-DWARF2 'eh' augmentation is not supported")
        code_alignment, pos = read_uleb128(data, pos)
        data_alignment, pos = read_sleb128(data, pos)
        if version == 1:
            return_address_register = data[pos]
            pos += 1
        else:
            return_address_register, pos = read_uleb128(data, pos)
        if self.is_debug_frame:
            fde_encoding = DW_EH_PE_absptr if address_size == 8 else DW_EH_PE_udata4
        else:
            fde_encoding = DW_EH_PE_absptr
        lsda_encoding = DW_EH_PE_omit
        signal_frame = False
        if augmentation.startswith("z"):
            aug_length, pos = read_uleb128(data, pos)
            aug_data_end = pos + aug_length
            for letter in augmentation[1:]:
                if letter == "R":
                    fde_encoding = data[pos]
                    pos += 1
                elif letter == "L":
                    lsda_encoding = data[pos]
                    pos += 1
                elif letter == "P":
                    personality_encoding = data[pos]
                    pos += 1
                    # the personality routine is not needed to unwind; skip it
                    _, pos = read_encoded_pointer(
                        data, pos, personality_encoding & 0x7F,  # no indirect load
                        section_address=self.address, data_base=self.data_base,
                        text_base=self.text_base,
                    )  # fmt: skip
                elif letter == "S":
                    signal_frame = True
                elif letter in "BG":  # AArch64 B-key, MTE tagged frames: no data
                    pass
                else:
                    break  # unknown letter: the rest of the data is skipped by length
            pos = aug_data_end
        elif augmentation not in ("", "S"):
            # without 'z' we cannot know the size of unknown augmentation data
            raise UnwindTableError(f"unsupported CIE augmentation {augmentation!r}")
        if augmentation == "S":
            signal_frame = True
        return Cie(
            offset=offset,
            version=version,
            augmentation=augmentation,
            code_alignment=code_alignment,
            data_alignment=data_alignment,
            return_address_register=return_address_register,
            fde_encoding=fde_encoding,
            lsda_encoding=lsda_encoding,
            signal_frame=signal_frame,
            initial_instructions=bytes(data[pos:end]),
        )

    def fde_at(self, offset: int) -> Fde:
        """Parse (once) the FDE at a section offset."""
        fde = self._fdes.get(offset)
        if fde is None:
            fde = self._parse_fde(offset)
            if fde is None:
                raise UnwindTableError(f"entry at {offset:#x} is not an FDE")
            self._fdes[offset] = fde
        return fde

    def _parse_fde(self, offset: int) -> Fde | None:
        header = self._entry_header(offset)
        if header is None:
            return None
        end, id_pos, entry_id, is_64 = header
        if self._is_cie_id(entry_id, is_64):
            return None
        cie_offset = entry_id if self.is_debug_frame else id_pos - entry_id
        cie = self.cie_at(cie_offset)
        data = self.data
        pos = id_pos + (8 if is_64 else 4)
        pc_begin, pos = read_encoded_pointer(
            data, pos, cie.fde_encoding, section_address=self.address,
            data_base=self.data_base, text_base=self.text_base, read_indirect=self.read_indirect,
        )  # fmt: skip
        # pc_range has the same format but is never relative (LSB §10.6.1.2)
        pc_range, pos = read_encoded_pointer(data, pos, cie.fde_encoding & 0x0F, section_address=0)
        if cie.augmentation.startswith("z"):
            aug_length, pos = read_uleb128(data, pos)
            pos += aug_length
        return Fde(offset, cie, pc_begin, pc_begin + pc_range, bytes(data[pos:end]))

    def iter_fdes(self) -> Iterator[Fde]:
        """Every FDE of the section in file order (the linear-scan fallback)."""
        offset = 0
        while True:
            header = self._entry_header(offset)
            if header is None:
                return
            end, id_pos, entry_id, is_64 = header
            if not self._is_cie_id(entry_id, is_64):
                fde = self._fdes.get(offset)
                if fde is None:
                    fde = self._parse_fde(offset)
                    if fde is not None:
                        self._fdes[offset] = fde
                if fde is not None and fde.pc_end > fde.pc_begin:
                    yield fde
            offset = end

    # -- rows --------------------------------------------------------------------

    def rows_for(self, fde: Fde) -> FdeRows:
        """Run the FDE's CFA program (once; cached by FDE offset) and return its rows."""
        rows = self._rows.get(fde.offset)
        if rows is None:
            rows = FdeRows(CfaProgram(fde, self).run())
            self._rows[fde.offset] = rows
        return rows


class CfaProgram:
    """Executes a CIE's initial instructions then an FDE's instructions (DWARF 5 §6.4.2)."""

    def __init__(self, fde: Fde, section: CfiSection) -> None:
        self.fde = fde
        self.cie = fde.cie
        self.section = section
        self.cfa_register = RSP
        self.cfa_offset = 0
        self.cfa_expression: DwarfExpression | None = None
        self.rules: dict[int, Rule] = {}
        self.initial_rules: dict[int, Rule] = {}
        self.stack: list[tuple[int, int, DwarfExpression | None, dict[int, Rule]]] = []
        self.location = fde.pc_begin
        self.rows: list[UnwindRow] = []

    def run(self) -> list[UnwindRow]:
        self._execute(self.cie.initial_instructions, in_cie=True)
        self.initial_rules = dict(self.rules)
        self._execute(self.fde.instructions, in_cie=False)
        self._emit(self.fde.pc_end)
        return self.rows

    def _emit(self, next_location: int) -> None:
        """Close the row that started at ``self.location`` and move to ``next_location``."""
        next_location = min(next_location, self.fde.pc_end)
        if next_location > self.location:
            self.rows.append(self._compile(self.location, next_location))
            self.location = next_location

    def _compile(self, start: int, end: int) -> UnwindRow:
        saved: list[tuple[int, int]] = []
        others: list[tuple[int, RuleKind, object]] = []
        ra_column = self.cie.return_address_register
        ra_undefined = True
        for column, (kind, argument) in self.rules.items():
            if column == ra_column:
                column = RIP
            elif column == RIP or column >= REGISTER_COUNT:
                continue  # vector/segment registers: no use to a stack walker
            if column == RIP:
                ra_undefined = kind == RuleKind.UNDEFINED
                if ra_undefined:
                    continue
            if kind == _OFFSET:
                saved.append((column, argument))  # type: ignore[arg-type]
            elif kind == RuleKind.SAME_VALUE:
                if column not in CALLEE_SAVED:  # callee-saved registers are kept anyway
                    others.append((column, RuleKind.SAME_VALUE, None))
            elif kind == RuleKind.UNDEFINED:
                if column in CALLEE_SAVED or column == RSP:
                    others.append((column, RuleKind.UNDEFINED, None))
            else:
                others.append((column, RuleKind(kind), argument))
        saved.sort()
        return UnwindRow(
            start,
            end,
            self.cfa_register,
            self.cfa_offset,
            self.cfa_expression,
            tuple(saved),
            tuple(others),
            ra_undefined,
            self.cie.signal_frame,
        )

    def _execute(self, program: bytes, *, in_cie: bool) -> None:
        cie = self.cie
        caf = cie.code_alignment
        daf = cie.data_alignment
        rules = self.rules
        pos = 0
        end = len(program)
        try:
            while pos < end:
                op = program[pos]
                pos += 1
                high = op & 0xC0
                low = op & 0x3F
                if high == DW_CFA_advance_loc:
                    self._advance(low * caf, in_cie)
                elif high == DW_CFA_offset:
                    value, pos = read_uleb128(program, pos)
                    rules[low] = (_OFFSET, value * daf)
                elif high == DW_CFA_restore:
                    self._restore(low, in_cie)
                elif op == DW_CFA_nop:
                    pass
                elif op == DW_CFA_advance_loc1:
                    self._advance(program[pos] * caf, in_cie)
                    pos += 1
                elif op == DW_CFA_advance_loc2:
                    self._advance(_U16.unpack_from(program, pos)[0] * caf, in_cie)
                    pos += 2
                elif op == DW_CFA_advance_loc4:
                    self._advance(_U32.unpack_from(program, pos)[0] * caf, in_cie)
                    pos += 4
                elif op == DW_CFA_set_loc:
                    section = self.section
                    location, pos = read_encoded_pointer(
                        program, pos, cie.fde_encoding & 0x0F,
                        section_address=0,
                    )  # fmt: skip
                    if cie.fde_encoding & 0x70 and not section.is_debug_frame:
                        raise UnwindTableError("DW_CFA_set_loc with a relative encoding")
                    if in_cie:
                        raise UnwindTableError("DW_CFA_set_loc in a CIE")
                    self._emit(location)
                    self.location = location
                elif op == DW_CFA_def_cfa:
                    self.cfa_register, pos = read_uleb128(program, pos)
                    self.cfa_offset, pos = read_uleb128(program, pos)
                    self.cfa_expression = None
                elif op == DW_CFA_def_cfa_sf:
                    self.cfa_register, pos = read_uleb128(program, pos)
                    value, pos = read_sleb128(program, pos)
                    self.cfa_offset = value * daf
                    self.cfa_expression = None
                elif op == DW_CFA_def_cfa_register:
                    self.cfa_register, pos = read_uleb128(program, pos)
                    self.cfa_expression = None
                elif op == DW_CFA_def_cfa_offset:
                    self.cfa_offset, pos = read_uleb128(program, pos)
                elif op == DW_CFA_def_cfa_offset_sf:
                    value, pos = read_sleb128(program, pos)
                    self.cfa_offset = value * daf
                elif op == DW_CFA_def_cfa_expression:
                    length, pos = read_uleb128(program, pos)
                    self.cfa_expression = DwarfExpression(program[pos : pos + length])
                    pos += length
                elif op == DW_CFA_offset_extended:
                    register, pos = read_uleb128(program, pos)
                    value, pos = read_uleb128(program, pos)
                    rules[register] = (_OFFSET, value * daf)
                elif op == DW_CFA_offset_extended_sf:
                    register, pos = read_uleb128(program, pos)
                    value, pos = read_sleb128(program, pos)
                    rules[register] = (_OFFSET, value * daf)
                elif op == DW_CFA_GNU_negative_offset_extended:
                    register, pos = read_uleb128(program, pos)
                    value, pos = read_uleb128(program, pos)
                    rules[register] = (_OFFSET, -value * daf)
                elif op == DW_CFA_val_offset:
                    register, pos = read_uleb128(program, pos)
                    value, pos = read_uleb128(program, pos)
                    rules[register] = (RuleKind.VAL_OFFSET, value * daf)
                elif op == DW_CFA_val_offset_sf:
                    register, pos = read_uleb128(program, pos)
                    value, pos = read_sleb128(program, pos)
                    rules[register] = (RuleKind.VAL_OFFSET, value * daf)
                elif op == DW_CFA_restore_extended:
                    register, pos = read_uleb128(program, pos)
                    self._restore(register, in_cie)
                elif op == DW_CFA_undefined:
                    register, pos = read_uleb128(program, pos)
                    rules[register] = (RuleKind.UNDEFINED, None)
                elif op == DW_CFA_same_value:
                    register, pos = read_uleb128(program, pos)
                    rules[register] = (RuleKind.SAME_VALUE, None)
                elif op == DW_CFA_register:
                    register, pos = read_uleb128(program, pos)
                    other, pos = read_uleb128(program, pos)
                    rules[register] = (RuleKind.REGISTER, other)
                elif op in (DW_CFA_expression, DW_CFA_val_expression):
                    register, pos = read_uleb128(program, pos)
                    length, pos = read_uleb128(program, pos)
                    expression = DwarfExpression(program[pos : pos + length])
                    pos += length
                    kind = RuleKind.EXPRESSION if op == DW_CFA_expression else RuleKind.VAL_EXPRESSION
                    rules[register] = (kind, expression)
                elif op == DW_CFA_remember_state:
                    # the CFA rule is part of the state: gcc's epilogues rely on it
                    self.stack.append((self.cfa_register, self.cfa_offset, self.cfa_expression, dict(rules)))
                elif op == DW_CFA_restore_state:
                    if not self.stack:
                        raise UnwindTableError("DW_CFA_restore_state with nothing remembered")
                    self.cfa_register, self.cfa_offset, self.cfa_expression, saved = self.stack.pop()
                    rules.clear()
                    rules.update(saved)
                elif op == DW_CFA_GNU_args_size:
                    _, pos = read_uleb128(program, pos)  # only matters to landing pads
                elif op == DW_CFA_GNU_window_save:
                    pass  # SPARC / AArch64 pointer authentication: nothing on x86-64
                else:
                    raise UnwindTableError(f"unknown call frame instruction {op:#x}")
        except (IndexError, struct.error) as exc:
            raise UnwindTableError(f"truncated CFA program in FDE at {self.fde.offset:#x}") from exc

    def _advance(self, delta: int, in_cie: bool) -> None:
        if in_cie:
            raise UnwindTableError("DW_CFA_advance_loc in a CIE")
        self._emit(self.location + delta)

    def _restore(self, register: int, in_cie: bool) -> None:
        if in_cie:
            self.rules.pop(register, None)
            return
        rule = self.initial_rules.get(register)
        if rule is None:
            self.rules.pop(register, None)
        else:
            self.rules[register] = rule

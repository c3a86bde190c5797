"""One row of the call-frame table, in the shape the unwinder executes quickly.

DWARF 5 §6.4.1 describes the table: for each code location, a rule for the CFA and
one rule per register.  A row here keeps the common cases apart so that the hot
loop touches as little as possible: the CFA as register+offset (or an expression),
``saved`` for the "offset(N)" rules (register saved at CFA+N, by far the most
common), and ``rules`` for everything else.
"""

from __future__ import annotations

import enum

from stax_binfmt.cfi.expression import DwarfExpression


class RuleKind(enum.IntEnum):
    """Register rules of DWARF 5 §6.4.1 (besides offset(N), which lives in ``saved``)."""

    UNDEFINED = 0
    """The register has no recoverable value in the caller."""
    SAME_VALUE = 1
    VAL_OFFSET = 2
    """The value is CFA+N (not stored)."""
    REGISTER = 3
    """The value is in another register of this frame."""
    EXPRESSION = 4
    """The value is stored at the address the expression (CFA pushed) computes."""
    VAL_EXPRESSION = 5
    """The value is what the expression (CFA pushed) computes."""


class UnwindRow:
    """CFA rule plus register rules valid for ``start <= pc < end`` (ELF virtual addresses)."""

    __slots__ = (
        "start",
        "end",
        "cfa_register",
        "cfa_offset",
        "cfa_expression",
        "saved",
        "rules",
        "return_address_undefined",
        "signal_frame",
        "simple",
    )

    def __init__(
        self,
        start: int,
        end: int,
        cfa_register: int,
        cfa_offset: int,
        cfa_expression: DwarfExpression | None,
        saved: tuple[tuple[int, int], ...],
        rules: tuple[tuple[int, RuleKind, object], ...],
        return_address_undefined: bool,
        signal_frame: bool,
    ) -> None:
        self.start = start
        self.end = end
        self.cfa_register = cfa_register
        self.cfa_offset = cfa_offset
        self.cfa_expression = cfa_expression
        self.saved = saved
        self.rules = rules
        self.return_address_undefined = return_address_undefined
        self.signal_frame = signal_frame
        self.simple: tuple[int, int, tuple[tuple[int, int], ...]] | None = (
            (cfa_register, cfa_offset, saved)
            if cfa_expression is None and not rules and not return_address_undefined and not signal_frame
            else None
        )
        """(CFA register, CFA offset, saved) when that is the whole row: the unwinder's fast path."""

    def __repr__(self) -> str:
        cfa = (
            f"expr {self.cfa_expression!r}"
            if self.cfa_expression is not None
            else f"r{self.cfa_register}{self.cfa_offset:+d}"
        )
        return (
            f"UnwindRow({self.start:#x}..{self.end:#x} cfa={cfa} saved={self.saved} "
            f"rules={self.rules} ra_undefined={self.return_address_undefined} "
            f"signal={self.signal_frame})"
        )

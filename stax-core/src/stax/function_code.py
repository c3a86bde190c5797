"""The code of one function as a code source hands it over: bytes, line rows, inlines, names.

A :class:`stax.contracts.CodeSource` (``stax_code_sources`` hook) reads these from a
binary; ``stax record`` stores them in the recording (:mod:`stax.recording.code_tables`)
so ``stax annotate`` and the web UI work after the binary is rebuilt or deleted.
Everything here is OS- and format-neutral: addresses are the addresses the code is
linked at (an ELF ``p_vaddr``, a Mach-O ``vmaddr``), what a disassembler and
``objdump`` print; ``offset`` is the same place in the frames' offset space.
"""

from __future__ import annotations

import attrs

ARCH_X86_64 = "x86_64"
ARCH_AARCH64 = "aarch64"
"""Instruction-set names a code source reports and :mod:`stax.analysis.disassembly` decodes."""


class CodeStatus:
    """Why a function's bytes are or are not in the recording (``code_functions.status``)."""

    KEPT = "kept"
    TOO_LARGE = "too-large"
    """Larger than the per-function bound: only its bounds and name are stored."""
    OVER_BUDGET = "over-budget"
    """The recording's bound was used up by hotter functions."""


@attrs.frozen(slots=True)
class LineRow:
    """One row of a line table: from ``address`` on, code is ``file``:``line``.

    ``file`` None ends a sequence: addresses from it on have no line (until the next row).
    """

    address: int
    file: str | None
    line: int


@attrs.frozen(slots=True)
class InlineRange:
    """Code in [start, end) is ``function`` inlined, called from ``call_file``:``call_line``.

    ``depth`` 0 is the innermost inlined call at those addresses, 1 the call it sits in,
    and so on up to (not including) the real function.
    """

    start: int
    end: int
    depth: int
    function: str
    call_file: str | None = None
    call_line: int | None = None


@attrs.frozen(slots=True)
class SymbolRange:
    """A function symbol [address, address + size) of the same image: names branch targets."""

    address: int
    size: int
    name: str


@attrs.frozen(slots=True)
class FunctionCode:
    """One function of one image, as read from its binary and debug info.

    ``code`` is None when the function is larger than the bound the caller asked for
    (``status`` then says so); ``lines`` and ``inlines`` are the slices of the line table
    and inline tree that cover [address, address + size); ``symbols`` name the direct
    branch and call targets outside the function.
    """

    name: str
    offset: int
    """Where the function starts in the frames' offset space (file offset of an ELF image)."""
    address: int
    """Where it starts in the address space it was linked for (what disassembly shows)."""
    size: int
    arch: str
    code: bytes | None
    status: str = CodeStatus.KEPT
    lines: tuple[LineRow, ...] = ()
    inlines: tuple[InlineRange, ...] = ()
    symbols: tuple[SymbolRange, ...] = ()

    def contains_offset(self, offset: int) -> bool:
        return self.offset <= offset < self.offset + self.size

    def without_code(self, status: str) -> FunctionCode:
        """The same function with bytes, lines and inlines dropped (kept beyond a bound)."""
        return attrs.evolve(self, code=None, status=status, lines=(), inlines=(), symbols=())

"""Replaying a user-space stack walk from a register snapshot and a copy of the stack.

What a sample carries (perf_event_open(2)): PERF_SAMPLE_REGS_USER, the user
registers at the interrupt, and PERF_SAMPLE_STACK_USER, a copy of the stack from
the user rsp upward.  Each step applies the unwind row of the current pc
(DWARF 5 §6.4.1): compute the CFA, recover the caller's registers from their rules,
and take the return-address column as the caller's pc.

Rules of the walk:

* The row of a caller is looked up at ``pc - 1``: a return address points after
  the call, possibly past the end of the calling function (``noreturn`` calls).
  Not for the first frame, nor for the frame a signal interrupted (the pc is then
  the exact instruction; DWARF's ``S`` augmentation marks the trampoline).
* Memory outside the copied stack is never guessed: a rule that needs it makes the
  register unknown, and the walk stops (``truncated``) when an unknown value is
  needed, so a short copy yields a correct prefix of the full chain.
* The walk ends at an undefined return address (``_start``, thread entry points),
  a zero pc, or when the stack pointer stops increasing.
* Only where no CFI covers the pc, and rbp points into the copied stack, does it
  follow the frame-pointer chain; such frames are counted in the result.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Container, Mapping, Sequence

import attrs

from stax_backend_linux.unwind.module_resolver import ModuleResolver
from stax_binfmt.cfi.errors import StackReadError, UnknownRegisterError, UnwindTableError
from stax_binfmt.cfi.unwind_row import RuleKind, UnwindRow
from stax_binfmt.cfi.x86_64_registers import REGISTER_COUNT, RSP, registers_from_names

DEFAULT_MAX_FRAMES = 256
_MISSING = object()
_U64 = struct.Struct("<Q")


class StopReason(enum.StrEnum):
    """Why a walk ended; only the first two are complete stacks."""

    OUTERMOST = "outermost frame"
    """The return address rule is undefined: ``_start``, ``clone``'s thread entry."""
    ZERO_PC = "return address is zero"
    STACK_EXHAUSTED = "stack copy exhausted"
    """A rule needs memory beyond the copied stack."""
    NO_UNWIND_INFO = "no unwind info"
    """No CFI covers the pc and the frame pointer does not lead into the stack copy."""
    CFA_NOT_INCREASING = "stack pointer did not increase"
    UNKNOWN_REGISTER = "a needed register is unknown"
    BAD_UNWIND_INFO = "malformed unwind info"
    MAX_FRAMES = "too many frames"
    JOINED = "joined the frame-pointer chain"
    """Hybrid unwinding: a return address of the kernel's frame-pointer walk was reached
    (``stop_at``); the rest of the stack is that walk's."""


_COMPLETE = (StopReason.OUTERMOST, StopReason.ZERO_PC, StopReason.JOINED)


@attrs.frozen(slots=True)
class UnwindResult:
    """User-space return addresses, leaf first.

    ``ips[0]`` is the sampled pc; the others are return addresses as found on the
    stack (symbolise them at ``ip - 1``).  ``truncated`` is False only when the walk
    reached the outermost frame.  ``frame_pointer_frames`` counts the callers found by
    the rbp chain instead of CFI.
    """

    ips: list[int]
    truncated: bool
    reason: str
    frame_pointer_frames: int = 0


def unwind(
    regs: Mapping[str, int] | Sequence[int | None],
    stack: bytes,
    modules: ModuleResolver,
    *,
    max_frames: int = DEFAULT_MAX_FRAMES,
    stop_at: Container[int] | None = None,
) -> UnwindResult:
    """Walk the user stack of one sample.

    :param regs: the user registers by name (``rip``, ``rsp``, ``rbp``, ``rbx``, ...;
        perf's ``ip``/``sp``/``bp`` spellings work too), or a list indexed by DWARF column
        (:meth:`PerfRegisterLayout.dwarf_registers`, the fast way); rip and rsp are required.
    :param stack: the copied stack, whose first byte was at ``regs["rsp"]``
        (pass only the ``dyn_size`` bytes the kernel filled).
    :param modules: the process's executable mappings and their unwind tables.
    :param stop_at: return addresses at which to stop (hybrid unwinding: the kernel's
        frame-pointer walk); the one reached is the last of ``ips``, reason ``JOINED``.
    :returns: the return addresses leaf first, and whether and why the walk stopped early.
    """
    if isinstance(regs, Mapping):
        r = registers_from_names(regs)
    else:
        r = list(regs)
        if len(r) != REGISTER_COUNT:
            raise ValueError(f"expected {REGISTER_COUNT} registers in DWARF order, got {len(r)}")
    base = r[RSP]
    if base is None or r[16] is None:
        raise ValueError("unwind needs at least rip and rsp")
    limit = len(stack) - 8
    unpack = _U64.unpack_from
    cache_get = modules.row_cache.get
    row_for = modules.row_for
    ips: list[int] = []
    exact_pc = True  # first frame, or the frame a signal interrupted
    lost_memory = False
    fp_frames = 0
    reason = StopReason.MAX_FRAMES
    append = ips.append
    depth = 0
    pc: int | None = r[16]

    while depth < max_frames:
        if pc == 0:
            reason = StopReason.ZERO_PC
            break
        append(pc)
        depth += 1
        if stop_at is not None and depth > 1 and pc in stop_at:
            reason = StopReason.JOINED
            break
        lookup = pc if exact_pc else pc - 1  # type: ignore[operator]
        row = cache_get(lookup, _MISSING)
        if row is _MISSING:
            try:
                row = row_for(lookup)
            except UnwindTableError:
                reason = StopReason.BAD_UNWIND_INFO
                break

        if row is None:
            # no CFI: the frame-pointer chain, only if rbp points into the copy
            rbp = r[6]
            sp = r[7]
            if rbp is None or sp is None or rbp < sp or not 0 <= rbp - base <= limit - 8:
                reason = StopReason.NO_UNWIND_INFO
                break
            offset = rbp - base
            new = [None] * 17
            new[6], new[16] = unpack(stack, offset)[0], unpack(stack, offset + 8)[0]
            new[7] = rbp + 16
            fp_frames += 1
            exact_pc = False
            r = new  # type: ignore[assignment]
            pc = new[16]
            continue

        simple = row.simple
        if simple is not None:
            # the common row: CFA = register + offset, registers saved at CFA + N
            cfa_register, cfa_offset, saved = simple
            value = r[cfa_register]
            if value is None:
                reason = StopReason.STACK_EXHAUSTED if lost_memory else StopReason.UNKNOWN_REGISTER
                break
            cfa = value + cfa_offset
            new = [None, None, None, r[3], None, None, r[6], cfa, None, None, None, None,
                   r[12], r[13], r[14], r[15], None]  # fmt: skip
            for column, offset in saved:
                address = cfa + offset - base
                if 0 <= address <= limit:
                    new[column] = unpack(stack, address)[0]
                else:
                    new[column] = None
                    lost_memory = True
            pc = new[16]
            if pc is None:
                reason = StopReason.STACK_EXHAUSTED if lost_memory else StopReason.UNKNOWN_REGISTER
                break
            if cfa <= r[7]:
                reason = StopReason.CFA_NOT_INCREASING
                break
            exact_pc = False
            r = new
            continue

        # the CFA (DWARF 5 §6.4.1: "the value of the stack pointer at the call site")
        expression = row.cfa_expression
        if expression is None:
            value = r[row.cfa_register]
            if value is None:
                reason = StopReason.STACK_EXHAUSTED if lost_memory else StopReason.UNKNOWN_REGISTER
                break
            cfa = value + row.cfa_offset
        else:
            try:
                cfa = expression.evaluate(r, _memory_reader(stack, base))
            except StackReadError:
                reason = StopReason.STACK_EXHAUSTED
                break
            except UnknownRegisterError:
                reason = StopReason.STACK_EXHAUSTED if lost_memory else StopReason.UNKNOWN_REGISTER
                break
            except (UnwindTableError, IndexError):
                reason = StopReason.BAD_UNWIND_INFO
                break

        # callee-saved registers keep their values unless a rule says otherwise
        # (psABI §3.2.1); the rest are unknown in the caller.  rsp = CFA on x86-64.
        new = [None, None, None, r[3], None, None, r[6], cfa, None, None, None, None,
               r[12], r[13], r[14], r[15], None]  # fmt: skip
        for column, offset in row.saved:
            address = cfa + offset - base
            if 0 <= address <= limit:
                new[column] = unpack(stack, address)[0]
            else:
                new[column] = None
                lost_memory = True
        if row.rules:
            try:
                lost_memory |= _apply_rules(row, r, new, cfa, stack, base)
            except (UnwindTableError, IndexError):
                reason = StopReason.BAD_UNWIND_INFO
                break

        if row.return_address_undefined:
            reason = StopReason.OUTERMOST
            break
        if new[16] is None:
            reason = StopReason.STACK_EXHAUSTED if lost_memory else StopReason.UNKNOWN_REGISTER
            break
        new_sp = new[7]
        if new_sp is None or new_sp <= r[7]:
            reason = StopReason.CFA_NOT_INCREASING if new_sp is not None else StopReason.STACK_EXHAUSTED
            break
        exact_pc = row.signal_frame
        r = new
        pc = new[16]

    return UnwindResult(ips, reason not in _COMPLETE, str(reason), fp_frames)


def _memory_reader(stack: bytes, base: int) -> Callable[[int, int], int]:
    size = len(stack)

    def read(address: int, nbytes: int) -> int:
        offset = address - base
        if offset < 0 or offset + nbytes > size:
            raise StackReadError(f"{address:#x} is outside the stack copy")
        return int.from_bytes(stack[offset : offset + nbytes], "little")

    return read


def _apply_rules(
    row: UnwindRow, old: list[int | None], new: list[int | None], cfa: int, stack: bytes, base: int
) -> bool:
    """Apply the rules other than offset(N); returns True if one needed memory beyond the copy."""
    lost = False
    read = _memory_reader(stack, base)
    for column, kind, argument in row.rules:
        if kind == RuleKind.SAME_VALUE:
            new[column] = old[column]
        elif kind == RuleKind.UNDEFINED:
            new[column] = None
        elif kind == RuleKind.VAL_OFFSET:
            new[column] = cfa + argument  # type: ignore[operator]
        elif kind == RuleKind.REGISTER:
            new[column] = old[argument] if argument < len(old) else None  # type: ignore[operator,index]
        else:
            try:
                value = argument.evaluate(old, read, cfa)  # type: ignore[attr-defined]
                new[column] = read(value, 8) if kind == RuleKind.EXPRESSION else value
            except StackReadError:
                new[column] = None
                lost = True
            except UnknownRegisterError:
                new[column] = None
    return lost

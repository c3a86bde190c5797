"""Errors of the unwind-table readers."""

from __future__ import annotations


class UnwindTableError(ValueError):
    """Unwind information (``.eh_frame``, ``.eh_frame_hdr``, ``.debug_frame``) is malformed
    or uses something this reader does not support."""


class StackReadError(LookupError):
    """An unwind rule needs memory outside the copied user stack."""


class UnknownRegisterError(LookupError):
    """An unwind rule needs a register whose value in this frame is not known."""

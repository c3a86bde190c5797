"""Capability rows: what a backend can capture on this host, row by row of the platform table.

A backend reports one :class:`CapabilityRow` per :class:`Capability`; a recording keeps
them (the ``capabilities`` table) so its views can say what is missing and why.
``stax doctor`` shows them as the privileged broker changes them, followed by
:class:`HostCheck` rows: the host settings (sysctls, tracefs, staxd) behind them.
"""

from __future__ import annotations

import enum
from typing import ClassVar

import attrs


class CapabilityStatus(enum.StrEnum):
    AVAILABLE = "available"
    VIA_STAXD = "via staxd"
    UNAVAILABLE = "unavailable"


class Capability(enum.StrEnum):
    """The rows of the platform table (docs/platform-support.md)."""

    ON_CPU_SAMPLING = "on-CPU sampling"
    OFF_CPU_INTERVALS = "off-CPU intervals"
    BLOCKED_REASON = "per-thread blocked reason"
    WAKEUP_ATTRIBUTION = "wakeup attribution"
    USER_STACKS = "user call stacks"
    KERNEL_STACKS = "kernel call stacks"
    FRAME_POINTER_UNWINDING = "frame-pointer unwinding"
    DWARF_UNWINDING = "DWARF .eh_frame unwinding"
    PMU_COUNTERS = "PMU / hardware counters"
    SYSTEM_WIDE = "system-wide recording"


@attrs.frozen(slots=True)
class CapabilityRow:
    """One row: a capability, its status on this host, and why (with the fix) when not available."""

    kind: ClassVar[str] = "capability"
    """The ``kind`` of ``stax doctor --json`` rows: a platform-table row."""

    capability: Capability
    status: CapabilityStatus
    reason: str = ""
    fix: str = ""

    @property
    def name(self) -> str:
        return str(self.capability)

    @property
    def note(self) -> str:
        """``capability: reason (fix)``, the sentence a view prints for a row it lacks."""
        return f"{self.capability}: {self.reason}" + (f" ({self.fix})" if self.fix else "")

    @classmethod
    def from_stored(cls, capability: str, status: str, reason: str, fix: str) -> CapabilityRow | None:
        """A row as a recording stores it; None for a capability or status this stax does not know."""
        try:
            return cls(Capability(capability), CapabilityStatus(status), reason or "", fix or "")
        except ValueError:
            return None

    def to_json(self) -> dict[str, str]:
        return _doctor_json(self)


@attrs.frozen(slots=True)
class HostCheck:
    """A ``stax doctor`` row about the host rather than the platform table (``kernel.kptr_restrict``)."""

    kind: ClassVar[str] = "host"

    name: str
    status: CapabilityStatus
    reason: str = ""
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return _doctor_json(self)


def _doctor_json(row: CapabilityRow | HostCheck) -> dict[str, str]:
    """A row as ``stax doctor --json`` writes it (``capability`` is the row's name either way)."""
    return {"capability": row.name, "status": str(row.status), "reason": row.reason, "fix": row.fix,
            "kind": row.kind}

"""Capability rows: what a backend can capture on this host, row by row of the platform table."""

import enum

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

    capability: Capability
    status: CapabilityStatus
    reason: str = ""
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "capability": str(self.capability),
            "status": str(self.status),
            "reason": self.reason,
            "fix": self.fix,
        }

"""The blocked reason of a switch-out: from the kernel stack's frame names, else /proc wchan.

With kernel callchains, the context-switches sample's kernel part is led by the
scheduler (``__schedule``, ``schedule``) and then the wait site (``do_nanosleep``,
``pipe_read``, ``futex_wait_queue`` ...); :func:`stax.wait_site_classifier.classify_wait_site`
picks the bucket from the names, which come from /proc/kallsyms (kernel_symbols.py, beside it).
Stacks repeat, so results are cached per stack.

Without them (perf_event_paranoid 2 without CAP_PERFMON, or kptr_restrict hiding
addresses) the fallback is ``/proc/<pid>/task/<tid>/wchan`` (proc(5)): the function a
sleeping thread waits in, read while it is still parked.  The capture loop reads it
once per drain round (~every 100 ms) for the threads whose latest switch was a
voluntary switch-out, so waits shorter than a round are usually over before they
can be read and fall back to ``other``.
"""

from __future__ import annotations

from stax.blocked_reason import BlockedReason
from stax.events import IpTuple
from stax.wait_site_classifier import classify_wait_site, classify_wchan
from stax_backend_linux.off_cpu.kernel_symbols import KernelSymbols

NO_REASON = (BlockedReason.OTHER, "")


def read_wchan(pid: int, tid: int) -> str:
    """The kernel function ``tid`` is parked in ('' when running, gone or not permitted).

    The kernel prints "0" for a running task and for a reader without ptrace read access.
    """
    try:
        with open(f"/proc/{pid}/task/{tid}/wchan", "rb") as f:
            name = f.read(128).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return "" if name == "0" else name


class WaitSiteReasons:
    """Classifies switch-out stacks; ``symbols`` None means kernel frames cannot be named."""

    def __init__(self, symbols: KernelSymbols | None) -> None:
        self.symbols = symbols
        self._by_stack: dict[IpTuple, tuple[BlockedReason, str]] = {}

    def from_stack(self, kernel_ips: IpTuple) -> tuple[BlockedReason, str] | None:
        """(reason, deciding frame) from a kernel stack, leaf first; None if it cannot tell."""
        if not kernel_ips or self.symbols is None:
            return None
        found = self._by_stack.get(kernel_ips)
        if found is None:
            found = classify_wait_site(self.symbols.names(kernel_ips))
            self._by_stack[kernel_ips] = found
        return found

    @staticmethod
    def from_wchan(wchan: str) -> tuple[BlockedReason, str]:
        """(reason, wchan) from a /proc wchan name; ('other', '') when nothing was read."""
        if not wchan:
            return NO_REASON
        return classify_wchan(wchan), wchan

"""The kallsyms source: names kernel frames from /proc/kallsyms of the running kernel.

Kernel frames carry absolute addresses (KASLR included), and /proc/kallsyms lists the
same randomised addresses for this boot, so no relocation is needed.  The file is read
once per process (it is ~5 MB; reading and parsing it, :func:`stax_binfmt.kallsyms.parse_kallsyms`,
costs ~150 ms) and kept as a sorted table, on disk too (:mod:`.kallsyms_cache`).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax_binfmt.kallsyms import KALLSYMS_PATH, KERNEL_NOTES_PATH, kernel_build_id, parse_kallsyms
from stax_symbols.kernel import kallsyms_cache
from stax_symbols.symbol_table import SymbolTable

if TYPE_CHECKING:
    from stax.stack_table import Image

KALLSYMS_ORDER = 310
"""In the symbol-table band after ELF; a vmlinux with DWARF, when added, orders before it."""

KPTR_RESTRICT_SENTENCE = (
    "Kernel frames stay unresolved because /proc/kallsyms shows every address as 0"
    " (kernel.kptr_restrict); run stax as root or run `sudo sysctl kernel.kptr_restrict=0`."
)


@attrs.frozen(slots=True)
class KernelSymbols:
    """The parsed kallsyms of this boot: a table, or the sentence saying why there is none."""

    table: SymbolTable | None
    problem: str | None
    build_id: bytes | None


def load_kernel_symbols(
    kallsyms: Path = KALLSYMS_PATH, notes: Path = KERNEL_NOTES_PATH
) -> KernelSymbols:
    """Read and parse kallsyms (and the kernel's build id); never raises."""
    build_id = kernel_build_id(notes)
    key = kallsyms_cache.boot_key(kallsyms) if kallsyms == KALLSYMS_PATH else None
    cached = kallsyms_cache.load(key) if key else None
    if cached is not None:
        return KernelSymbols(cached, None, build_id)
    try:
        text = kallsyms.read_text(errors="replace")
    except OSError as exc:
        return KernelSymbols(
            None,
            f"Kernel frames stay unresolved because {kallsyms} cannot be read"
            f" ({exc.strerror or exc}); run stax as root.",
            build_id,
        )
    functions = parse_kallsyms(text)
    if functions is None:
        return KernelSymbols(None, KPTR_RESTRICT_SENTENCE, build_id)
    table = SymbolTable.from_sorted(functions.starts, functions.ends, functions.names)
    if key:
        kallsyms_cache.store(key, table)
    return KernelSymbols(table, None, build_id)


class KallsymsSource:
    """Names ``ImageKind.KERNEL`` frames (absolute addresses) from /proc/kallsyms."""

    name = "kallsyms"
    order = KALLSYMS_ORDER

    def __init__(self, kallsyms: Path = KALLSYMS_PATH, notes: Path = KERNEL_NOTES_PATH) -> None:
        self._paths = (kallsyms, notes)
        self._symbols: KernelSymbols | None = None
        self._lock = threading.Lock()

    def kernel_symbols(self) -> KernelSymbols:
        """The table, read on first use and kept for the life of the process."""
        with self._lock:
            if self._symbols is None:
                self._symbols = load_kernel_symbols(*self._paths)
            return self._symbols

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        """Resolve absolute kernel addresses; warn once per pass if kallsyms is unusable."""
        if image.kind is not ImageKind.KERNEL or not offsets or sys.platform != "linux":
            return {}
        symbols = self.kernel_symbols()
        if symbols.table is None:
            if symbols.problem:
                context.warn(symbols.problem)
            return {}
        if image.build_id is not None and symbols.build_id is not None and image.build_id != symbols.build_id:
            context.warn(
                "Kernel frames stay unresolved because the running kernel is not the one recorded"
                f" (build id {image.build_id.hex()} recorded, {symbols.build_id.hex()} now);"
                " symbolicate on the machine and boot that recorded."
            )
            return {}
        lookup = symbols.table.lookup
        out: dict[int, Sequence[SymbolInfo]] = {}
        for address in offsets:
            hit = lookup(address)
            if hit is not None:
                out[address] = (SymbolInfo(function=hit[0], symbol_offset=hit[1]),)
        return out

"""Kernel function names for addresses, from /proc/kallsyms, for classifying wait sites.

The backend needs names only to pick a blocked reason by the kernel function a task
waits in (the recording keeps raw addresses; stax-symbols names them properly later),
so this keeps the text symbols of :func:`stax_binfmt.kallsyms.parse_kallsyms` (the one
kallsyms parser) sorted by address, bisected, with a per-address cache and without the
module suffix.  With kernel.kptr_restrict hiding the addresses :func:`load_kernel_symbols`
returns None.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from stax_binfmt import kallsyms

KALLSYMS = str(kallsyms.KALLSYMS_PATH)


class KernelSymbols:
    """Address -> name of the kernel function containing it (the nearest symbol below)."""

    def __init__(self, addresses: Sequence[int], names: Sequence[str]) -> None:
        self._addresses = list(addresses)
        self._names = list(names)
        self._cache: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._addresses)

    def name(self, address: int) -> str:
        """The function ``address`` falls in ('' below the first symbol)."""
        found = self._cache.get(address)
        if found is None:
            at = bisect.bisect_right(self._addresses, address) - 1
            found = self._names[at] if at >= 0 else ""
            self._cache[address] = found
        return found

    def names(self, addresses: Iterable[int]) -> list[str]:
        """Names for a whole stack, in the same order."""
        cache = self._cache
        return [cache.get(a) or self.name(a) for a in addresses]


def parse_kallsyms(data: bytes) -> KernelSymbols | None:
    """Build the table from the bytes of /proc/kallsyms; None when every address is hidden (zero)."""
    functions = kallsyms.parse_kallsyms(data.decode("ascii", "replace"))
    if functions is None:
        return None
    return KernelSymbols(functions.starts, [name.split(" ", 1)[0] for name in functions.names])


def load_kernel_symbols(path: str = KALLSYMS) -> KernelSymbols | None:
    """Read /proc/kallsyms (about 0.2 s for ~120k text symbols); None if unreadable or hidden."""
    try:
        with open(path, "rb") as f:
            return parse_kallsyms(f.read())
    except OSError:
        return None

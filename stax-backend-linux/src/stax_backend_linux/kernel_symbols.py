"""Kernel function names for addresses, from /proc/kallsyms, for classifying wait sites.

The backend needs names only to pick a blocked reason at capture time (the
recording keeps raw addresses; stax-symbols names them properly later), so this
is deliberately small: the text symbols (types t/T, w/W) sorted by address,
bisected, with a per-address cache.  Each line of /proc/kallsyms is
``ADDRESS TYPE NAME[\t[MODULE]]``; one regular expression over the whole file
keeps loading ~120k symbols to a fraction of a second.  With kernel.kptr_restrict hiding them (or
without CAP_SYSLOG at kptr_restrict 1) every address reads as zero, and
:func:`load_kernel_symbols` returns None.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence

KALLSYMS = "/proc/kallsyms"


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


# ADDRESS TYPE NAME, for the text types; the optional "\t[module]" after NAME is dropped.
_TEXT_LINE = re.compile(rb"^([0-9a-fA-F]+) [tTwW] (\S+)", re.MULTILINE)


def parse_kallsyms(data: bytes) -> KernelSymbols | None:
    """Build the table from the bytes of /proc/kallsyms; None when every address is hidden (zero)."""
    pairs = sorted((int(address, 16), name) for address, name in _TEXT_LINE.findall(data))
    if not pairs or pairs[-1][0] == 0:
        return None
    return KernelSymbols([a for a, _ in pairs], [n.decode("ascii", "replace") for _, n in pairs])


def load_kernel_symbols(path: str = KALLSYMS) -> KernelSymbols | None:
    """Read /proc/kallsyms (about 0.2 s for ~120k text symbols); None if unreadable or hidden."""
    try:
        with open(path, "rb") as f:
            return parse_kallsyms(f.read())
    except OSError:
        return None


def kernel_addresses_visible(path: str = KALLSYMS) -> bool:
    """Whether /proc/kallsyms shows real addresses to us (kptr_restrict shows zeros).

    Reads one line: the capture path needs only this answer; names come later, from
    the kallsyms symbol source, when the recording is symbolicated.
    """
    try:
        with open(path, "rb") as f:
            first = f.readline().split(b" ", 1)[0]
    except OSError:
        return False
    try:
        return int(first, 16) != 0
    except ValueError:
        return False

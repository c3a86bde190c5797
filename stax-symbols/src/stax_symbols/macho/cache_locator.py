"""Which dyld shared caches to search for a dylib that is not on disk.

In order: the ``dyld_shared_cache`` symbol option (a path or a list; ``stax symbolize`` sets
it to the cache it was given), ``STAX_DYLD_SHARED_CACHE`` (``:``-separated), then on macOS
the system's own directories (macOS 13+ keeps the cache in the Cryptex volume, 11-12 in
``/System/Library/dyld``).  A directory stands for every main cache file in it
(``dyld_shared_cache_<arch>``, not the ``.01``/``.symbols``/``.map`` companions).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

CACHE_OPTION = "dyld_shared_cache"
CACHE_ENV = "STAX_DYLD_SHARED_CACHE"
SYSTEM_CACHE_DIRS = (
    "/System/Volumes/Preboot/Cryptexes/OS/System/Library/dyld",
    "/System/Library/dyld",
)
_PREFIX = "dyld_shared_cache_"


def cache_paths(options: Mapping[str, object]) -> list[str]:
    """Main cache files to search, most specific first (existing ones only)."""
    given: list[str] = []
    option = options.get(CACHE_OPTION)
    if isinstance(option, str):
        given.append(option)
    elif isinstance(option, list | tuple):
        given.extend(str(p) for p in option)
    given.extend(p for p in os.environ.get(CACHE_ENV, "").split(os.pathsep) if p)
    if sys.platform == "darwin":
        given.extend(SYSTEM_CACHE_DIRS)
    out: list[str] = []
    for path in given:
        if os.path.isdir(path):
            try:
                names = sorted(os.listdir(path))
            except OSError:
                continue
            out.extend(os.path.join(path, n) for n in names if n.startswith(_PREFIX) and "." not in n)
        elif os.path.isfile(path):
            out.append(path)
    return list(dict.fromkeys(out))

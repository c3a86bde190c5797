"""Which function a name typed on the command line means, for every view that takes one.

``stax callers``, ``stax callees`` and ``stax annotate`` accept a function as ``stax top``
shows it, as the binary spells it (mangled), or as a part of one name; a part several
functions share is one sentence listing them, so the user can pick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from stax.analysis.demangle import demangle
from stax.errors import UsageError

MAX_CANDIDATES_SHOWN = 5


def match_function_name(names: Iterable[str], wanted: str,
                        shown: Callable[[str], str] = demangle) -> str | None:
    """The name among ``names`` (as shown) that ``wanted`` means: itself, ``shown(wanted)`` (the
    mangled name demangled), or the one name containing it; None when no name does.

    Raises :class:`~stax.errors.UsageError` naming the candidates when several names contain it."""
    names = set(names)
    if wanted in names:
        return wanted
    if shown(wanted) in names:  # the mangled name, as the binary spells it
        return shown(wanted)
    candidates = sorted(name for name in names if wanted in name)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return None
    listed = "; ".join(candidates[:MAX_CANDIDATES_SHOWN])
    hidden = len(candidates) - MAX_CANDIDATES_SHOWN
    more = f" and {hidden} more" if hidden > 0 else ""
    raise UsageError(f"{wanted!r} matches {len(candidates)} functions ({listed}{more}); give the whole name.")

"""What the page's selection selects in the ``--base`` recording of a diff.

The mode and the transforms (drop kernel, focus, merge, collapse a library) name functions
and images, so they apply to both recordings alike.  A thread filter names thread ids, which
another run does not share: it selects the base's threads of the same process and thread
names instead.  A time range is on the current recording's clock and means nothing in
another run, so the base is compared whole; the answer says so in a sentence
(``base_notes``), which the page shows beside the diff.
"""

from __future__ import annotations

import attrs

from stax.recording.reader import Recording
from stax_web.query import ViewQuery

TIME_RANGE_NOTE = ("The time range selects in this recording only: the base is another run, with its own"
                   " clock, so it is compared whole.")


@attrs.frozen(slots=True)
class BaseSelection:
    """The base's query (None: nothing of the base is selected) and the sentences about it."""

    query: ViewQuery | None
    notes: tuple[str, ...]


def base_selection(query: ViewQuery, current: Recording, base: Recording) -> BaseSelection:
    """The base's side of ``query`` (the page's selection over ``current``)."""
    notes: list[str] = []
    base_query = query.with_selection_only()
    if query.start is not None or query.end is not None:
        notes.append(TIME_RANGE_NOTE)
    if query.tids:
        wanted = {(t.process_name, t.name) for t in current.threads() if t.tid in query.tids}
        tids = frozenset(t.tid for t in base.threads() if (t.process_name, t.name) in wanted)
        names = ", ".join(sorted({name for _, name in wanted})) or "as the selected ones"
        if not tids:
            notes.append(f"No thread of the base is named {names}: the thread filter selects by name"
                         " there (thread ids differ between runs), so its side is empty.")
            return BaseSelection(None, tuple(notes))
        them = "its thread" if len(tids) == 1 else f"its {len(tids)} threads"
        notes.append(f"The thread filter selects in the base by name (thread ids differ between runs):"
                     f" {them} named {names}.")
        base_query = attrs.evolve(base_query, tids=tids)
    return BaseSelection(base_query, tuple(notes))

"""Whether ``stax record`` finished a recording, and the sentence every view says when it did not.

The writer stores ``meta.state = "recording"`` when it creates the file (committed
before the first sample) and replaces it with ``"complete"`` in the same transaction
that closes a finished recording.  A file still saying ``"recording"`` was left by a
recorder that was killed, crashed or ran out of disk space: it holds what was
committed up to then (about once a second), with frames not yet named.  Files
written before this key existed carry no state and count as complete.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stax.recording.reader import Recording

STATE_KEY = "state"
STATE_RECORDING = "recording"
STATE_COMPLETE = "complete"


def is_incomplete(meta: dict[str, object]) -> bool:
    """True when the recorder never marked this file complete."""
    return meta.get(STATE_KEY) == STATE_RECORDING


def incomplete_notice(extent_ns: int | None) -> str:
    """The one sentence views print for an incomplete file; ``extent_ns`` is how much it covers."""
    kept = ("it holds no samples" if extent_ns is None
            else f"the samples up to {extent_ns / 1e9:.2f} s into the recording are shown")
    return (f"incomplete recording: stax record was killed or ran out of disk space before it"
            f" finished, so {kept} (frames that were not named yet show as image+offset).")


def recording_incomplete_notice(recording: Recording, meta: dict[str, object] | None = None,
                                ) -> str | None:
    """:func:`incomplete_notice` for an open recording, or None when it is complete.

    The extent runs from the first to the last event kept, samples and off-CPU spans alike.
    """
    if not is_incomplete(recording.meta() if meta is None else meta):
        return None
    spans = [span for span in (recording.time_range(), recording.off_cpu_time_range()) if span]
    if not spans:
        return incomplete_notice(None)
    return incomplete_notice(max(end for _, end in spans) - min(start for start, _ in spans))

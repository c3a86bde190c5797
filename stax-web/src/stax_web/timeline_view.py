"""``/api/timeline``: one track per thread, sample density per time bucket and off-CPU spans.

Density is one SQL ``GROUP BY`` over (bucket, thread) in the reader
(:meth:`~stax.recording.reader.Recording.thread_sample_slices`); spans are each thread's
longest :data:`MAX_SPANS` in the selection (a window query,
:meth:`~stax.recording.reader.Recording.longest_off_cpu_spans`), with ``spans_dropped``
saying how many shorter ones were left out.  Times are ns since the recording's first
event, like every ``start``/``end`` the page sends; with a time range the timeline covers
just that range (a zoom).
"""

from __future__ import annotations

from stax.recording.reader import Recording
from stax_web.query import ViewQuery

MAX_SPANS = 2_000
"""Off-CPU spans per track at most, longest first."""


def timeline(rec: Recording, origin: tuple[int, int], query: ViewQuery, buckets: int) -> dict:
    first, last = origin
    start = query.start if query.start is not None else 0
    end = query.end if query.end is not None else last - first + 1
    bucket_ns = max(1, -(-(end - start) // buckets))
    flt = query.sample_filter(first)
    tracks: dict[tuple[int, int], dict] = {}
    names = {(t.pid, t.tid): t for t in rec.threads()}

    def track(pid: int, tid: int) -> dict:
        found = tracks.get((pid, tid))
        if found is None:
            thread = names.get((pid, tid))
            found = tracks[(pid, tid)] = {
                "pid": pid, "tid": tid, "name": thread.name if thread else "?",
                "process": thread.process_name if thread else "?", "density": [0] * buckets,
                "spans": [], "spans_dropped": 0}
        return found

    for index, pid, tid, count in rec.thread_sample_slices(flt, first + start, bucket_ns):
        if 0 <= index < buckets:
            track(pid, tid)["density"][index] += count
    if rec.off_cpu_span_count():
        for span_start, span_end, pid, tid, reason, spans in rec.longest_off_cpu_spans(flt, MAX_SPANS):
            shown = track(pid, tid)
            shown["spans"].append([span_start - first, span_end - first, reason])
            shown["spans_dropped"] = spans - min(spans, MAX_SPANS)
    return {"start_ns": start, "end_ns": start + bucket_ns * buckets, "bucket_ns": bucket_ns,
            "tracks": [tracks[key] for key in sorted(tracks)]}

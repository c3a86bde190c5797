"""``speedscope``: a stack profile as speedscope's JSON file format, one sampled profile per thread.

The format is speedscope's published schema (``https://www.speedscope.app/file-format-schema.json``,
from ``src/lib/file-format-spec.ts`` in jlfwong/speedscope): shared frames, then profiles
of ``type: "sampled"`` whose samples are stacks (frame indices, root first) with one
weight each.  A speedscope profile has a single unit, so each thread's profile is in
nanoseconds of that thread's time: on-CPU stacks weigh the CPU time their samples
stand for, and off-CPU stacks their blocked time, each ending in an
``[off-CPU: REASON]`` frame (``[off-CPU: preempted]`` for runnable wait), so "left
heavy" shows where a thread's wall time went and the sandwich view finds a function
both on and off the CPU.  Threads with the most time come first.  A recording of an event
that is not a clock (``stax record -e page-faults``) weighs its samples in events: each
thread then has a profile of those (unit ``none``, named ``...: page-faults events``) and
one of its off-CPU time in ns (``...: off-CPU``), never one adding the two.

Frames are per function (name and file, as a function's frames merge in every stax
view); a call inlined at an address is a frame of its own above the function it was
inlined into.  Weights come from per-(thread, stack) totals, so "time order" shows
aggregated stacks, not the recorded sequence (the ``firefox`` export has the timeline).
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from stax.views import ViewKind
from stax_render.json_output import write_json

if TYPE_CHECKING:
    from stax.analysis.stack_profile import StackProfile
    from stax.contracts import RenderOptions

SCHEMA_URL = "https://www.speedscope.app/file-format-schema.json"


class SpeedscopeRenderer:
    """speedscope JSON: one sampled profile per thread, weights in ns on and off the CPU."""

    name = "speedscope"
    view = ViewKind.STACK_PROFILE
    formats = ("json",)
    description = "speedscope JSON: one sampled profile per thread, on-CPU and off-CPU time in ns."

    def render(self, profile: StackProfile, options: RenderOptions, out: IO[str]) -> None:
        write_json(speedscope_document(profile), out, compact=True)


def speedscope_document(profile: StackProfile) -> dict[str, object]:
    """The speedscope file of ``profile`` as a JSON-ready dict."""
    from stax.analysis.profile import NO_STACK_NAME
    from stax.analysis.sample_weight import sample_weight

    frames: list[dict[str, object]] = []
    frame_index: dict[tuple[str, str | None], int] = {}
    expanded: dict[int, list[int]] = {}  # recorded frame id -> speedscope frames, outermost first
    stacks = profile.stacks

    def frame(name: str, file: str | None = None) -> int:
        key = (name, file)
        index = frame_index.get(key)
        if index is None:
            index = frame_index[key] = len(frames)
            frames.append({"name": name, "file": file} if file else {"name": name})
        return index

    def stack_of(stack_id: int) -> list[int]:
        out: list[int] = []
        for frame_id in stacks.frames_of(stack_id):
            chain = expanded.get(frame_id)
            if chain is None:
                lines = stacks.frames[frame_id].lines
                chain = expanded[frame_id] = [frame(line.function, line.file) for line in reversed(lines)]
            out.extend(reversed(chain))
        out.reverse()
        return out or [frame(NO_STACK_NAME)]

    # a clock's samples weigh ns, as spans do: one profile per thread; another event's weigh
    # events, so its samples are a profile of their own beside the thread's off-CPU one
    weight = sample_weight(profile.meta)
    on_part = "" if weight.is_time else f": {weight.event} events"
    off_part = "" if weight.is_time else ": off-CPU"
    per_thread: dict[tuple[int, int, str], tuple[list[list[int]], list[int]]] = {}
    for row in profile.on_cpu:
        samples, weights = per_thread.setdefault((row.pid, row.tid, on_part), ([], []))
        samples.append(stack_of(row.stack_id))
        weights.append(row.weight)
    for off in profile.off_cpu:
        samples, weights = per_thread.setdefault((off.pid, off.tid, off_part), ([], []))
        samples.append([*stack_of(off.stack_id), frame(f"[off-CPU: {off.reason}]")])
        weights.append(off.ns)
    names = profile.thread_names()
    ordered = sorted(per_thread.items(), key=lambda item: (item[0][2] == off_part != on_part,
                                                          -sum(item[1][1]), item[0]))
    profiles = [
        {"type": "sampled", "name": f"{names.get((pid, tid), '?')} (pid {pid}, tid {tid}){part}",
         "unit": "nanoseconds" if part == off_part else "none", "startValue": 0, "endValue": sum(weights),
         "samples": samples, "weights": weights}
        for (pid, tid, part), (samples, weights) in ordered
    ]
    from stax import __version__

    return {"$schema": SCHEMA_URL, "shared": {"frames": frames}, "profiles": profiles,
            "name": profile.source, "activeProfileIndex": 0, "exporter": f"stax@{__version__}"}

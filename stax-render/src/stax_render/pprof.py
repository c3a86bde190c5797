"""``pprof``: a stack profile as pprof's gzipped protobuf, for ``go tool pprof``, Pyroscope, Parca, Grafana.

The message is built with the ``protobuf`` package from pprof's own ``profile.proto``
(:mod:`stax_render.pprof_proto`), never hand-encoded.  What goes where:

- **sample types** ``samples/count``, ``cpu/nanoseconds``, ``off_cpu/nanoseconds`` and
  ``runnable_wait/nanoseconds``; the default is ``cpu``.  An on-CPU sample row carries
  its count and CPU ns; an off-CPU row its blocked ns under ``off_cpu`` (what ``stax top
  --off-cpu`` ranks) or, for ``preempted`` spans, under ``runnable_wait`` (never blocked
  time).  ``-sample_index=off_cpu`` gives the blocked-time view.  A recording of an event
  that is not a clock (``stax record -e page-faults``) weighs its samples in events, so
  the second type is that event's, ``page-faults/count`` (and the period type with it).
- **labels**: ``thread`` (its name), ``pid`` and ``tid`` on every sample; ``reason``
  (``sleep``, ``lock``, ...) and ``spans`` on off-CPU ones: ``-tagfocus=reason=lock``.
- **locations** are the recorded frames: one per address in an image, its lines the
  calls inlined there (innermost first) and then the function, each line with its
  file and line number.  **Functions** are (name, file) pairs.  An address is the
  offset stax named the frame at: the file offset in the image (the absolute address
  for kernel, JIT and unknown images), minus one for a caller's return address.
- **mappings**, one per image, carry its path and build id (hex); each spans the
  addresses of its locations with file offset 0, so for a file-backed image
  ``address - memory_start + file_offset`` is the file offset itself.  Every location
  has a function (an unnamed frame is ``image+0xOFFSET``, as in every stax view), so
  ``has_functions`` is set and pprof does not try to symbolize again;
  ``has_filenames``, ``has_line_numbers`` and ``has_inline_frames`` say what debug
  info gave.
- Samples recorded without a stack get a ``[no stack]`` location, so totals stay whole.

The stacks come from :class:`stax.analysis.stack_profile.StackProfile`: per-(thread,
stack) totals from SQL, never one message per recorded sample.
"""

from __future__ import annotations

import gzip
from typing import IO, TYPE_CHECKING

from stax.recording.meta_keys import BACKEND_SAMPLE_PERIOD, TARGET
from stax.views import ViewKind
from stax_render.binary_output import write_binary

if TYPE_CHECKING:  # the analyses and protobuf load on first render, so `stax --help` stays fast
    from stax.analysis.recorded_stacks import FrameDetail
    from stax.analysis.sample_weight import SampleWeight
    from stax.analysis.stack_profile import StackProfile
    from stax.contracts import RenderOptions
    from stax_render.pprof_proto import profile_pb2

SAMPLE_TYPES = (("samples", "count"), ("cpu", "nanoseconds"), ("off_cpu", "nanoseconds"),
                ("runnable_wait", "nanoseconds"))
"""For a clock event; another event's weight replaces ``cpu`` (:func:`sample_types`)."""
SAMPLES, CPU, OFF_CPU, RUNNABLE_WAIT = range(len(SAMPLE_TYPES))


def sample_types(weight: SampleWeight) -> tuple[tuple[str, str], ...]:
    """The sample types of a recording whose samples weigh ``weight``."""
    return (SAMPLE_TYPES[SAMPLES], (weight.kind, weight.unit), *SAMPLE_TYPES[OFF_CPU:])


class PprofRenderer:
    """A gzipped pprof ``Profile`` message (``profile.proto``) of on- and off-CPU time."""

    name = "pprof"
    view = ViewKind.STACK_PROFILE
    formats = ("pb.gz",)
    description = "pprof protobuf (gzipped) for go tool pprof, Pyroscope, Parca: on-CPU, off-CPU, labels."

    def render(self, profile: StackProfile, options: RenderOptions, out: IO[str]) -> None:
        message = pprof_profile(profile)
        write_binary(gzip.compress(message.SerializeToString(), mtime=0), out, "pprof")


def pprof_profile(profile: StackProfile) -> profile_pb2.Profile:
    """The pprof message of ``profile`` (uncompressed; pprof files are gzipped on disk)."""
    from stax_render.pprof_proto import profile_pb2

    builder = _ProfileBuilder(profile, profile_pb2.Profile())
    return builder.build()


class _ProfileBuilder:
    """Interns strings, functions, locations and mappings while samples are added."""

    def __init__(self, profile: StackProfile, message: profile_pb2.Profile) -> None:
        self.profile = profile
        self.message = message
        self.strings: dict[str, int] = {}
        self.string("")  # string_table[0] must be ""
        self.functions: dict[tuple[str, str], int] = {}
        self.locations: dict[int, int] = {}  # frame id -> location id
        self.mappings: dict[int, int] = {}  # image id -> mapping id
        self.address_ranges: dict[int, list[int]] = {}  # image id -> [lowest, highest] address
        self.no_stack_location = 0

    def string(self, text: str) -> int:
        index = self.strings.get(text)
        if index is None:
            index = self.strings[text] = len(self.strings)
            self.message.string_table.append(text)
        return index

    def build(self) -> profile_pb2.Profile:
        from stax.analysis.sample_weight import sample_weight

        profile, message = self.profile, self.message
        weight = sample_weight(profile.meta)
        types = sample_types(weight)
        for kind, unit in types:
            message.sample_type.add(type=self.string(kind), unit=self.string(unit))
        message.default_sample_type = self.string(types[CPU][0])
        message.period_type.type = self.string(weight.kind)
        message.period_type.unit = self.string(weight.unit)
        period = profile.meta.get(BACKEND_SAMPLE_PERIOD.key)
        message.period = (profile.sample_period_ns or 0) if weight.is_time else (
            period if isinstance(period, int) else 0)
        message.duration_nanos = profile.duration_ns or 0
        target = profile.meta.get(TARGET)
        message.comment.append(self.string(f"stax recording {profile.source}"
                                           + (f" of {target}" if isinstance(target, str) else "")))
        names = profile.thread_names()
        for row in profile.on_cpu:
            values = [0] * len(types)
            values[SAMPLES], values[CPU] = row.count, row.weight
            sample = self.sample(row.stack_id, values)
            self.thread_labels(sample, row.pid, row.tid, names)
        for off in profile.off_cpu:
            values = [0] * len(types)
            values[OFF_CPU if off.is_blocked else RUNNABLE_WAIT] = off.ns
            sample = self.sample(off.stack_id, values)
            self.thread_labels(sample, off.pid, off.tid, names)
            sample.label.add(key=self.string("reason"), str=self.string(off.reason))
            sample.label.add(key=self.string("spans"), num=off.spans, num_unit=self.string("count"))
        self.add_mappings()
        return message

    def sample(self, stack_id: int, values: list[int]) -> profile_pb2.Sample:
        sample = self.message.sample.add(value=values)
        locations = [self.location(frame) for frame in self.profile.stacks.frames_of(stack_id)]
        sample.location_id.extend(locations or [self.empty_stack()])
        return sample

    def thread_labels(self, sample: profile_pb2.Sample, pid: int, tid: int,
                      names: dict[tuple[int, int], str]) -> None:
        sample.label.add(key=self.string("thread"), str=self.string(names.get((pid, tid), "?")))
        sample.label.add(key=self.string("pid"), num=pid)
        sample.label.add(key=self.string("tid"), num=tid)

    def location(self, frame_id: int) -> int:
        location_id = self.locations.get(frame_id)
        if location_id is not None:
            return location_id
        frame = self.profile.stacks.frames[frame_id]
        location_id = self.locations[frame_id] = len(self.message.location) + 1
        location = self.message.location.add(id=location_id, mapping_id=self.mapping(frame),
                                              address=frame.address)
        for source in frame.lines:
            location.line.add(function_id=self.function(source.function, source.file or ""),
                              line=source.line or 0)
        return location_id

    def empty_stack(self) -> int:
        if not self.no_stack_location:
            from stax.analysis.profile import NO_STACK_NAME

            self.no_stack_location = len(self.message.location) + 1
            location = self.message.location.add(id=self.no_stack_location)
            location.line.add(function_id=self.function(NO_STACK_NAME, ""))
        return self.no_stack_location

    def function(self, name: str, file: str) -> int:
        key = (name, file)
        function_id = self.functions.get(key)
        if function_id is None:
            function_id = self.functions[key] = len(self.message.function) + 1
            self.message.function.add(id=function_id, name=self.string(name),
                                      system_name=self.string(name), filename=self.string(file))
        return function_id

    def mapping(self, frame: FrameDetail) -> int:
        image_id = frame.image_id
        mapping_id = self.mappings.get(image_id)
        if mapping_id is None:
            mapping_id = self.mappings[image_id] = len(self.mappings) + 1
            self.address_ranges[image_id] = [frame.address, frame.address]
        else:
            span = self.address_ranges[image_id]
            span[0] = min(span[0], frame.address)
            span[1] = max(span[1], frame.address)
        return mapping_id

    def add_mappings(self) -> None:
        """One mapping per image with locations; written last, when their addresses are known."""
        stacks = self.profile.stacks
        debug: dict[int, list[bool]] = {image_id: [False, False, False] for image_id in self.mappings}
        for frame_id in self.locations:
            frame = stacks.frames[frame_id]
            flags = debug[frame.image_id]
            flags[0] |= any(line.file for line in frame.lines)
            flags[1] |= any(line.line for line in frame.lines)
            flags[2] |= bool(frame.inlined)
        for image_id, mapping_id in sorted(self.mappings.items(), key=lambda item: item[1]):
            image = stacks.images.get(image_id)
            low, high = self.address_ranges[image_id]
            start = low if stacks.is_absolute(image_id) else 0
            has_files, has_lines, has_inlines = debug[image_id]
            self.message.mapping.add(
                id=mapping_id, memory_start=start, memory_limit=high + 1, file_offset=0,
                filename=self.string(image.path if image else "?"),
                build_id=self.string(image.build_id.hex() if image and image.build_id else ""),
                has_functions=True, has_filenames=has_files, has_line_numbers=has_lines,
                has_inline_frames=has_inlines,
            )

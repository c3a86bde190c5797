"""Off-CPU spans, wakeups and counters in the recording file, and the span -> wakeup link."""

from pathlib import Path

from stax.blocked_reason import BlockedReason
from stax.events import CounterValues, OffCpuInterval, ThreadName, Wakeup
from stax.recording.reader import Recording, SampleFilter
from stax.recording.writer import RecordingBuilder

K = 0xFFFFFFFF81000000


def test_spans_link_to_the_wakeup_that_ended_them(tmp_path: Path) -> None:
    path = tmp_path / "off.stax"
    builder = RecordingBuilder(path)
    builder.consume([
        ThreadName(0, 10, 11, "reader"),
        ThreadName(0, 10, 12, "writer"),
        Wakeup(150, 1, 10, 12, 10, 11, (K + 5,), (0x400,)),   # inside span 1
        Wakeup(180, 1, 10, 12, 10, 11, (K + 6,), (0x404,)),   # later, still inside: wins
        OffCpuInterval(100, 200, 10, 11, 0, BlockedReason.PIPE_IPC, "pipe_read", (K + 1,), (0x500,)),
        OffCpuInterval(300, 400, 10, 11, 0, BlockedReason.PREEMPTED, "", (), (0x500,)),
        Wakeup(450, 0, 10, 12, 10, 11, (), ()),                 # outside any span
        CounterValues(500, 10, 11, {"cycles": 1000, "instructions": 2000}),
    ])
    builder.finish(symbolicate=False)
    rec = Recording.open(path)
    spans = rec.off_cpu_spans()
    assert [(s[0], s[5]) for s in spans] == [(100, "pipe-ipc"), (300, "preempted")]
    wakeups = rec.wakeups()
    first = wakeups[spans[0][8]]
    assert first[0] == 180 and first[3] == 12  # time, waker tid
    assert spans[1][8] is None
    blocked = rec.off_cpu_stack_totals()
    assert [(r, n, ns) for _, r, n, ns in blocked] == [("pipe-ipc", 1, 100)]
    assert len(rec.off_cpu_stack_totals(include_preempted=True)) == 2
    per_thread = {(tid, reason): ns for _, tid, reason, _, ns in rec.thread_off_cpu()}
    assert per_thread == {(11, "pipe-ipc"): 100, (11, "preempted"): 100}
    assert rec.thread_off_cpu(SampleFilter(tids=frozenset({12}))) == []
    assert sorted(rec.counter_totals()) == [(10, 11, "cycles", 1000), (10, 11, "instructions", 2000)]
    assert rec.meta()["off_cpu_spans"] == 2 and rec.meta()["wakeups"] == 3


def test_spans_are_classified_by_their_named_kernel_wait_site(tmp_path: Path) -> None:
    """Backends may leave the reason 'other'; the named kernel stack decides after symbolication."""
    import stax
    from stax.contracts import SymbolInfo
    from stax.plugin_manager import StaxPlugins

    names = {K + 0x10: "__schedule", K + 0x20: "schedule", K + 0x30: "do_nanosleep",
             K + 0x40: "pipe_read"}

    class Kernel:
        name, order = "test-kernel", 1

        def symbolicate(self, image, offsets, context):
            return {o: [SymbolInfo(names[o + 1] if o + 1 in names else names[o], 0)]
                    for o in offsets if o in names or o + 1 in names}

    class Plugin:
        @stax.hookimpl
        def stax_symbol_sources(self):
            return [Kernel()]

    plugins = StaxPlugins()
    plugins.register(Plugin())
    path = tmp_path / "classify.stax"
    builder = RecordingBuilder(path, plugins)
    builder.consume([
        OffCpuInterval(0, 100, 1, 1, 0, BlockedReason.OTHER, "", (K + 0x10, K + 0x20, K + 0x30), ()),
        OffCpuInterval(200, 300, 1, 1, 0, BlockedReason.OTHER, "", (K + 0x10, K + 0x20, K + 0x40), ()),
        OffCpuInterval(400, 500, 1, 1, 0, BlockedReason.PREEMPTED, "", (K + 0x10, K + 0x20, K + 0x30), ()),
        OffCpuInterval(600, 700, 1, 1, 0, BlockedReason.LOCK, "futex_wait", (), ()),
    ])
    builder.finish()
    spans = [(s[5], s[6]) for s in Recording.open(path).off_cpu_spans()]
    assert spans == [("sleep", "do_nanosleep"), ("pipe-ipc", "pipe_read"), ("preempted", ""),
                     ("lock", "futex_wait")]

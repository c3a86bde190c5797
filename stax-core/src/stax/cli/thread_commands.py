"""``stax threads`` and ``stax wakers``: where each thread's time went, and who woke it.

``threads`` puts on-CPU time, blocked time by reason, runnable wait and wakeups
side by side per thread; ``wakers`` joins each blocked stack to the threads and
stacks that ended its waits.  Both take the same ``--pid/--tid/--comm`` selection as
the other views (it selects the threads that were on CPU or blocked; their wakers
may be any thread), build their view's input (:mod:`stax.cli.view_inputs`) and hand
it to the renderer of that view, ``threads`` or ``wakers`` (stax-render's, unless a
plugin registered its own first): a table, or ``--json`` with stable keys.  An
unfinished recording gets the "incomplete recording" sentence on stderr
(``incomplete`` in the JSON).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from stax.cli.view_commands import DEFAULT_RECORDING, Frames, Selection
from stax.cli.view_inputs import (
    DEFAULT_MAX_WAKERS,
    DEFAULT_WAKERS_LIMIT,
    NoBlockedTime,
    load_thread_breakdown,
    load_wakeup_chains,
)
from stax.contracts import RenderOptions
from stax.text_safety import printable
from stax.views import ViewKind


def threads(
    recording: Path = DEFAULT_RECORDING,
    /,
    *,
    limit: Annotated[int, Parameter(name=["-n", "--limit"])] = -1,
    selection: Selection | None = None,
    woken: Annotated[bool, Parameter(name="--woken", negative="")] = False,
    json_output: Annotated[bool, Parameter(name="--json", negative="")] = False,
) -> int:
    """Show where each thread's time went: on CPU, blocked by reason, waiting for a CPU.

    Per thread: on-CPU time (from samples), blocked time split by reason (sleep, lock,
    disk-io, network, pipe-ipc, poll, page-fault, other), runnable wait (preempted:
    ready to run but no CPU free), wakeups received and the threads that woke it most;
    hardware counters and IPC when they were recorded. Busiest threads first.
    Example: ``stax threads rec.stax --comm myprog``.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    limit
        How many threads to show (-1 for all).
    woken
        Also list the threads outside the target that it only woke (a shell, a kernel
        worker, another program): the recording holds nothing of them but those wakeups.
    json_output
        Print JSON instead of a table.
    """
    view = load_thread_breakdown(recording, selection or Selection(), limit, not json_output, woken)
    _draw("threads", ViewKind.THREAD_BREAKDOWN, view, json_output, limit)
    return 0


def wakers(
    recording: Path = DEFAULT_RECORDING,
    /,
    *,
    limit: Annotated[int, Parameter(name=["-n", "--limit"])] = DEFAULT_WAKERS_LIMIT,
    max_wakers: Annotated[int, Parameter(name=["-w", "--wakers"])] = DEFAULT_MAX_WAKERS,
    selection: Selection | None = None,
    frames: Frames | None = None,
    json_output: Annotated[bool, Parameter(name="--json", negative="")] = False,
) -> int:
    """Show who woke each blocked stack: the blocked stack, then the waker threads and stacks.

    Each entry is one off-CPU stack (kernel wait site at the bottom) with its blocked
    reason and time, followed by ``-- woken by --`` and the stack of each thread whose
    wakeup ended those waits, most blocked time first. Runnable wait (preempted) is not
    blocking and has no waker. A wakeup done by an interrupt (a timer for a sleep, an
    I/O completion) is shown as ``[timer interrupt]``, ``[softirq]`` or ``[interrupt]``
    with the kernel stack from the interrupt entry, not as the thread it happened to
    interrupt. Example: ``stax wakers rec.stax -n 5 --comm server``.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    limit
        How many blocked stacks to show (-1 for all).
    max_wakers
        How many wakers to show per blocked stack (-1 for all); the rest are summed.
    json_output
        Print JSON instead of text.
    """
    try:
        view = load_wakeup_chains(recording, selection or Selection(), limit, max_wakers,
                                  not json_output, (frames or Frames()).style())
    except NoBlockedTime as nothing:  # nothing to show is an answer, not a failure
        print(f"stax: {printable(str(nothing))}", file=sys.stderr)
        if json_output:  # still a document of the usual shape, saying why it is empty
            from stax.analysis.wakeup_chains import WakeupChains, WakeupChainsView

            empty = WakeupChainsView(str(recording), WakeupChains((), 0, 0, 0, 0), (str(nothing),))
            _draw("wakers", ViewKind.WAKEUP_CHAINS, empty, json_output, limit)
        return 0
    _draw("wakers", ViewKind.WAKEUP_CHAINS, view, json_output, limit)
    return 0


def _draw(name: str, view_kind: ViewKind, view: object, json_output: bool, limit: int) -> None:
    from stax.plugin_manager import get_plugins

    options = RenderOptions(format="json" if json_output else "text", limit=limit)
    get_plugins().renderer(name, view_kind).render(view, options, sys.stdout)
    sys.stdout.flush()

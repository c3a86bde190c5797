"""Telling a thread's own wakeup from an interrupt's that landed on it (kernel stacks seen on x86-64)."""

from __future__ import annotations

from stax.analysis.profile import DisplayFrame
from stax.analysis.wakeup_context import (
    INTERRUPT,
    SOFTIRQ,
    TIMER_INTERRUPT,
    interrupt_name,
    interrupt_start,
)


def stack(folded: str) -> list[DisplayFrame]:
    """Root-first frames; names starting with ``k:`` are kernel frames."""
    return [DisplayFrame(n[2:], "[kernel.kallsyms]", is_kernel=True) if n.startswith("k:")
            else DisplayFrame(n, "prog") for n in folded.split(";")]


def cut(folded: str) -> tuple[str | None, list[str]]:
    frames = stack(folded)
    start = interrupt_start(frames)
    if start is None:
        return None, []
    return interrupt_name(frames[start:]), [f.name for f in frames[start:]]


def test_thread_context_wakeup_is_not_an_interrupt() -> None:
    assert cut("main;writer_loop;write;k:ksys_write;k:anon_pipe_write;k:__wake_up_common;"
               "k:try_to_wake_up") == (None, [])


def test_timer_interrupt_on_a_bystander_is_cut_at_the_entry() -> None:
    name, frames = cut("spin;k:asm_sysvec_apic_timer_interrupt;k:sysvec_apic_timer_interrupt;"
                       "k:hrtimer_interrupt;k:__hrtimer_run_queues;k:hrtimer_wakeup;k:try_to_wake_up")
    assert name == TIMER_INTERRUPT and frames[0] == "asm_sysvec_apic_timer_interrupt"
    assert "spin" not in frames


def test_nested_interrupt_is_cut_at_the_innermost_entry() -> None:
    name, frames = cut("k:do_softirq.part.0;k:handle_softirqs;k:net_rx_action;"
                       "k:asm_sysvec_apic_timer_interrupt;k:sysvec_apic_timer_interrupt;"
                       "k:hrtimer_interrupt;k:hrtimer_wakeup;k:try_to_wake_up")
    assert name == TIMER_INTERRUPT and frames[0] == "asm_sysvec_apic_timer_interrupt"


def test_softirq_and_device_interrupts() -> None:
    name, frames = cut("k:ret_from_fork;k:smpboot_thread_fn;k:run_ksoftirqd;k:handle_softirqs;"
                       "k:net_rx_action;k:tcp_v4_rcv;k:sock_def_readable;k:__wake_up_common;"
                       "k:try_to_wake_up")
    assert name == SOFTIRQ and frames[0] == "handle_softirqs"
    name, _ = cut("k:asm_common_interrupt;k:common_interrupt;k:nvme_irq;k:blk_mq_end_request;"
                  "k:try_to_wake_up")
    assert name == INTERRUPT
    # a user function that happens to share a prefix is not an entry
    assert cut("asm_sysvec_lookalike;k:try_to_wake_up") == (None, [])

"""Every kdebug, kperf and ktrace constant the macOS backend uses, in one place.

Read from xnu ``xnu-11417.101.15`` (bsd/sys/kdebug.h, bsd/sys/kdebug_private.h,
bsd/sys/sysctl.h, osfmk/kperf/{buffer,action,callstack}.h, osfmk/kern/{ast,thread}.h,
bsd/kern/syscalls.master, osfmk/kern/syscall_sw.c) and dyld's Tracing.cpp; nothing
here has been checked against a running Mac.  A debugid is
``class << 24 | subclass << 16 | code << 2 | func``, func being DBG_FUNC_START (1) /
DBG_FUNC_END (2); an *event id* is the debugid without the func bits.
"""

from __future__ import annotations

DBG_FUNC_START = 1
DBG_FUNC_END = 2
KDBG_FUNC_MASK = 0x3
KDBG_EVENTID_MASK = 0xFFFFFFFC
KDBG_CSC_MASK = 0xFFFF0000
"""Class and subclass of a debugid."""


def kdbg_code(klass: int, subclass: int, code: int) -> int:
    """KDBG_CODE(Class, SubClass, Code) of kdebug.h."""
    return ((klass & 0xFF) << 24) | ((subclass & 0xFF) << 16) | ((code & 0x3FFF) << 2)


# -- classes (kdebug.h) -------------------------------------------------------------------------------
DBG_MACH = 1
DBG_BSD = 4
DBG_TRACE = 7
DBG_DYLD = 31
DBG_PERF = 37

# DBG_MACH subclasses
DBG_MACH_EXCP_SC = 0x0C
"""Mach traps: code = trap number, START on entry, END on return."""
DBG_MACH_EXCP_INTR = 0x05
DBG_MACH_VM = 0x30
DBG_MACH_SCHED = 0x40
# DBG_BSD subclasses
DBG_BSD_EXCP_SC = 0x0C
"""BSD system calls: code = syscall number."""

MACH_SYSCALL_CSC = kdbg_code(DBG_MACH, DBG_MACH_EXCP_SC, 0)
BSD_SYSCALL_CSC = kdbg_code(DBG_BSD, DBG_BSD_EXCP_SC, 0)
MACH_SCHED_CSC = kdbg_code(DBG_MACH, DBG_MACH_SCHED, 0)
MACH_VMFAULT = kdbg_code(DBG_MACH, DBG_MACH_VM, 2)
"""A page fault being handled (START..END on the faulting thread)."""

# -- the scheduler (DBG_MACH_SCHED codes) ---------------------------------------------------------------
MACH_SCHED = kdbg_code(DBG_MACH, DBG_MACH_SCHED, 0x0)
"""Context switch, traced by the old thread (arg5): arg1 reason, arg2 new tid, arg3/arg4 priorities."""
MACH_STACK_HANDOFF = kdbg_code(DBG_MACH, DBG_MACH_SCHED, 0x2)
"""A switch by stack handoff: same arguments as MACH_SCHED."""
MACH_MAKE_RUNNABLE = kdbg_code(DBG_MACH, DBG_MACH_SCHED, 0x6)
"""thread_unblock: arg1 woken tid, arg2 priority, arg3 wait result; arg5 is the waker."""
MACH_BLOCK = kdbg_code(DBG_MACH, DBG_MACH_SCHED, 0xF)
MACH_WAIT = kdbg_code(DBG_MACH, DBG_MACH_SCHED, 0x10)
MACH_DISPATCH = kdbg_code(DBG_MACH, DBG_MACH_SCHED, 0x20)
"""Switch completed (traced on the new thread): arg1 old tid, arg2 reason, arg3 old thread's state."""

# ast_t bits that a MACH_SCHED reason may carry (osfmk/kern/ast.h)
AST_PREEMPT = 0x01
AST_QUANTUM = 0x02
AST_URGENT = 0x04
AST_HANDOFF = 0x08
AST_YIELD = 0x10
AST_PREEMPTION = AST_PREEMPT | AST_QUANTUM | AST_URGENT
# thread->state bits (osfmk/kern/thread.h), in MACH_DISPATCH arg3
TH_WAIT = 0x01
TH_RUN = 0x04

# -- DBG_TRACE: the trace system's own events -----------------------------------------------------------
TRACE_DATA_NEWTHREAD = kdbg_code(DBG_TRACE, 0, 1)
"""arg1 new tid, arg2 pid of its task, arg3 1 for a thread made for an exec; arg5 the creator."""
TRACE_DATA_EXEC = kdbg_code(DBG_TRACE, 0, 2)
"""arg1 pid; arg5 the exec'ing thread."""
TRACE_DATA_THREAD_TERMINATE = kdbg_code(DBG_TRACE, 0, 3)
"""arg1 the tid that ended."""
TRACE_DATA_THREAD_TERMINATE_PID = kdbg_code(DBG_TRACE, 0, 4)
"""arg1 pid of the ending thread (arg5)."""
TRACE_STRING_GLOBAL = kdbg_code(DBG_TRACE, 1, 0)
"""kdebug_trace_string(): START arg1 debugid, arg2 string id, arg3-4 the first 16 bytes; then 32 per event."""
TRACE_STRING_NEWTHREAD = kdbg_code(DBG_TRACE, 1, 1)
TRACE_STRING_EXEC = kdbg_code(DBG_TRACE, 1, 2)
"""The process name after exec, 8 bytes per argument; arg5 the thread."""
TRACE_STRING_PROC_EXIT = kdbg_code(DBG_TRACE, 1, 3)
TRACE_STRING_THREADNAME = kdbg_code(DBG_TRACE, 1, 4)
"""pthread_setname_np: the name 8 bytes per argument, START on the first event, END on the last."""
TRACE_STRING_THREADNAME_PREV = kdbg_code(DBG_TRACE, 1, 5)
TRACE_LOST_EVENTS = kdbg_code(DBG_TRACE, 2, 2)
"""The kernel buffer wrapped: events before this one were lost."""

# -- DBG_DYLD: image loads (dyld Tracing.cpp; 64-bit processes) ----------------------------------------
DBG_DYLD_UUID = 5
DYLD_UUID_MAP_A = kdbg_code(DBG_DYLD, DBG_DYLD_UUID, 0)
"""arg1/arg2 the UUID's two 8-byte halves (little-endian loads), arg3 the mach header address, arg4 fsid."""
DYLD_UUID_MAP_B = kdbg_code(DBG_DYLD, DBG_DYLD_UUID, 1)
"""arg1 fsobjid, arg2 the id of the path string traced just before (0 from older dyld)."""
DYLD_UUID_UNMAP_A = kdbg_code(DBG_DYLD, DBG_DYLD_UUID, 5)
DYLD_UUID_SHARED_CACHE_A = kdbg_code(DBG_DYLD, DBG_DYLD_UUID, 10)
"""The process's dyld shared cache: arg1/arg2 its UUID, arg3 its slid base address."""

# -- DBG_PERF: kperf samples (osfmk/kperf/buffer.h) ------------------------------------------------------
PERF_GEN_EVENT = kdbg_code(DBG_PERF, 0, 0)
"""Brackets one sample: START arg1 samplers, arg2 action, arg4 sample flags; END arg2 meta flags."""
PERF_TI_DATA = kdbg_code(DBG_PERF, 1, 1)
"""Thread info: arg1 pid, arg2 tid, arg3 dispatch queue, arg4 run mode."""
PERF_CS_KDATA = kdbg_code(DBG_PERF, 2, 3)
PERF_CS_UDATA = kdbg_code(DBG_PERF, 2, 4)
PERF_CS_KHDR = kdbg_code(DBG_PERF, 2, 5)
"""Kernel callstack header: arg1 flags, arg2 frames, arg3 async index, arg4 async frames."""
PERF_CS_UHDR = kdbg_code(DBG_PERF, 2, 6)
PERF_TM_FIRE = kdbg_code(DBG_PERF, 3, 0)
"""A kperf timer fired: arg1 timer, arg2 is-PET, arg3 period in mach ticks, arg4 action."""
PERF_KPC_DATA_THREAD = kdbg_code(DBG_PERF, 6, 8)
"""Per-thread PMU counters, four per event."""

# kperf samplers (action.h)
SAMPLER_TH_INFO = 1 << 0
SAMPLER_KSTACK = 1 << 2
SAMPLER_USTACK = 1 << 3
SAMPLER_PMC_THREAD = 1 << 4
# sample flags, GEN_EVENT START arg4 (action.h)
SAMPLE_FLAG_PEND_USER = 1 << 0
SAMPLE_FLAG_NON_INTERRUPT = 1 << 4
"""Taken at a context switch (lightweight PET), not by a timer interrupt."""
# sample meta flags, GEN_EVENT END arg2
SAMPLE_META_THREAD_WAS_IDLE = 1 << 0
SAMPLE_META_UPEND = 1 << 1
"""The user stack was deferred to the thread's next return to user space."""
# callstack flags (callstack.h)
CALLSTACK_VALID = 1 << 0
CALLSTACK_TRUNCATED = 1 << 4
CALLSTACK_CONTINUATION = 1 << 5

# -- kd_buf and the thread map (kdebug_private.h) -------------------------------------------------------
KD_BUF_SIZE = 64
"""u64 timestamp, u64 arg1-4, u64 arg5 (thread id), u32 debugid, u32 cpuid, u64 unused."""
KD_THREADMAP_SIZE = 32
"""u64 thread id, i32 pid, char command[20]."""

# -- the sysctl interface, MIB {CTL_KERN, KERN_KDEBUG, op} (sysctl.h) ----------------------------------
CTL_KERN = 1
KERN_KDEBUG = 24
KERN_KDENABLE = 3
KERN_KDSETBUF = 4
KERN_KDSETUP = 6
KERN_KDREMOVE = 7
KERN_KDREADTR = 10
KERN_KDTHRMAP = 12
KERN_KDSET_TYPEFILTER = 22
KERN_KDBUFWAIT = 23
TYPEFILTER_BYTES = (256 * 256) // 8
"""KDBG_TYPEFILTER_BITMAP_SIZE: one bit per (class << 8 | subclass)."""

"""Off-CPU time: the context-switch and sched_waking events, and the stream that turns their
records into off-CPU intervals, blocked reasons and wakeups."""

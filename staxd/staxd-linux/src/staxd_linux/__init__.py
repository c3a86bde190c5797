"""staxd for Linux: the privileged perf_event_open broker (systemd service)."""

__version__ = "0.1.0"

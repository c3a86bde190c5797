"""staxd for Linux: the privileged perf_event_open broker (systemd service)."""

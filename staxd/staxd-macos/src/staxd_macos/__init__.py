"""staxd for macOS: the root kperf/kdebug broker (LaunchDaemon) that records for permitted users."""

__version__ = "0.1.0"

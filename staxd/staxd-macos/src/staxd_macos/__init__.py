"""staxd for macOS: the root kperf/kdebug broker (LaunchDaemon)."""

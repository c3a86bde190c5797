"""staxd for macOS, the root kperf/kdebug broker (LaunchDaemon): a placeholder, not built yet."""

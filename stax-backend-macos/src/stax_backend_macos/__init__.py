"""stax capture backend for macOS (kperf/kdebug through staxd): registers itself; capture is not built yet."""

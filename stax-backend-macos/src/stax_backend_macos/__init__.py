"""stax capture backend for macOS: kperf/kdebug through staxd (decoding checked on Linux with synthesized buffers)."""

"""stax capture backend for Linux: perf_event_open through cffi, ring buffers, PERF_RECORD decoding."""

"""Turning ring bytes into stax events: the PERF_RECORD decoder, its compiled fast path, time order."""

"""Hardware counters: opening the counter group per thread and CPU, and decoding its reads."""

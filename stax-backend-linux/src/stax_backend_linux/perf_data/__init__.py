"""``stax import perf.data``: Linux perf recordings read with the capture backend's own decoder."""

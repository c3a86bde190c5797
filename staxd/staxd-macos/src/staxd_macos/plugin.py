"""staxd's plugin module: registers nothing yet (the broker arrives with its own issue)."""

"""The client side of staxd: asking the broker for event fds over its Unix socket."""

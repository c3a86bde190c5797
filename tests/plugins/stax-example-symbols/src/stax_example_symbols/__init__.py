"""A sidecar-file symbol source for stax (an example third-party plugin)."""

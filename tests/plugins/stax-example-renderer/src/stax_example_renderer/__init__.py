"""A third-party stax renderer: ``hotlist``, one ``NAME PERCENT`` line per function."""

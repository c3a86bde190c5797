"""The ``--call-graph dwarf`` mode: user registers and stack copies spooled during capture,
unwound with the CFI unwinder (``unwind/``) after it."""

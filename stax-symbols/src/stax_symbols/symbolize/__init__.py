"""``stax symbolize FILE ADDR...``: function, inline chain and file:line per address, for ELF,
Mach-O (thin or universal) and dyld shared cache files, through the same symbol sources
that name recordings.  Registered through the ``stax_cli_commands`` hook, so core knows
nothing of symbol files."""

"""stax symbol sources: ELF symbol tables, kallsyms, the vDSO (later: debug files, DWARF, JIT maps).

Each source is its own plugin object, registered through its own ``stax`` entry point in
:mod:`stax_symbols.plugin`; importing this package imports nothing heavy.
"""

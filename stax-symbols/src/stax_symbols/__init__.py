"""stax symbol sources: ELF symbol tables, kallsyms, vDSO, separate debug files, debuginfod, DWARF, JIT maps."""

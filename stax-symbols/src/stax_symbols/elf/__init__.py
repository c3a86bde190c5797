"""ELF symbol tables: .symtab/.dynsym of files on disk (and of the vDSO and separate debug files)."""

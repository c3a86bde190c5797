"""stax-binfmt: the binary formats and kernel interfaces stax reads, in one place (see README.md)."""

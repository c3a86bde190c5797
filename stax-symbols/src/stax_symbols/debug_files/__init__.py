"""Separate debug files: finding an image's (build id, .gnu_debuglink, debuginfod), and names from
its .symtab."""

"""DWARF debug info: function names, inlined frames and source lines from .debug_info/.debug_line."""

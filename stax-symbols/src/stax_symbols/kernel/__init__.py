"""Kernel frames: kallsyms of the running kernel, and the vDSO."""

"""stax capture backend for macOS (kperf/kdebug) and the Apple ktrace importer.

Decoding is checked on Linux with synthesized traces; nothing here has run on a Mac yet.
"""

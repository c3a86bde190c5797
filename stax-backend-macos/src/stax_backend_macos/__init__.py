"""stax capture backend for macOS (kperf/kdebug) and the Apple ktrace importer; decoding checked on Linux."""

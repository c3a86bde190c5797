"""JIT code: jitdump files and perf maps written by runtimes (node, the JVM, ...)."""

"""stax renderers: top tables, flamegraph SVG, collapsed stacks."""

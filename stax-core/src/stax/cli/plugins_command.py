"""``stax plugins``: what was discovered through the ``stax`` entry-point group.

Below the table: the renderers of each view (:class:`stax.views.ViewKind`), the symbol
sources in the order they are asked, and the capture backends.
"""

from __future__ import annotations

import json
from typing import Annotated

from cyclopts import Parameter

from stax.plugin_manager import get_plugins
from stax.views import ViewKind


def plugins(*, json_output: Annotated[bool, Parameter(name="--json")] = False) -> int:
    """List discovered plugins: entry point, distribution, version and the hooks each implements.

    Parameters
    ----------
    json_output
        Print JSON instead of a table.
    """
    manager = get_plugins()
    infos = manager.plugins()
    if json_output:
        print(json.dumps([
            {"name": i.name, "distribution": i.distribution, "version": i.version,
             "module": i.module, "hooks": list(i.hooks)} for i in infos
        ], indent=2))
        return 0
    rows = [("PLUGIN", "DISTRIBUTION", "VERSION", "HOOKS")]
    rows += [(i.name, i.distribution, i.version, ", ".join(i.hooks) or "-") for i in infos]
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(row[:3])) + "  " + row[3])
    renderers = manager.renderers()
    if renderers:
        print("\nrenderers, by the view they draw:")
        for view in ViewKind:
            names = sorted(name for drawn, name in renderers if drawn is view)
            if names:
                print(f"  {view}: {', '.join(names)}")
    sources = manager.symbol_sources()
    if sources:
        print("symbol sources (in order): " + ", ".join(s.name for s in sources))
    code_sources = manager.code_sources()
    if code_sources:
        print("code sources (in order): " + ", ".join(s.name for s in code_sources))
    backends = manager.capture_backends()
    if backends:
        print("capture backends: " + ", ".join(f"{b.name} ({b.os_name})" for b in backends))
    return 0

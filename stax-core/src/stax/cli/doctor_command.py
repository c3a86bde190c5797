"""``stax doctor``: what this host lets stax capture, row by row, with the reason and the fix.

The rows come from the capture backend for this OS (``capabilities()``); the staxd
support for the OS (see :mod:`stax.cli.setup_command`) then says which of them
the broker really grants to this user and adds the host checks (kernel settings,
tracefs, PMU, staxd reachable, group membership).  Without staxd support
installed, the backend's rows are shown as they are.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from typing import Annotated

from cyclopts import Parameter

from stax.capabilities import CapabilityRow, CapabilityStatus, HostCheck
from stax.cli.setup_command import find_broker
from stax.install_hint import install_from_clone
from stax.plugin_manager import get_plugins

_HEADERS = ("CAPABILITY", "STATUS")


def _table(platform: str) -> tuple[str, list[dict[str, str]]]:
    backend = get_plugins().backend_for_this_os()
    rows = backend.capabilities()
    broker = find_broker(platform)
    if broker is not None:
        return backend.name, [row.to_json() for row in broker.doctor_table(rows)]
    table: list[CapabilityRow | HostCheck] = [*rows, HostCheck(
        "staxd installed", CapabilityStatus.UNAVAILABLE, "the staxd support for this OS is not installed",
        install_from_clone("staxd-linux" if platform == "linux" else "staxd-macos"))]
    return backend.name, [row.to_json() for row in table]


def _print(table: list[dict[str, str]]) -> None:
    name_width = max(len(_HEADERS[0]), *(len(r["capability"]) for r in table))
    status_width = max(len(_HEADERS[1]), *(len(r["status"]) for r in table))
    indent = name_width + status_width + 4
    width = max(60, shutil.get_terminal_size((120, 24)).columns)
    wrap = textwrap.TextWrapper(width=width, initial_indent=" " * indent,
                                subsequent_indent=" " * (indent + 2))
    print(f"{_HEADERS[0]:<{name_width}}  {_HEADERS[1]:<{status_width}}  WHY / FIX")
    previous_kind = table[0]["kind"] if table else ""
    for row in table:
        if row["kind"] != previous_kind:
            print()
            previous_kind = row["kind"]
        print(f"{row['capability']:<{name_width}}  {row['status']:<{status_width}}", end="")
        lines = []
        if row["reason"]:
            lines += wrap.wrap(row["reason"])
        if row["fix"] and row["status"] != "available":
            lines += wrap.wrap("fix: " + row["fix"])
        print(("  " + lines[0].lstrip()) if lines else "")
        for line in lines[1:]:
            print(line)


def doctor(*, json_output: Annotated[bool, Parameter(name="--json", negative="")] = False) -> int:
    """Show what this host lets stax capture: available, via staxd, or unavailable (with the fix).

    Parameters
    ----------
    json_output
        Print JSON instead of a table.
    """
    backend_name, table = _table(sys.platform)
    if json_output:
        print(json.dumps({"platform": sys.platform, "backend": backend_name, "rows": table}, indent=2))
    else:
        _print(table)
    return 0

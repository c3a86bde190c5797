"""Adds ``stax symbolize`` to the command line (entry point ``cli-symbolize``).

Registered by import string, so ``stax --help`` imports no symbol reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import stax

if TYPE_CHECKING:
    import cyclopts

SUMMARY = "Function, inline chain and file:line of addresses in an ELF or Mach-O file."


@stax.hookimpl
def stax_cli_commands(app: cyclopts.App) -> None:
    app.command("stax_symbols.symbolize.command:symbolize", name="symbolize", help=SUMMARY)

"""Adds ``stax serve`` to the command line (entry point ``cli-serve``).

Registered by import string, so ``stax --help`` imports neither starlette nor uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import stax

if TYPE_CHECKING:
    import cyclopts

SUMMARY = "Every view of a recording in the browser: flame graph, call tree, timeline, diff."


@stax.hookimpl
def stax_cli_commands(app: cyclopts.App) -> None:
    app.command("stax_web.command:serve", name="serve", help=SUMMARY)

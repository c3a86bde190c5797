"""The module the ``stax`` entry point names: it implements ``stax_renderers``.

It uses only the public analysis API (``stax.analysis.function_totals``), as any
third-party renderer would, and needs no base class: the renderer satisfies the
``stax.contracts.Renderer`` protocol by its attributes.
"""

from __future__ import annotations

from typing import IO

import stax


class Hotlist:
    name = "hotlist"
    formats = ("text",)
    description = "One line per function with self samples: NAME PERCENT, hottest first."

    def render(self, profile, options, out: IO[str]) -> None:
        from stax.analysis.function_totals import function_totals

        rows = [r for r in function_totals(profile) if r.self_count]
        if options.limit is not None and options.limit >= 0:
            rows = rows[: options.limit]
        for row in rows:
            out.write(f"{row.frame.name} {row.self_percent:.1f}\n")


@stax.hookimpl
def stax_renderers() -> list[Hotlist]:
    return [Hotlist()]

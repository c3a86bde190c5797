"""The module the ``stax`` entry point names: it implements ``stax_renderers``.

It uses only the public API, as any third-party renderer would: it declares the view
it draws (``ViewKind.PROFILE``: it is handed a ``stax.analysis.profile.Profile``) and
ranks functions with ``stax.analysis.function_totals``.  It needs no base class: the
renderer satisfies the ``stax.contracts.Renderer`` protocol by its attributes.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

import stax
from stax.views import ViewKind

if TYPE_CHECKING:
    from stax.analysis.profile import Profile
    from stax.contracts import RenderOptions


class Hotlist:
    name = "hotlist"
    view = ViewKind.PROFILE
    formats = ("text",)
    description = "One line per function with self samples: NAME PERCENT, hottest first."

    def render(self, profile: Profile, options: RenderOptions, out: IO[str]) -> None:
        from stax.analysis.function_totals import function_totals

        rows = [r for r in function_totals(profile) if r.self_count]
        if options.limit is not None and options.limit >= 0:
            rows = rows[: options.limit]
        for row in rows:
            out.write(f"{row.frame.name} {row.self_percent:.1f}\n")


@stax.hookimpl
def stax_renderers() -> list[Hotlist]:
    return [Hotlist()]

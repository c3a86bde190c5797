"""The entry point of ``stax-render``: registers the built-in renderers like any plugin would.

Every CLI start loads this module, so it and the renderer classes import nothing
heavy; each renderer imports the analyses it needs when it first renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import stax
from stax_render.annotate import AnnotateRenderer
from stax_render.collapsed import CollapsedRenderer
from stax_render.flamegraph import FlamegraphRenderer
from stax_render.top import TopRenderer

if TYPE_CHECKING:
    from stax.contracts import Renderer


@stax.hookimpl
def stax_renderers() -> Sequence[Renderer]:
    return [TopRenderer(), FlamegraphRenderer(), CollapsedRenderer(), AnnotateRenderer()]

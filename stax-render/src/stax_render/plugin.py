"""The entry point of ``stax-render``: registers the built-in renderers like any plugin would.

Every CLI start loads this module, so it and the renderer classes import nothing
heavy; each renderer imports the analyses it needs when it first renders.  A
renderer draws one view (:class:`stax.views.ViewKind`), so ``top``, ``flamegraph``
and ``collapsed`` are each two objects: one for samples, one for blocked time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import stax
from stax_render.annotate import AnnotateRenderer
from stax_render.call_tree_text import CallTreeRenderer
from stax_render.collapsed import CollapsedRenderer, OffCpuCollapsedRenderer
from stax_render.firefox import FirefoxRenderer
from stax_render.flamegraph import FlamegraphRenderer, OffCpuFlamegraphRenderer
from stax_render.pprof import PprofRenderer
from stax_render.speedscope import SpeedscopeRenderer
from stax_render.threads import ThreadsRenderer
from stax_render.top import TopRenderer
from stax_render.top_off_cpu import OffCpuTopRenderer
from stax_render.wakers import WakersRenderer

if TYPE_CHECKING:
    from stax.contracts import Renderer


@stax.hookimpl
def stax_renderers() -> Sequence[Renderer[object]]:
    return [TopRenderer(), OffCpuTopRenderer(), FlamegraphRenderer(), OffCpuFlamegraphRenderer(),
            CollapsedRenderer(), OffCpuCollapsedRenderer(), ThreadsRenderer(), WakersRenderer(),
            AnnotateRenderer(), PprofRenderer(), SpeedscopeRenderer(), FirefoxRenderer(),
            CallTreeRenderer()]

"""The entry point of ``stax-render``: registers the built-in renderers like any plugin would."""

from __future__ import annotations

from collections.abc import Sequence

import stax
from stax.contracts import Renderer
from stax_render.collapsed import CollapsedRenderer
from stax_render.flamegraph import FlamegraphRenderer
from stax_render.top import TopRenderer


@stax.hookimpl
def stax_renderers() -> Sequence[Renderer]:
    return [TopRenderer(), FlamegraphRenderer(), CollapsedRenderer()]

"""The ``stax_renderers`` hook: built-ins register through it, an in-process plugin too."""

from __future__ import annotations

import io
from pathlib import Path

import stax
from stax.analysis.profile import Profile
from stax.contracts import Renderer, RenderOptions
from stax.plugin_manager import StaxPlugins


class Shout:
    name = "shout"
    formats = ("text",)
    description = "The sample count, loudly."

    def render(self, profile: Profile, options: RenderOptions, out: io.StringIO) -> None:
        out.write(f"{profile.sample_count} SAMPLES!\n")


class ShoutPlugin:
    @stax.hookimpl
    def stax_renderers(self) -> list[Shout]:
        return [Shout()]


def test_builtin_renderers_satisfy_the_contract() -> None:
    renderers = StaxPlugins().renderers()
    assert {"top", "flamegraph", "collapsed"} <= set(renderers)
    for name in ("top", "flamegraph", "collapsed"):
        renderer = renderers[name]
        assert isinstance(renderer, Renderer)
        assert renderer.formats and renderer.description


def test_in_process_plugin_renders(hot_rec: Path) -> None:
    manager = StaxPlugins()
    manager.register(ShoutPlugin(), name="shout-test")
    renderer = manager.renderer("shout")
    assert isinstance(renderer, Renderer)
    out = io.StringIO()
    renderer.render(Profile.from_path(hot_rec), RenderOptions(), out)
    assert out.getvalue() == "1000 SAMPLES!\n"

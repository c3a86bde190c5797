"""The renderer contract: built-ins declare their view, the CLI picks renderers by view and name.

A renderer from before views (no ``view`` attribute) still draws profiles; one that
declares a view this stax does not know is left out with one sentence.  The hook
itself is exercised in tests/core/test_hooks.py.
"""

from __future__ import annotations

import importlib
import io
from pathlib import Path

import pytest

import stax
import stax.plugin_manager
from stax.analysis.profile import Profile
from stax.cli.app import run
from stax.contracts import Renderer, RenderOptions
from stax.errors import StaxError
from stax.plugin_manager import StaxPlugins
from stax.views import VIEW_INPUTS, ViewKind

BUILT_IN = {
    ViewKind.PROFILE: {"top", "flamegraph", "collapsed"},
    ViewKind.OFF_CPU_PROFILE: {"top", "flamegraph", "collapsed"},
    ViewKind.THREAD_BREAKDOWN: {"threads"},
    ViewKind.WAKEUP_CHAINS: {"wakers"},
}


class Shout:
    """A renderer written to the contract of stax 0.1: no ``view``, so it draws profiles."""

    name = "shout"
    formats = ("text",)
    description = "The sample count, loudly."

    def render(self, profile: Profile, options: RenderOptions, out: io.StringIO) -> None:
        out.write(f"{profile.sample_count} SAMPLES!\n")


class FromTheFuture:
    name = "hologram"
    view = "hologram"
    formats = ("3d",)
    description = "A view this stax does not know."

    def render(self, data: object, options: RenderOptions, out: io.StringIO) -> None:
        raise AssertionError("never offered")


class OlderAndNewerPlugin:
    @stax.hookimpl
    def stax_renderers(self) -> list[object]:
        return [Shout(), FromTheFuture()]


def test_builtin_renderers_declare_their_views() -> None:
    renderers = StaxPlugins().renderers()
    for view, names in BUILT_IN.items():
        assert names <= {name for drawn, name in renderers if drawn is view}, view
    for (view, _), renderer in renderers.items():
        assert isinstance(renderer, Renderer)
        assert renderer.view is view and renderer.formats and renderer.description
        module, _, name = VIEW_INPUTS[view].partition(":")
        assert isinstance(getattr(importlib.import_module(module), name), type)


def test_a_renderer_is_asked_for_by_view(hot_rec: Path) -> None:
    plugins = StaxPlugins()
    assert plugins.renderer("top", ViewKind.OFF_CPU_PROFILE).view is ViewKind.OFF_CPU_PROFILE
    with pytest.raises(StaxError, match="^Renderer 'threads' draws thread breakdowns, not profiles;"
                                        " `stax plugins` lists the renderers of each view.$"):
        plugins.renderer("threads", ViewKind.PROFILE)


def test_a_renderer_without_a_view_draws_profiles(hot_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manager = StaxPlugins()
    manager.register(OlderAndNewerPlugin(), name="old-and-new")
    shout = manager.renderer("shout")
    out = io.StringIO()
    shout.render(Profile.from_path(hot_rec), RenderOptions(), out)
    assert out.getvalue() == "1000 SAMPLES!\n"
    # an OffCpuProfile is a Profile: with no off-CPU renderer of its name, the profile one draws it
    assert isinstance(manager.renderer("shout", ViewKind.OFF_CPU_PROFILE), Shout)
    assert manager.views_of("hologram") == []
    assert "renderer 'hologram' draws an unknown view ('hologram'); upgrade stax to use it." in (
        capsys.readouterr().err)


def test_render_refuses_a_view_it_cannot_build_the_way_asked(
        hot_rec: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stax.plugin_manager, "_plugins", None)
    assert run(["render", str(hot_rec), "-f", "threads", "--off-cpu"]) != 0
    err = capsys.readouterr().err
    assert err.strip() == ("stax: Renderer 'threads' draws thread breakdowns, not off-CPU profiles;"
                           " `stax plugins` lists the renderers of each view.")

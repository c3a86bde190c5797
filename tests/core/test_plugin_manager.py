"""Loading and validation of plugins (each hook's own test is in tests/core/test_hooks.py)."""

from __future__ import annotations

import pluggy
import pytest

import stax
from stax.errors import StaxError
from stax.plugin_manager import StaxPlugins


def test_builtins_register_through_entry_points() -> None:
    plugins = StaxPlugins()
    infos = {i.name: i for i in plugins.plugins()}
    assert infos["backend_macos"].distribution == "stax-backend-macos"
    assert "stax_capture_backends" in infos["backend_macos"].hooks
    assert any(b.os_name == "darwin" for b in plugins.capture_backends())


def test_unknown_hook_is_rejected() -> None:
    class Typo:
        @stax.hookimpl
        def stax_renderer(self):  # misspelt: the spec has a trailing s
            return []

    plugins = StaxPlugins()
    with pytest.raises(pluggy.PluginValidationError):
        plugins.register(Typo())


def test_unknown_renderer_is_one_sentence() -> None:
    with pytest.raises(StaxError, match="No renderer named 'nope'"):
        StaxPlugins().renderer("nope")


def test_allow_list_env(monkeypatch) -> None:
    monkeypatch.setenv("STAX_PLUGINS", "backend_macos")
    names = [i.name for i in StaxPlugins().plugins()]
    assert names == ["backend_macos"]

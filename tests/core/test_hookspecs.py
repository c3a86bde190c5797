"""The hook specs are the plugin reference: every spec is documented, here and in docs/plugins.md.

That every hook is tested and implemented is checked in tests/core/test_hooks.py.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from stax import hookspecs

SPECS = [
    (name, fn)
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("stax_")
]


def test_there_are_hooks_for_every_extension_point() -> None:
    names = {name for name, _ in SPECS}
    assert {
        "stax_capture_backends",
        "stax_symbol_sources",
        "stax_renderers",
        "stax_privileged_brokers",
        "stax_cli_commands",
    } <= names


@pytest.mark.parametrize(("name", "fn"), SPECS, ids=[n for n, _ in SPECS])
def test_hook_is_documented(name: str, fn) -> None:
    doc = inspect.getdoc(fn) or ""
    assert doc.splitlines()[0].endswith("."), f"{name}: summary line"
    assert "Called" in doc, f"{name}: says when it is called"
    for param in inspect.signature(fn).parameters:
        assert f":param {param}:" in doc, f"{name}: documents {param}"
    if inspect.signature(fn).return_annotation not in ("None", None):
        assert ":returns:" in doc, f"{name}: documents its return value"
    assert "Implemented by" in doc or "Called by" in doc or "Called once" in doc


@pytest.mark.parametrize(("name", "fn"), SPECS, ids=[n for n, _ in SPECS])
def test_hook_is_in_the_plugin_docs_with_its_signature(name: str, fn) -> None:
    """Like datasette's: docs/plugins.md names each hook with its parameters."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    params = ", ".join(inspect.signature(fn).parameters)
    assert f"### `{name}({params})" in docs, f"docs/plugins.md lacks ### `{name}({params})..."

"""printable(): control characters in names become visible \\xHH escapes; everything else stays."""

from __future__ import annotations

import json

import pytest

from stax.text_safety import printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),  # OSC: retitle the terminal, ended by BEL
        ("\x1b[2J", "\\x1b[2J"),  # CSI: clear the screen
        ("\x1b", "\\x1b"),  # a lone ESC
        ("a\nb\tc\rd", "a\\x0ab\\x09c\\x0dd"),  # no name breaks a line or a column
        ("\x00\x7f", "\\x00\\x7f"),  # NUL and DEL
        ("\x9b2J\x9d0;x\x9c", "\\x9b2J\\x9d0;x\\x9c"),  # C1: 8-bit CSI, OSC, ST
    ],
)
def test_control_characters_are_escaped(raw: str, shown: str) -> None:
    assert printable(raw) == shown


@pytest.mark.parametrize("name", ["main", "std::vector<int>::push_back", "Ärger_ß_λ_日本", "a\\x1b", ""])
def test_other_text_is_unchanged(name: str) -> None:
    assert printable(name) == name


def test_every_escaped_character_is_printable() -> None:
    every = "".join(map(chr, range(0xA0)))  # ASCII, DEL and C1
    assert all(c.isprintable() for c in printable(every))


def test_json_already_escapes_them() -> None:
    """JSON output stays exact: json.dumps writes the control characters as \\u escapes."""
    name = "\x1b]0;pwned\x07\x1b[2J\x7f\x9b"
    text = json.dumps({"name": name})
    assert all(c.isprintable() for c in text)
    assert json.loads(text)["name"] == name

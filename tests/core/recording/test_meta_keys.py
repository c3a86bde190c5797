"""The meta keys are named once (stax.recording.meta_keys) and documented once (docs/recording-format.md).

The doc's ``meta`` tables and the module must list the same keys; a real recording
(off-CPU, counters, DWARF call graph: every optional stage) holds no key the module
does not name, so a key written as a string literal somewhere is caught.
"""

from __future__ import annotations

import re
from pathlib import Path

from stax.recording import meta_keys
from stax.recording.reader import Recording
from tests.cli.conftest import stax

REPO = Path(__file__).resolve().parents[3]


def _documented_keys() -> set[str]:
    text = (REPO / "docs" / "recording-format.md").read_text()
    section = text.split("### `meta`", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([a-z_.]+\*?)` \|", section, flags=re.MULTILINE))


def test_the_doc_lists_every_key_of_the_module_and_no_other() -> None:
    documented = _documented_keys()
    assert documented == set(meta_keys.KEYS), (
        f"only in meta_keys.py: {sorted(set(meta_keys.KEYS) - documented)}; "
        f"only in docs/recording-format.md: {sorted(documented - set(meta_keys.KEYS))}")


def test_every_key_has_a_meaning() -> None:
    assert all(doc.strip().endswith(".") for doc in meta_keys.KEYS.values())


def test_a_recording_holds_only_named_keys(tmp_path: Path) -> None:
    rec = tmp_path / "all-stages.stax"
    stax("record", "-q", "--counters", "--call-graph", "dwarf", "-F", "499", "-o", str(rec), "--",
         "/bin/sh", "-c", "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; sleep 0.05")
    recording = Recording.open(rec)
    try:
        meta = recording.meta()
    finally:
        recording.close()
    assert meta[meta_keys.BACKEND_OFF_CPU.key] is True and meta[meta_keys.CALL_GRAPH] == "dwarf"
    assert meta_keys.BACKEND_COUNTERS.key in meta and meta_keys.BACKEND_DWARF_UNWOUND.key in meta
    assert all(meta_keys.is_named(key) for key in meta), [key for key in meta if not meta_keys.is_named(key)]

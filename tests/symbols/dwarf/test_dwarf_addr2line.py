"""DWARF answers equal binutils' addr2line, instruction by instruction, inline chains included.

For every instruction of the hot functions of a ``-g -O2`` build (with a forced-inline
function inlined into another inline function), stax's chain (innermost first, each entry
with its file:line) must be what ``addr2line -f -i`` prints for the unstripped twin: from
the image's own DWARF, from DWARF 4, and from a separate debug file of a stripped copy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.symbols.debug_workload import (
    Variant,
    assert_matches_addr2line,
    build_variant,
    reset_process_memos,
)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEBUGINFOD_URLS", raising=False)
    monkeypatch.delenv("STAX_DEBUG_DIRS", raising=False)
    reset_process_memos()


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Variant]:
    d = tmp_path_factory.mktemp("dwarf-a2l")
    return {
        "dwarf5": build_variant(d, "dwarf5", debuglink=True),
        "dwarf4": build_variant(d, "dwarf4", "-gdwarf-4"),
    }


def test_own_dwarf_matches_addr2line(variants: dict[str, Variant], tmp_path: Path) -> None:
    v = variants["dwarf5"]
    chains = assert_matches_addr2line(v.twin, v.twin, v.build_id, tmp_path)
    # the nest is really there: mix_step inside hot_inline inside local_worker, with lines
    deepest = max(chains.values(), key=len)
    assert [f for f, _, _ in deepest] == ["mix_step", "hot_inline", "local_worker"]
    assert all(file and file.endswith("dwarf5.c") and line for _, file, line in deepest)


def test_dwarf4_matches_addr2line(variants: dict[str, Variant], tmp_path: Path) -> None:
    v = variants["dwarf4"]
    chains = assert_matches_addr2line(v.twin, v.twin, v.build_id, tmp_path)
    assert any(len(c) == 3 for c in chains.values())


def test_stripped_binary_with_debuglink_matches_addr2line(
    variants: dict[str, Variant], tmp_path: Path
) -> None:
    """The stripped copy has no name for local_worker at all; its debug file gives everything back."""
    v = variants["dwarf5"]
    chains = assert_matches_addr2line(v.stripped, v.twin, v.build_id, tmp_path)
    assert any(c[-1][0] == "local_worker" for c in chains.values())

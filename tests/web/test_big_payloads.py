"""Big recordings stay small on the wire (issue 11 item 8): the flame payload leaves out nodes
under 0.01% of the root and says how many and how much, and the rest adds up exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.render.synthetic_recording import write_recording
from tests.web.server import serve

UNIQUE = 3_000
HOT = 47_000


@pytest.fixture(scope="module")
def many_stacks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """47,000 samples on main;hot, and 3,000 stacks of one sample each under main;cold."""
    stacks = [("main;hot", HOT)] + [(f"main;cold;c{i % 97};leaf{i}", 1) for i in range(UNIQUE)]
    return write_recording(tmp_path_factory.mktemp("big") / "many.stax", stacks)


def test_tiny_nodes_are_counted_not_sent(many_stacks: Path) -> None:
    with serve(str(many_stacks)) as server:
        flame = server.api("/api/flame")
        top = server.api("/api/top?limit=100000")
    nodes = flame["nodes"]
    total = HOT + UNIQUE
    assert flame["total"] == total and flame["dropped"]["min_value"] == total // 10_000
    assert len(nodes) < 200  # not 3,000 leaves
    assert flame["dropped"]["nodes"] == UNIQUE  # every leafN (1 sample) was left out; each cN (~31) kept
    children: dict[int, int] = {}
    for node in nodes[1:]:
        children[node[2]] = children.get(node[2], 0) + node[3]
        assert node[3] >= flame["dropped"]["min_value"]
    gaps = sum(node[3] - node[4] - children.get(i, 0) for i, node in enumerate(nodes))
    assert gaps == flame["dropped"]["value"] == UNIQUE
    # the top table still counts every function: rows are per function, not per node
    assert len(top["rows"]) == top["matched"] >= UNIQUE

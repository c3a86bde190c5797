"""Call trees: root first and inverted (callee first), self and total per node."""

from __future__ import annotations

from pathlib import Path

from stax.analysis.call_tree import TREE_ROOT, CallTree, call_tree, inverted_call_tree
from stax.analysis.profile import Profile
from tests.render.synthetic_recording import write_recording


def as_dict(tree: CallTree, node: int = TREE_ROOT) -> dict[str, tuple[int, int, dict]]:
    return {tree.frame_of(c).label: (tree.self_count[c], tree.total_count[c], as_dict(tree, c))
            for c in tree.children(node)}


def profile(tmp_path: Path) -> Profile:
    rec = write_recording(tmp_path / "t.stax", [
        ("main;driver;hot_a", 750), ("main;driver;hot_b", 250), ("main;driver", 10),
        ("main;other;hot_a", 40),
    ])
    return Profile.from_path(rec)


def test_root_first(tmp_path: Path) -> None:
    tree = call_tree(profile(tmp_path))
    assert tree.sample_count == 1050 and not tree.inverted
    assert as_dict(tree) == {"main": (0, 1050, {
        "driver": (10, 1010, {"hot_a": (750, 750, {}), "hot_b": (250, 250, {})}),
        "other": (0, 40, {"hot_a": (40, 40, {})}),
    })}
    leaf = next(n for n in range(1, len(tree)) if tree.frame_of(n).name == "hot_b")
    assert [tree.frames[f].name for f in tree.path(leaf)] == ["main", "driver", "hot_b"]
    assert tree.depth[leaf] == 3


def test_inverted_merges_callee_first(tmp_path: Path) -> None:
    tree = inverted_call_tree(profile(tmp_path))
    assert tree.sample_count == 1050 and tree.inverted
    assert as_dict(tree) == {
        "hot_a": (0, 790, {
            "driver": (0, 750, {"main": (750, 750, {})}),
            "other": (0, 40, {"main": (40, 40, {})}),
        }),
        "hot_b": (0, 250, {"driver": (0, 250, {"main": (250, 250, {})})}),
        "driver": (0, 10, {"main": (10, 10, {})}),
    }


def test_inverted_expands_only_what_is_asked(tmp_path: Path) -> None:
    """min_total: nodes under it are in the tree with their totals but not expanded; max_nodes:
    only the largest nodes are (a view sending 0.01% and up pays for those, not every stack)."""
    prof = profile(tmp_path)
    tree = inverted_call_tree(prof, min_total=100)
    assert as_dict(tree) == {
        "hot_a": (0, 790, {"driver": (0, 750, {"main": (750, 750, {})}), "other": (0, 40, {})}),
        "hot_b": (0, 250, {"driver": (0, 250, {"main": (250, 250, {})})}),
        "driver": (0, 10, {}),
    }
    shallow = inverted_call_tree(prof, by_weight=True, min_total=10**18)  # the root is always expanded
    assert as_dict(shallow) == {"hot_a": (0, 790, {}), "hot_b": (0, 250, {}), "driver": (0, 10, {})}
    largest = inverted_call_tree(prof, max_nodes=2)  # the root and hot_a (790) are expanded
    assert as_dict(largest) == {
        "hot_a": (0, 790, {"driver": (0, 750, {}), "other": (0, 40, {})}), "hot_b": (0, 250, {}),
        "driver": (0, 10, {})}

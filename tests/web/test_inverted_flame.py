"""The inverted flame graph is built from what it sends (bench_web: 20k stacks, 1M samples took
0.78 s when the whole bottom-up tree was built and then cut): the payload is the one the whole
tree gives, but only the nodes that can be sent are expanded."""

from __future__ import annotations

import pytest

from stax.analysis.call_tree import inverted_call_tree
from stax.analysis.profile import Profile
from stax_web import flame_view
from tests.render.synthetic_recording import write_recording


@pytest.fixture(scope="module")
def many_stacks(tmp_path_factory: pytest.TempPathFactory) -> Profile:
    """4,000 distinct 6-deep stacks of one sample under 40 leaf functions, plus a hot one."""
    stacks = [("main;hot;leaf0", 50_000)]
    stacks += [(f"main;p{i % 7};m{i % 13};o{i % 50};n{i};leaf{i % 40}", 1) for i in range(4_000)]
    return Profile.from_path(write_recording(tmp_path_factory.mktemp("inv") / "inv.stax", stacks))


def test_inverted_payload_is_the_whole_trees_and_costs_what_it_sends(many_stacks: Profile,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    whole = inverted_call_tree(many_stacks)
    built = flame_view.sent_tree(many_stacks, "samples", True)
    assert flame_view.flame_payload(many_stacks, "samples", True) == \
        flame_view.flame_payload(many_stacks, "samples", True, whole)
    # the 40 leaves expanded (their 4,000 callers counted, not expanded), not the 20,000-node tree
    assert len(built) < 4_100 and len(whole) > 20_000
    # past MAX_NODES the largest nodes are kept, exactly as cutting the whole tree keeps them
    monkeypatch.setattr(flame_view, "MAX_NODES", 30)
    cut = flame_view.flame_payload(many_stacks, "samples", True)
    assert len(cut["nodes"]) == 30
    assert cut == flame_view.flame_payload(many_stacks, "samples", True, whole)

"""``stax threads`` on a real recording: the target's threads by default, named; ``--woken``
adds the threads outside it that it only woke, named from /proc at record time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.analysis.conftest import needs_root, stax, stax_json

pytestmark = [needs_root, pytest.mark.root]


def test_threads_lists_the_target_only(pingpong_rec: Path) -> None:
    view = stax_json("threads", str(pingpong_rec))
    rows = view["threads"]
    assert {t["name"] for t in rows} == {"pingpong", "ping", "pong"}
    assert len({t["pid"] for t in rows}) == 1
    assert not any(t["only_woken"] for t in rows)
    assert view["woken_hidden"] >= 1  # `stax record` waiting for the command, at least
    text = stax("threads", str(pingpong_rec)).stdout
    assert "outside the target that it only woke (--woken lists them)" in text


def test_woken_threads_behind_a_flag_and_named(pingpong_rec: Path) -> None:
    rows = stax_json("threads", str(pingpong_rec), "--woken")["threads"]
    target_pid = next(t["pid"] for t in rows if t["name"] == "ping")
    outside = [t for t in rows if t["only_woken"]]
    assert outside and all(t["pid"] != target_pid for t in outside)
    # the recorder that waited for its command: named from /proc, not "?"
    assert any(t["name"] == "stax" for t in outside), outside
    wakers = [w for t in rows for w in t["wakers"] if w["tid"] is not None]
    assert not any(w["name"] == "?" and w["tid"] == 0 for w in wakers)
    main = next(t for t in rows if t["name"] == "pingpong")
    assert all(w["name"] != "?" for w in main["wakers"]), main["wakers"]

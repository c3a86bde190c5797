"""The built-in renderers of the off-CPU profile view: widths and numbers are blocked time.

Also the flame graph script on an off-CPU graph (search reports a share of blocked
time) and a renderer run through ``stax render --off-cpu``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from stax.analysis.off_cpu_profile import OffCpuProfile
from stax.cli.app import run
from stax.contracts import RenderOptions
from stax_render.collapsed import OffCpuCollapsedRenderer
from stax_render.flamegraph import OffCpuFlamegraphRenderer
from stax_render.palette import REASON_COLOURS, reason_colour, reason_frame_colour
from tests.backend_linux.off_cpu.synthetic_off_cpu import MS, write_pingpong_recording
from tests.render.test_flamegraph import run_script


@pytest.fixture(scope="module")
def pingpong(tmp_path_factory: pytest.TempPathFactory) -> OffCpuProfile:
    return OffCpuProfile.from_path(write_pingpong_recording(tmp_path_factory.mktemp("pp") / "pp.stax"))


def test_every_reason_has_its_own_colour() -> None:
    from stax.blocked_reason import BlockedReason

    assert set(REASON_COLOURS) == {str(r) for r in BlockedReason}
    assert len({reason_colour(str(r)) for r in BlockedReason}) == len(BlockedReason)


def test_search_reports_a_share_of_blocked_time(pingpong: OffCpuProfile) -> None:
    out = io.StringIO()
    OffCpuFlamegraphRenderer().render(pingpong, RenderOptions(), out)
    state = run_script(out.getvalue(), [["search", "^writer_loop$"]])
    assert state["matched"].startswith("Matched: 1.96% of blocked time")


def test_kernel_frames_are_lighter_in_the_same_hue(pingpong: OffCpuProfile) -> None:
    user = next(f for f in pingpong.frames if f.name == "reader_loop")
    kernel = next(f for f in pingpong.frames if f.name == "pipe_read")
    assert reason_frame_colour("pipe-ipc", kernel) != reason_frame_colour("pipe-ipc", user)
    assert reason_frame_colour(None, user) == reason_frame_colour("no-such-reason", user)


def test_collapsed_lines_are_blocked_ns(pingpong: OffCpuProfile) -> None:
    out = io.StringIO()
    OffCpuCollapsedRenderer().render(pingpong, RenderOptions(extra={"per_thread": True}), out)
    lines = dict(line.rsplit(" ", 1) for line in out.getvalue().splitlines())
    assert sum(int(v) for v in lines.values()) == 1020 * MS
    assert all(key.startswith(("reader-201;", "writer-202;")) for key in lines)


def test_render_command_hands_renderers_the_off_cpu_profile(
        pingpong: OffCpuProfile, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["render", pingpong.source, "--off-cpu", "--format", "top:json", "-n", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["view"] == "off-cpu" and data["blocked_ns"] == 1020 * MS and len(data["functions"]) == 3


def test_inverted_off_cpu_title(pingpong: OffCpuProfile) -> None:
    out = io.StringIO()
    OffCpuFlamegraphRenderer().render(pingpong, RenderOptions(inverted=True), out)
    assert "Off-CPU Icicle Graph (inverted)" in out.getvalue()
    out = io.StringIO()
    OffCpuFlamegraphRenderer().render(pingpong, RenderOptions(title="Mine"), out)
    assert ">Mine<" in out.getvalue()


def test_no_source_path_needed(pingpong: OffCpuProfile, tmp_path: Path) -> None:
    """Like any Profile, an OffCpuProfile renders after the recording is gone."""
    moved = OffCpuProfile.from_path(write_pingpong_recording(tmp_path / "gone.stax"))
    (tmp_path / "gone.stax").unlink()
    out = io.StringIO()
    OffCpuFlamegraphRenderer().render(moved, RenderOptions(), out)
    assert "writer_loop" in out.getvalue()

"""One plain sentence where cyclopts or the kernel would leave the user guessing (issue 14 item 9).

An unknown command points to `stax --help`; arguments a command does not take are named;
`-p` of a kernel thread says why nothing of it was sampled and what to record instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.conftest import stax


def test_unknown_command_points_to_help() -> None:
    proc = stax("recrod", check=False)
    assert proc.returncode == 2
    assert proc.stderr == ("stax: unknown command 'recrod' (did you mean 'record'?); run `stax --help`"
                           " to see the commands.\n")
    proc = stax("frobnicate", "x", check=False)
    assert (proc.returncode, proc.stderr) == (
        2, "stax: unknown command 'frobnicate'; run `stax --help` to see the commands.\n")


def test_unused_tokens_are_named() -> None:
    proc = stax("top", "a.stax", "b", "c", check=False)
    assert proc.returncode == 2
    assert proc.stderr == ("stax: unexpected arguments 'b', 'c' to `stax top`; run `stax top --help` to"
                           " see what it takes.\n")
    proc = stax("doctor", "extra", check=False)
    assert proc.stderr == ("stax: unexpected argument 'extra' to `stax doctor`; run `stax doctor --help`"
                           " to see what it takes.\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open on pid 2")
@pytest.mark.parametrize("kernel", [True, False], ids=["kernel-frames", "no-kernel"])
def test_p_of_a_kernel_thread_says_why(tmp_path: Path, kernel: bool) -> None:
    assert "kthreadd" in Path("/proc/2/comm").read_text()
    flags = [] if kernel else ["--no-kernel"]
    proc = stax("record", "-p", "2", "-d", "0.3", *flags, "-o", str(tmp_path / "k.stax"))
    assert "stax: pid 2 (kthreadd) is a kernel thread: it has no user space, so " in proc.stderr
    assert "or the whole system with -a." in proc.stderr
    if kernel:
        assert "sampled only in the kernel and only while it runs" in proc.stderr
    else:
        assert "nothing of it can be sampled; record it as root without --no-kernel" in proc.stderr

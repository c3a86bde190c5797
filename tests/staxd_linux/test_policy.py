"""The policy file fails closed, and the policy decides before any event is opened."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stax_binfmt.staxd_protocol import OpenRequest
from staxd_linux.authorization import Refusal, authorize_open, check_connect
from staxd_linux.peer import Peer
from staxd_linux.policy import Policy, PolicyError, load_policy, parse_policy

NOBODY = Peer(pid=1, uid=65534, gid=65534, groups=frozenset())


@pytest.mark.parametrize(("text", "sentence"), [
    ("allow_everything = true", "p: unknown setting 'allow_everything'; see docs/staxd.md for the settings."),
    ("allow_system_wide = 1", "p: allow_system_wide must be of type bool."),
    ("max_frequency = true", "p: max_frequency must not be true/false."),
    ("max_frequency = 0", "p: max_frequency must be between 1 and 1000000."),
    ('socket_mode = "rw"', 'p: socket_mode must be octal digits such as "0660".'),
    ("allowed_groups = \"stax\"", "p: allowed_groups must be a list of names (or numeric ids)."),
    ("client_timeout = 0", "p: client_timeout must be between 0.1 and 3600 seconds."),
    ("[x", "p is not valid TOML (Expected ']' at the end of a table declaration (at end of document))."),
])
def test_bad_policy_is_one_sentence(text: str, sentence: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p")
    assert str(info.value) == sentence


def test_policy_paths(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy file .*nope.toml does not exist\."):
        load_policy(tmp_path / "nope.toml")
    (tmp_path / "p.toml").write_text('allowed_groups = ["users", 100]\nsocket_mode = "0600"\n')
    policy = load_policy(tmp_path / "p.toml")
    assert policy.allowed_groups == ("users", "100") and policy.socket_mode == 0o600
    assert policy.source == str(tmp_path / "p.toml")


def test_group_and_user_allow_lists() -> None:
    with pytest.raises(Refusal, match=r"^user nobody may not use staxd: join group 'users' with "):
        check_connect(NOBODY, Policy(allowed_groups=("users",)))
    # a group that does not exist is named as such: joining it is not the fix
    missing = (r"^user nobody may not use staxd: group 'no-such-group-here' of its policy \(built-in "
               r"defaults\) does not exist; ask the administrator to run 'sudo stax setup'\.$")
    with pytest.raises(Refusal, match=missing):
        check_connect(NOBODY, Policy(allowed_groups=("no-such-group-here",)))
    check_connect(NOBODY, Policy(allowed_groups=("nogroup",)))
    check_connect(NOBODY, Policy(allowed_groups=(), allowed_users=("nobody",)))
    check_connect(Peer(pid=1, uid=0, gid=0, groups=frozenset()), Policy(allowed_groups=()))
    in_supplementary = Peer(pid=1, uid=65534, gid=100, groups=frozenset({65534}))
    check_connect(in_supplementary, Policy(allowed_groups=("nogroup",)))


@pytest.mark.parametrize(("policy", "request_", "sentence"), [
    (Policy(), OpenRequest(kind="sampling", pids=(os.getpid(),)),
     "kernel stacks is not allowed by staxd's policy (allow_kernel_stacks = false in built-in defaults)."),
    (Policy(), OpenRequest(kind="sched_waking", pids=(os.getpid(),)),
     "kernel stacks is not allowed by staxd's policy (allow_kernel_stacks = false in built-in defaults)."),
    (Policy(allow_tracepoints=False), OpenRequest(kind="sched_waking", pids=(os.getpid(),)),
     "the sched:sched_waking tracepoint is not allowed by staxd's policy (allow_tracepoints = false in "
     "built-in defaults)."),
    (Policy(allow_counters=False), OpenRequest(kind="counters", pids=(os.getpid(),)),
     "hardware counters is not allowed by staxd's policy (allow_counters = false in built-in defaults)."),
    (Policy(max_frequency=100), OpenRequest(kind="sampling", pids=(os.getpid(),), kernel_stacks=False,
                                            frequency=200),
     "frequency 200 Hz is above the limit of 100 Hz; ask for less."),
    (Policy(), OpenRequest(kind="sampling", pids=(os.getpid(),), kernel_stacks=False, cpus=(4095,)),
     "cpu 4095 is not online (online: 0,1)."),
    (Policy(max_fds_per_request=1, allow_other_users=True),
     OpenRequest(kind="sampling", pids=(os.getpid(),), kernel_stacks=False),
     "the request needs 2 file descriptors, more than the policy's max_fds_per_request (1); ask for fewer "
     "pids or cpus."),
])
def test_policy_refusals(policy: Policy, request_: OpenRequest, sentence: str) -> None:
    me = Peer(pid=os.getpid(), uid=os.getuid(), gid=os.getgid(), groups=frozenset())
    if me.is_root:  # root is exempt from the allow_* switches: be another user (checks come first)
        me = Peer(pid=os.getpid(), uid=1, gid=1, groups=frozenset())
    with pytest.raises(Refusal) as info:
        authorize_open(me, policy, request_, [0, 1])
    assert str(info.value) == sentence


@pytest.mark.parametrize("kind", ["sampling", "context_switch", "sched_waking"])
def test_default_policy_grants_every_event_set_without_kernel_stacks(kind: str) -> None:
    """Kernel stacks are off by default; the event sets themselves are granted without them."""
    member = Peer(pid=os.getpid(), uid=1, gid=1, groups=frozenset())  # not root: the allow_* switches apply
    policy = Policy(allow_other_users=True)  # this test's process belongs to whoever runs pytest
    plan = authorize_open(member, policy, OpenRequest(kind=kind, pids=(os.getpid(),), kernel_stacks=False),
                          [0, 1])
    try:
        assert plan.kernel is False
    finally:
        plan.release()

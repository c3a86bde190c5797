"""``stax setup``: the dry run lists every action and the unit text and changes nothing; the unit passes
``systemd-analyze verify``; a real install is undone by ``--uninstall``; the code the unit runs as root
must be root's alone."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from staxd_linux.policy import DEFAULT_POLICY_TEXT, Policy, parse_policy
from staxd_linux.root_owned import first_unsafe, unsafe_in_tree, unsafe_on_the_way
from staxd_linux.systemd_units import POLICY_PATH, UNIT_DIR, service_unit
from tests.staxd_linux.conftest import NOBODY, USERS_GID

STAX = str(Path(sys.executable).parent / "stax")
STAXD = str(Path(sys.executable).parent / "staxd")
UNIT = UNIT_DIR / "staxd.service"


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _stax(*args: str, env: dict[str, str] | None = None,
          user: int | None = None) -> subprocess.CompletedProcess:
    prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user is not None else []
    full_env = {"PATH": os.environ["PATH"], "HOME": "/root", **(env or {})}
    return subprocess.run([*prefix, STAX, *args], capture_output=True, text=True, env=full_env, timeout=60)


def test_dry_run_lists_every_action_and_changes_nothing() -> None:
    if UNIT.exists() or _group_exists("stax"):
        pytest.skip("staxd is installed on this host; the dry run would only list 'keep' steps")
    proc = _stax("setup", "--dry-run", env={"SUDO_USER": "nobody"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"would write {UNIT} (ExecStart={STAXD})"
    assert f"would write the default policy {POLICY_PATH}" in lines or \
        f"  keep the existing policy {POLICY_PATH}" in lines
    assert "would create group 'stax': groupadd --system stax" in lines
    assert ("would add user nobody to group 'stax': usermod -aG stax nobody (takes effect at the next login)"
            in lines)
    systemd = Path("/run/systemd/system").is_dir()
    enable = [line for line in lines if "systemctl enable --now staxd.service" in line]
    assert len(enable) == 1
    if not systemd:
        pid1 = Path("/proc/1/comm").read_text().strip()
        assert enable[0] == (f"  skip 'systemctl enable --now staxd.service': systemd is not running on this "
                             f"host (PID 1 is {pid1!r})")
        assert f"  staxd is installed but not started; start it as root with: {STAXD}" in lines
    assert lines[-1] == "(dry run: nothing was changed)"
    assert not UNIT.exists() and not _group_exists("stax")


def test_setup_needs_root() -> None:
    proc = _stax("setup", user=NOBODY)
    assert proc.returncode == 1
    assert proc.stderr == ("stax: stax setup changes system files and groups; run it with sudo: "
                           "sudo stax setup.\n")
    proc = _stax("setup", "--uninstall", user=NOBODY)
    assert proc.stderr.startswith("stax: stax setup --uninstall changes system files")


def _verify(unit: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                          timeout=60)


needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze missing (apt-get install systemd)")


@needs_analyze
def test_generated_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = tmp_path / "staxd.service"
    unit.write_text(service_unit())
    proc = _verify(unit)
    assert proc.returncode == 0, proc.stderr
    assert "staxd.service" not in proc.stderr, proc.stderr
    assert (f"ExecStart={STAXD} --socket /run/staxd/staxd.sock --policy /etc/stax/staxd.toml\n"
            in unit.read_text())


@needs_analyze
def test_verify_would_catch_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a unit whose ExecStart does not exist is rejected."""
    unit = tmp_path / "staxd.service"
    unit.write_text(service_unit(command=[str(tmp_path / "no-such-staxd")]))
    proc = _verify(unit)
    assert proc.returncode != 0
    assert "no-such-staxd" in proc.stderr


def test_unit_quotes_paths_with_spaces() -> None:
    text = service_unit(command=["/opt/my stax/bin/staxd"])
    assert 'ExecStart="/opt/my stax/bin/staxd" --socket /run/staxd/staxd.sock' in text


def test_default_policy_file_is_the_documented_defaults() -> None:
    assert attrs_without_source(parse_policy(DEFAULT_POLICY_TEXT)) == attrs_without_source(Policy())


def attrs_without_source(policy: Policy) -> dict:
    import attrs

    values = attrs.asdict(policy)
    values.pop("source")
    return values


def test_real_install_then_uninstall_leaves_the_host_as_it_was() -> None:
    if UNIT.exists() or _group_exists("stax") or POLICY_PATH.exists():
        pytest.skip("staxd (or a group 'stax', or a policy) is already on this host; not touching it")
    etc_stax_existed = POLICY_PATH.parent.exists()
    try:
        proc = _stax("setup", env={"SUDO_USER": "nobody"})
        assert proc.returncode == 0, proc.stderr
        assert UNIT.read_text() == service_unit()
        assert POLICY_PATH.read_text() == DEFAULT_POLICY_TEXT
        assert oct(POLICY_PATH.stat().st_mode & 0o777) == "0o644"
        group = grp.getgrnam("stax")
        assert "nobody" in group.gr_mem
        assert pwd.getpwnam("nobody").pw_uid == NOBODY
        again = _stax("setup", env={"SUDO_USER": "nobody"})  # idempotent: keeps what is there
        assert "  keep the existing group 'stax'" in again.stdout.splitlines()
        assert "  keep user nobody in group 'stax'" in again.stdout.splitlines()
    finally:
        proc = _stax("setup", "--uninstall")
    assert proc.returncode == 0, proc.stderr
    assert f"remove {UNIT}" in proc.stdout.splitlines()
    assert "delete group 'stax': groupdel stax" in proc.stdout.splitlines()
    assert not UNIT.exists() and not POLICY_PATH.exists() and not _group_exists("stax")
    assert POLICY_PATH.parent.exists() == etc_stax_existed


def test_dry_run_prints_the_unit_it_would_write() -> None:
    proc = _stax("setup", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"would write {UNIT} (ExecStart={STAXD})"
    end = next(i for i, line in enumerate(lines[1:], 1) if line and not line.startswith("    "))
    printed = "".join(line.removeprefix("    ") + "\n" for line in lines[1:end])
    assert printed == service_unit()
    assert f"    ExecStart={STAXD} --socket /run/staxd/staxd.sock --policy {POLICY_PATH}" in lines[1:end]


def _venv(where: Path) -> Path:
    """A virtual environment at ``where`` whose python imports stax from this checkout, with stax and staxd
    console scripts, as 'python3 -m venv' and 'pip install' would leave it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    site_packages = Path(sysconfig.get_paths(vars={"base": str(where), "platbase": str(where)})["purelib"])
    ours = sysconfig.get_paths()["purelib"]
    (site_packages / "stax-checkout.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    for name in ("stax", "staxd"):
        script = Path(sys.executable).parent / name
        body = script.read_text().split("\n", 1)[1]
        (where / "bin" / name).write_text(f"#!{where}/bin/python\n{body}")
        os.chmod(where / "bin" / name, 0o755)
    return site_packages


def test_setup_refuses_a_venv_another_user_owns(tmp_path: Path) -> None:
    """A venv in a user's home (here: owned by uid 65534) would let that user run code as root."""
    venv = tmp_path / "venv"
    _venv(venv)
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(venv)], check=True)
    for args in (("setup", "--dry-run"), ("setup",)):
        proc = subprocess.run([str(venv / "bin" / "stax"), *args], capture_output=True, text=True,
                              timeout=120, env={"PATH": os.environ["PATH"], "HOME": "/root"})
        assert proc.returncode == 1, proc.stdout
        assert proc.stdout == ""
        assert proc.stderr == (
            f"stax: {venv} is owned by uid {NOBODY} (nobody), so that user could change the code staxd would "
            f"run as root; install stax system-wide or in a root-owned virtual environment such as /opt/stax "
            f"(in a clone of the stax repository: sudo python3 -m venv /opt/stax && sudo /opt/stax/bin/pip "
            f"install ./stax-core ./stax-binfmt ./stax-symbols ./stax-render ./stax-web ./stax-backend-linux "
            f"./stax-backend-macos ./staxd/staxd-linux '.[linux]'; README.md, Install), then run "
            f"'sudo /opt/stax/bin/stax setup'.\n")


def test_setup_accepts_a_root_owned_venv_and_refuses_a_writable_file_in_it(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    site_packages = _venv(venv)
    stax = str(venv / "bin" / "stax")
    env = {"PATH": os.environ["PATH"], "HOME": "/root"}
    proc = subprocess.run([stax, "setup", "--dry-run"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"would write {UNIT} (ExecStart={venv}/bin/staxd)"
    assert f"    ExecStart={venv}/bin/staxd --socket /run/staxd/staxd.sock" in proc.stdout
    # Python runs every .pth file in site-packages at start-up: one anyone may edit is root for anyone.
    os.chmod(site_packages / "stax-checkout.pth", 0o666)
    proc = subprocess.run([stax, "setup", "--dry-run"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1
    pth = site_packages / "stax-checkout.pth"
    assert proc.stderr.startswith(f"stax: {pth} is writable by every user, so any user could change the code "
                                  f"staxd would run as root; install stax")


def test_ownership_rules(tmp_path: Path) -> None:
    """Group-writable by a group other than root is refused; a sticky world-writable directory is fine on
    the way to a root-owned file but not as a place Python imports from."""
    tree = tmp_path / "tree"
    (tree / "lib").mkdir(parents=True)
    (tree / "lib" / "mod.py").write_text("")
    assert first_unsafe([sys.executable], python=sys.executable, import_path=[tree / "lib"]) is None
    os.chown(tree / "lib", 0, USERS_GID)
    os.chmod(tree / "lib", 0o775)
    found = first_unsafe([sys.executable], python=sys.executable, import_path=[tree / "lib"])
    assert found is not None and (found.path, found.why) == (tree / "lib", "is writable by group 100 (users)")
    os.chmod(tree / "lib", 0o1777)
    assert unsafe_on_the_way(tree / "lib" / "mod.py") is None
    found = unsafe_in_tree(tree / "lib")
    assert found is not None and (found.path, found.why) == (tree / "lib", "is writable by every user")

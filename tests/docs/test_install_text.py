"""The README's install text is true (issue 14 item 10).

The PyPI name ``stax`` belongs to an unrelated project, so the README must not tell
anyone to ``pip install stax``; its install command names each distribution by its
directory in the clone, and that list must be every distribution the Linux install
needs (a new distribution left out would be fetched from PyPI, or be missing).
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def _install_block() -> list[str]:
    """The arguments of the README's ``pip install`` from a clone (the fenced sh block under Install)."""
    section = README.split("## Install", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the Install section has no sh block"
    command = block.group(1).replace("\\\n", " ")
    line = next(line for line in command.splitlines() if "pip install" in line)
    words = shlex.split(line)
    return words[words.index("install") + 1:]


def _distribution(directory: Path) -> str:
    return tomllib.loads((directory / "pyproject.toml").read_text())["project"]["name"]


def test_readme_never_installs_the_unrelated_pypi_stax() -> None:
    commands = "\n".join(re.findall(r"```(?:sh|console)\n(.*?)```", README, re.S))
    assert not re.search(r"pip install (-U )?'?stax\b", commands)
    assert not re.search(r"pip install (-U )?'stax\[", README)
    assert "the project called `stax` there is an unrelated one" in README


def test_the_install_command_names_every_linux_distribution_by_its_directory() -> None:
    args = _install_block()
    directories = [a for a in args if a.startswith("./")]
    for directory in directories:
        assert (REPO / directory / "pyproject.toml").is_file(), directory
    assert ".[linux]" in args
    named = {_distribution(REPO / d) for d in directories}
    root = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = root["dependencies"] + root["optional-dependencies"]["linux"]
    needed = {re.split(r"[=<>;\s]", req)[0] for req in requirements}
    assert needed <= named, f"missing from the README's pip install: {sorted(needed - named)}"


def test_no_message_of_stax_core_installs_the_pypi_stax() -> None:
    """What stax itself tells a user to run (no backend, no staxd) installs from the clone."""
    wrong = re.compile(r"pip install (-U )?'?stax(\[|\b(?!-))")
    offenders = [str(path.relative_to(REPO)) for path in (REPO / "stax-core" / "src").rglob("*.py")
                 if path.name != "install_hint.py" and wrong.search(path.read_text())]  # (it names the trap)
    assert offenders == []
    from stax.install_hint import install_from_clone

    for distribution in ("stax-backend-linux", "staxd-linux", "staxd-macos"):
        directory = install_from_clone(distribution).split()[2]
        assert (REPO / directory / "pyproject.toml").is_file()
        assert _distribution(REPO / directory) == distribution


def test_the_readme_install_command_is_the_one_messages_give() -> None:
    """``stax setup``'s refusal (stax.install_hint.root_venv_hint) installs what the README installs."""
    from stax.install_hint import install_command

    section = README.split("## Install", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block
    line = next(line for line in block.group(1).replace("\\\n", " ").splitlines() if "pip install" in line)
    assert shlex.split(line) == shlex.split(install_command("~/stax-venv/bin/pip", "linux"))

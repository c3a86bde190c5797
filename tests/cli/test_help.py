"""`stax --help` lists every built-in command with its one-line summary, without a traceback."""

from stax.cli.app import BUILTIN_COMMANDS, COMMAND_SUMMARIES
from tests.cli.conftest import stax


def test_help_lists_every_command_with_a_summary() -> None:
    out = stax("--help").stdout
    assert set(COMMAND_SUMMARIES) == set(BUILTIN_COMMANDS)
    for name, summary in COMMAND_SUMMARIES.items():
        assert name in out
        assert summary.split()[0] in out


def test_each_command_has_help() -> None:
    for name in BUILTIN_COMMANDS:
        proc = stax(name, "--help")
        assert "Usage: stax " + name in proc.stdout
        assert "Traceback" not in proc.stderr

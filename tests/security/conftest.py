"""Fixtures shared with the CLI tests: a scratch directory uid 65534 can reach."""

from tests.cli.conftest import world_dir  # noqa: F401 (a fixture, used by name)

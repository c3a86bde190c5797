"""Loading, typed hook calls and validation of plugins."""

from __future__ import annotations

import cyclopts
import pluggy
import pytest

import stax
from stax.errors import StaxError
from stax.events import LostKind, LostNotice, Sample
from stax.plugin_manager import StaxPlugins
from stax.recording.writer import RecordingBuilder


class Recorder:
    """Implements the observer and CLI hooks and remembers what it saw."""

    def __init__(self) -> None:
        self.event_batches: list[int] = []
        self.sample_batches: list[int] = []

    @stax.hookimpl
    def stax_observe_events(self, events) -> None:
        self.event_batches.append(len(events))

    @stax.hookimpl
    def stax_observe_samples(self, samples, stacks, frames) -> None:
        self.sample_batches.append(len(samples))
        assert all(s < len(stacks) for s in samples.stack_id)

    @stax.hookimpl
    def stax_cli_commands(self, app: cyclopts.App) -> None:
        app.command(lambda: 7, name="seven")


class FakeBackend:
    name = "fake"
    os_name = "plan9"

    def capabilities(self):
        return []


class BackendPlugin:
    @stax.hookimpl
    def stax_capture_backends(self):
        return [FakeBackend()]


def test_capture_backends_hook_collects_backends() -> None:
    plugins = StaxPlugins()
    plugins.register(BackendPlugin())
    assert "fake" in [b.name for b in plugins.capture_backends()]


def test_builtins_register_through_entry_points() -> None:
    plugins = StaxPlugins()
    infos = {i.name: i for i in plugins.plugins()}
    assert infos["backend_macos"].distribution == "stax-backend-macos"
    assert "stax_capture_backends" in infos["backend_macos"].hooks
    assert any(b.os_name == "darwin" for b in plugins.capture_backends())


def test_observers_receive_batches(tmp_path) -> None:
    plugins = StaxPlugins()
    recorder = Recorder()
    plugins.register(recorder)
    builder = RecordingBuilder(tmp_path / "o.stax", plugins)
    builder.consume([Sample(i, 1, 1, 0, 1000, (), (0x10, 0x20)) for i in range(5)])
    builder.consume([LostNotice(9, 0, LostKind.LOST_RECORDS, 1)])
    builder.finish(symbolicate=False)
    assert recorder.event_batches == [5, 1]
    assert recorder.sample_batches == [5]


def test_cli_commands_hook_adds_a_command() -> None:
    plugins = StaxPlugins()
    plugins.register(Recorder())
    app = cyclopts.App()
    plugins.add_cli_commands(app)
    assert app(["seven"], result_action="return_value") == 7


def test_unknown_hook_is_rejected() -> None:
    class Typo:
        @stax.hookimpl
        def stax_renderer(self):  # misspelt: the spec has a trailing s
            return []

    plugins = StaxPlugins()
    with pytest.raises(pluggy.PluginValidationError):
        plugins.register(Typo())


def test_unknown_renderer_is_one_sentence() -> None:
    with pytest.raises(StaxError, match="No renderer named 'nope'"):
        StaxPlugins().renderer("nope")


def test_allow_list_env(monkeypatch) -> None:
    monkeypatch.setenv("STAX_PLUGINS", "backend_macos")
    names = [i.name for i in StaxPlugins().plugins()]
    assert names == ["backend_macos"]


class FakeBroker:
    os_name = "plan9"

    def setup(self, *, dry_run: bool, uninstall: bool, out) -> int:
        out.write("would install\n")
        return 0

    def doctor_table(self, rows):
        return [{"capability": "x", "status": "available", "reason": "", "fix": "", "kind": "host"}]


class BrokerPlugin:
    @stax.hookimpl
    def stax_privileged_brokers(self):
        return [FakeBroker()]


def test_privileged_brokers_hook_picks_the_os() -> None:
    plugins = StaxPlugins()
    plugins.register(BrokerPlugin())
    assert isinstance(plugins.privileged_broker("plan9"), FakeBroker)
    assert plugins.privileged_broker("linux").os_name == "linux"  # staxd-linux, via its entry point
    assert plugins.privileged_broker("beos") is None

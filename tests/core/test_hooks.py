"""Every hook spec is exercised here, through the plugin manager, by a ``test_hook_<name>``.

Like datasette's meta-test, :func:`test_every_hook_has_a_test` enumerates the specs of
:mod:`stax.hookspecs` and asserts that this module defines ``test_hook_<name>`` for
each.  A name is not enough: the ``hook_calls`` fixture watches every plugin manager a
``test_hook_`` test creates (pluggy's hook-call monitoring) and fails the test unless
its hook was called through one.  :func:`test_every_hook_has_a_production_implementer`
keeps a hook from existing only for tests: some distribution of this repository
implements each one through its entry point.
"""

from __future__ import annotations

import inspect
import io
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import cyclopts
import pytest

import stax
import stax.plugin_manager
from stax import hookspecs
from stax.analysis.profile import Profile
from stax.analysis.thread_breakdown import ThreadBreakdownView
from stax.capabilities import Capability, CapabilityRow, CapabilityStatus, HostCheck
from stax.cli.app import run
from stax.contracts import RenderOptions, SymbolContext, SymbolInfo
from stax.events import ImageKind, ImageLoad, Sample, ThreadName
from stax.plugin_manager import StaxPlugins
from stax.recording.writer import RecordingBuilder
from stax.stack_table import Image
from stax.views import ViewKind
from tests.annotate.test_code_source_hook import JIT_START, JitCodePlugin
from tests.backend_linux.off_cpu.synthetic_off_cpu import write_pingpong_recording
from tests.core.test_import_hook import MAGIC, ToyPlugin

REPO = Path(__file__).resolve().parents[2]
SPECS = sorted(name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
               if name.startswith("stax_"))


@pytest.fixture(autouse=True)
def hook_calls(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Names of the hooks called through any StaxPlugins made during the test (the CLI's too)."""
    called: list[str] = []
    made = StaxPlugins.__init__

    def watched_init(self: StaxPlugins) -> None:
        made(self)
        self.pm.add_hookcall_monitoring(lambda name, impls, kwargs: called.append(name),
                                        lambda outcome, name, impls, kwargs: None)

    monkeypatch.setattr(StaxPlugins, "__init__", watched_init)
    monkeypatch.setattr(stax.plugin_manager, "_plugins", None)  # the CLI makes a watched one
    yield called
    hook = request.node.originalname.removeprefix("test_hook_")
    if request.node.originalname.startswith("test_hook_") and hook not in called:
        pytest.fail(f"{request.node.name} never called {hook} through a plugin manager")


# -- the meta-tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SPECS)
def test_every_hook_has_a_test(name: str) -> None:
    assert callable(globals().get(f"test_hook_{name}")), f"no test_hook_{name} in {__name__}"


def _repository_distributions() -> set[str]:
    projects = [*REPO.glob("*/pyproject.toml"), *REPO.glob("staxd/*/pyproject.toml")]
    return {tomllib.loads(p.read_text())["project"]["name"] for p in projects}


@pytest.mark.parametrize("name", SPECS)
def test_every_hook_has_a_production_implementer(name: str) -> None:
    ours = _repository_distributions()
    implementers = [i.distribution for i in StaxPlugins().plugins()
                    if i.distribution in ours and name in i.hooks]
    assert implementers, f"no distribution of this repository implements {name}"


# -- capture ----------------------------------------------------------------------------------------


class FakeBackend:
    name = "fake"
    os_name = "plan9"

    def capabilities(self) -> list[CapabilityRow]:
        return [CapabilityRow(Capability.ON_CPU_SAMPLING, CapabilityStatus.UNAVAILABLE, "not plan9")]


class BackendPlugin:
    @stax.hookimpl
    def stax_capture_backends(self) -> list[FakeBackend]:
        return [FakeBackend()]


def test_hook_stax_capture_backends() -> None:
    plugins = StaxPlugins()
    plugins.register(BackendPlugin())
    backends = {b.name: b for b in plugins.capture_backends()}
    assert {"fake", "linux-perf", "macos-kperf"} <= set(backends)
    assert plugins.backend_for_this_os().os_name == sys.platform  # not the plan9 one
    (row,) = backends["fake"].capabilities()
    assert row.capability is Capability.ON_CPU_SAMPLING


class FakeBroker:
    os_name = "plan9"

    def setup(self, *, dry_run: bool, uninstall: bool, out: io.StringIO) -> int:
        out.write("would install\n")
        return 0

    def doctor_table(self, rows: Sequence[CapabilityRow]) -> list[CapabilityRow | HostCheck]:
        return [*rows, HostCheck("plan9 kernel", CapabilityStatus.AVAILABLE)]


class BrokerPlugin:
    @stax.hookimpl
    def stax_privileged_brokers(self) -> list[FakeBroker]:
        return [FakeBroker()]


def test_hook_stax_privileged_brokers() -> None:
    plugins = StaxPlugins()
    plugins.register(BrokerPlugin())
    broker = plugins.privileged_broker("plan9")
    assert isinstance(broker, FakeBroker)
    table = broker.doctor_table(FakeBackend().capabilities())
    assert [row.to_json()["kind"] for row in table] == ["capability", "host"]
    assert plugins.privileged_broker("linux").os_name == "linux"  # staxd-linux, via its entry point
    assert plugins.privileged_broker("beos") is None
    mac = plugins.privileged_broker("darwin")  # staxd-macos: its host checks run anywhere
    rows = mac.doctor_table(FakeBackend().capabilities())
    assert [(type(r).__name__, r.name) for r in rows] == [
        ("CapabilityRow", "on-CPU sampling"), ("HostCheck", "staxd LaunchDaemon"),
        ("HostCheck", "staxd socket")]
    assert rows[1].status is CapabilityStatus.UNAVAILABLE and rows[1].fix == "run 'sudo stax setup'"


def test_hook_stax_importers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    plugins = StaxPlugins()
    plugins.register(ToyPlugin(), name="toy-importer")
    monkeypatch.setattr(stax.plugin_manager, "_plugins", plugins)
    # stax-backend-macos's, stax-backend-linux's, and ours
    assert [i.name for i in plugins.importers()] == ["ktrace", "perf-data", "toy"]
    trace = tmp_path / "t.toy"
    trace.write_text(MAGIC.decode() + "1000000 42 10\n2000000 42 20\n")
    assert run(["import", str(trace), "-o", str(tmp_path / "t.stax"), "--no-symbolicate"]) == 0
    assert Profile.from_path(tmp_path / "t.stax").sample_count == 2
    assert "(toy)" in capsys.readouterr().err


# -- symbolication ----------------------------------------------------------------------------------


class OffsetNames:
    """Names two offsets of /opt/prog; orders before every built-in source."""

    name = "offset-names"
    order = -1

    def symbolicate(self, image: Image, offsets: Sequence[int],
                    context: SymbolContext) -> Mapping[int, Sequence[SymbolInfo]]:
        names = {0x1100: "hot_loop", 0x1050: "main"} if image.path == "/opt/prog" else {}
        return {o: [SymbolInfo(names[o], 0)] for o in offsets if o in names}


class SourcePlugin:
    @stax.hookimpl
    def stax_symbol_sources(self) -> list[OffsetNames]:
        return [OffsetNames()]


def test_hook_stax_symbol_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAX_CACHE_DIR", str(tmp_path / "cache"))
    plugins = StaxPlugins()
    plugins.register(SourcePlugin())
    names = [s.name for s in plugins.symbol_sources()]
    assert names[0] == "offset-names" and "elf-symbols" in names  # sorted by order, built-ins too
    builder = RecordingBuilder(tmp_path / "named.stax", plugins)
    builder.consume([ThreadName(0, 7, 7, "prog", is_exec=True),  # an exec resets the maps: it comes first
                     ImageLoad(0, 7, 0x400000, 0x401000, 0x1000, "/opt/prog", ImageKind.ELF, b"\x01\x02"),
                     *(Sample(10 + i, 7, 7, 0, 1000, (), (0x400100, 0x400051)) for i in range(5))])
    builder.finish()
    profile = Profile.from_path(tmp_path / "named.stax")
    assert {f.name for f in profile.frames} >= {"hot_loop", "main"}


def test_hook_stax_code_sources() -> None:
    plugin = JitCodePlugin()
    plugins = StaxPlugins()
    plugins.register(plugin, name="test-jit-code")
    sources = plugins.code_sources()
    assert sources[0] is plugin.source and "elf-code" in [s.name for s in sources]  # by order
    jit = Image(1, "//anon", ImageKind.JIT)
    (function,) = sources[0].function_code(jit, [JIT_START + 4], SymbolContext(cache_dir=REPO), 4096)
    assert function.name == "jit_add"


# -- rendering --------------------------------------------------------------------------------------


class ThreadCount:
    """A third-party renderer of the thread-breakdown view."""

    name = "thread-count"
    view = ViewKind.THREAD_BREAKDOWN
    formats = ("text",)
    description = "How many threads there were."

    def render(self, view: ThreadBreakdownView, options: RenderOptions, out: io.StringIO) -> None:
        out.write(f"{view.thread_count} threads in {Path(view.source).name}\n")


class RendererPlugin:
    @stax.hookimpl
    def stax_renderers(self) -> list[ThreadCount]:
        return [ThreadCount()]


@pytest.fixture
def with_renderer_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's plugin manager, with RendererPlugin registered in it."""
    plugins = StaxPlugins()
    plugins.register(RendererPlugin(), name="thread-count-test")
    monkeypatch.setattr(stax.plugin_manager, "_plugins", plugins)


def test_hook_stax_renderers(with_renderer_plugin: None, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    plugins = stax.plugin_manager.get_plugins()
    assert plugins.views_of("thread-count") == [ViewKind.THREAD_BREAKDOWN]
    assert plugins.views_of("top") == [ViewKind.PROFILE, ViewKind.OFF_CPU_PROFILE]  # stax-render's
    rec = write_pingpong_recording(tmp_path / "pp.stax")
    assert run(["render", str(rec), "--format", "thread-count"]) == 0
    assert capsys.readouterr().out == "2 threads in pp.stax\n"  # stax render built its view


# -- command line -----------------------------------------------------------------------------------


class CommandPlugin:
    @stax.hookimpl
    def stax_cli_commands(self, app: cyclopts.App) -> None:
        app.command(lambda: 7, name="seven")


def test_hook_stax_cli_commands() -> None:
    plugins = StaxPlugins()
    plugins.register(CommandPlugin())
    app = cyclopts.App()
    plugins.add_cli_commands(app)
    assert app(["seven"], result_action="return_value") == 7
    assert "symbolize" in app  # stax-symbols' command, via its entry point

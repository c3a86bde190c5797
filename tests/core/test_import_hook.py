"""The ``stax_importers`` hook: ``stax import`` picks an importer by the file's contents, knows no format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import stax
import stax.plugin_manager as plugin_manager
from stax.cli.app import run
from stax.contracts import CaptureSummary, EventSink, Importer
from stax.events import ImageLoad, Sample, ThreadName
from stax.plugin_manager import StaxPlugins

MAGIC = b"TOYTRACE1\n"


class ToyImporter:
    """A format of its own: lines ``TIME_NS TID FUNCTION``, one sample of 1 ms each."""

    name = "toy"
    description = "toy traces (first line TOYTRACE1)"

    def recognizes(self, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def import_file(self, path: Path, sink: EventSink) -> CaptureSummary:
        lines = path.read_text().splitlines()[1:]
        sink.consume([ImageLoad(0, 42, 0x1000, 0x2000, 0, "/toy/prog"), ThreadName(0, 42, 42, "toy")])
        samples = [Sample(int(t), 42, int(tid), 0, 1_000_000, (), (0x1000 + int(off, 16),))
                   for t, tid, off in (line.split() for line in lines)]
        sink.consume(samples)
        return CaptureSummary(samples=len(samples), notes=["Toy traces have no off-CPU data."],
                              metadata={"os": "toy"})


class ToyPlugin:
    @stax.hookimpl
    def stax_importers(self) -> list[ToyImporter]:
        return [ToyImporter()]


@pytest.fixture
def with_toy(monkeypatch: pytest.MonkeyPatch) -> StaxPlugins:
    manager = StaxPlugins()
    manager.register(ToyPlugin(), name="toy-importer")
    monkeypatch.setattr(plugin_manager, "_plugins", manager)
    return manager


def test_installed_importers_satisfy_the_contract(with_toy: StaxPlugins) -> None:
    importers = {i.name: i for i in with_toy.importers()}
    assert set(importers) == {"ktrace", "perf-data", "toy"}
    assert all(isinstance(i, Importer) for i in importers.values())


def test_the_importer_is_chosen_by_content_not_by_name(with_toy, tmp_path: Path, capsys) -> None:
    trace = tmp_path / "looks-like.ktrace"  # the name says ktrace; the contents say toy
    trace.write_text(MAGIC.decode() + "1000000 42 10\n2000000 42 10\n3000000 42 20\n")
    rec = tmp_path / "toy.stax"
    assert run(["import", str(trace), "-o", str(rec), "--no-symbolicate"]) == 0
    err = capsys.readouterr().err
    assert "stax: Toy traces have no off-CPU data." in err
    assert f"imported 3 samples, 0 off-CPU spans and 0 wakeups from {trace} (toy); wrote {rec}" in err
    assert run(["top", str(rec), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["samples"] == 3
    functions = sorted((f["function"], f["self"]) for f in data["functions"])
    assert functions == [("prog+0x10", 2), ("prog+0x20", 1)]


def test_none_recognises_it_in_one_sentence(with_toy, tmp_path: Path, capsys) -> None:
    other = tmp_path / "x.bin"
    other.write_bytes(b"\x7fELF" + bytes(60))
    assert run(["import", str(other)]) == 1
    assert capsys.readouterr().err == (
        f"stax: {other} is not a trace stax can import: no installed importer recognises its contents"
        " (installed: ktrace: Apple ktrace/artrace trace files, version 3 (kdebug + kperf), as recorded on a"
        " Mac; perf-data: Linux perf.data files (PERFILE2) as written by 'perf record'; toy: toy traces"
        " (first line TOYTRACE1)).\n")


@pytest.mark.parametrize("case", ["missing", "directory", "same-path"])
def test_bad_paths(with_toy, tmp_path: Path, capsys, case: str) -> None:
    if case == "missing":
        argv = [str(tmp_path / "nope")]
        sentence = f"{tmp_path / 'nope'} does not exist; give the path of a trace"
    elif case == "directory":
        argv = [str(tmp_path)]
        sentence = f"{tmp_path} is a directory; give the path of a trace file to import."
    else:
        (tmp_path / "t.stax").write_text(MAGIC.decode())
        argv = [str(tmp_path / "t.stax"), "-o", str(tmp_path / "t.stax")]
        sentence = f"The recording would overwrite {tmp_path / 't.stax'}; give another path with -o."
    assert run(["import", *argv]) == 2
    err = capsys.readouterr().err
    assert sentence in err and err.count("\n") == 1


def test_a_broken_importer_is_one_sentence_and_leaves_no_file(monkeypatch, tmp_path: Path, capsys) -> None:
    class Broken(ToyImporter):
        def import_file(self, path: Path, sink: EventSink) -> CaptureSummary:
            raise KeyError("line 3")

    class BrokenPlugin:
        @stax.hookimpl
        def stax_importers(self) -> list[ToyImporter]:
            return [Broken()]

    manager = StaxPlugins()
    manager.register(BrokenPlugin(), name="broken")
    monkeypatch.setattr(plugin_manager, "_plugins", manager)
    trace = tmp_path / "t.toy"
    trace.write_text(MAGIC.decode())
    assert run(["import", str(trace), "-o", str(tmp_path / "t.stax")]) == 1
    assert capsys.readouterr().err == (f"stax: The toy importer failed on {trace} (KeyError: 'line 3');"
                                       " report it to the importer's authors.\n")
    assert not (tmp_path / "t.stax").exists()

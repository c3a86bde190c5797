"""The ``stax_code_sources`` hook: an in-process plugin serves code the ELF source cannot (JIT code
here), ``stax record``'s last pass keeps it, and annotate names the function from it.
(tests/core/test_hooks.py has the hook's ``test_hook_stax_code_sources``.)"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import stax
from stax.analysis.annotator import Annotator
from stax.contracts import CodeSource, SymbolContext
from stax.events import ImageKind, ImageLoad, Sample, ThreadName
from stax.function_code import ARCH_X86_64, FunctionCode, LineRow
from stax.plugin_manager import StaxPlugins
from stax.recording.reader import Recording
from stax.recording.writer import RecordingBuilder
from stax.stack_table import Image

JIT_START = 0x7F0000001000
# push %rbp; mov %rsp,%rbp; lea (%rdi,%rsi,1),%rax; pop %rbp; ret
JIT_CODE = bytes.fromhex("55 4889e5 488d0437 5d c3".replace(" ", ""))


class JitCodeSource:
    name = "test-jit-code"
    order = 50

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[int, ...], int]] = []

    def function_code(self, image: Image, offsets: Sequence[int], context: SymbolContext,
                      max_bytes: int) -> Sequence[FunctionCode]:
        self.asked.append((str(image.kind), tuple(offsets), max_bytes))
        if image.kind is not ImageKind.JIT:
            return []
        return [FunctionCode("jit_add", JIT_START, JIT_START, len(JIT_CODE), ARCH_X86_64, JIT_CODE,
                             lines=(LineRow(JIT_START, "add.js", 3),))]


class JitCodePlugin:
    def __init__(self) -> None:
        self.source = JitCodeSource()

    @stax.hookimpl
    def stax_code_sources(self) -> Sequence[CodeSource]:
        return [self.source]


def test_jit_code_is_kept_by_record_and_annotated(tmp_path: Path) -> None:
    plugin = JitCodePlugin()
    plugins = StaxPlugins()
    plugins.register(plugin, name="test-jit-code")
    assert isinstance(plugin.source, CodeSource)
    assert plugins.code_sources()[0] is plugin.source  # lowest order first
    builder = RecordingBuilder(tmp_path / "jit.stax", plugins=plugins)
    builder.consume([ImageLoad(0, 7, JIT_START, JIT_START + 0x1000, 0, "//anon", ImageKind.JIT),
                     ThreadName(0, 7, 7, "node")])
    builder.consume([Sample(i, 7, 7, 0, 1000, (), (JIT_START + (4 if i % 4 else 8),))
                     for i in range(1, 101)])
    builder.finish(symbolicate=True, symbol_options={"debuginfod": False})
    assert ("jit", (JIT_START + 4, JIT_START + 8), 128 * 1024) in plugin.source.asked
    rec = Recording.open(tmp_path / "jit.stax")
    try:
        annotator = Annotator(rec, code_sources=[])
        (summary,) = annotator.find("jit_add")
        function = annotator.annotate(summary)
    finally:
        rec.close()
    assert function.code_origin == "recording" and function.arch == "x86_64"
    assert [(i.mnemonic, i.count) for i in function.instructions] == [
        ("pushq", 0), ("movq", 0), ("leaq", 75), ("popq", 25), ("retq", 0)]
    assert function.instructions[2].source.label == "add.js:3"

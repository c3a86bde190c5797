"""The sources arrive through entry points, in order, and name frames end to end through core."""

from __future__ import annotations

from pathlib import Path

from stax.events import ImageLoad, Sample
from stax.plugin_manager import StaxPlugins
from stax.recording.reader import Recording
from stax.recording.writer import RecordingBuilder
from tests.symbols.built_objects import (
    Built,
    file_offset_of,
    load_segments,
    nm_functions,
    real_kernel_symbol,
    run,
)


def test_each_source_is_its_own_entry_point_in_order() -> None:
    plugins = StaxPlugins()
    infos = {i.name: i for i in plugins.plugins()}
    for entry_point in ("symbols-elf", "symbols-kallsyms", "symbols-vdso"):
        assert infos[entry_point].distribution == "stax-symbols"
        assert infos[entry_point].hooks == ("stax_symbol_sources",)
    ours = [(s.name, s.order) for s in plugins.symbol_sources()
            if s.name in ("elf-symbols", "kallsyms", "vdso")]
    assert ours == [("elf-symbols", 300), ("kallsyms", 310), ("vdso", 320)]
    # the same source objects every pass, so their parsed tables outlive one pass
    first, second = plugins.symbol_sources(), plugins.symbol_sources()
    assert all(a is b for a, b in zip(first, second, strict=True))


def test_recording_names_user_kernel_frames(built: Built, tmp_path: Path) -> None:
    """Map the library at a made-up base as the kernel would, sample inside it, read names back."""
    text = next(s for s in load_segments(built.lib) if s.offset and s.file_size)
    base = 0x7F0000000000
    start = base + text.offset  # a page-aligned mapping of the text segment
    load = ImageLoad(0, 42, start, start + text.file_size, text.offset, str(built.lib))
    vaddr, _ = nm_functions(built.lib)["demo_lib_work"]
    ip = start + file_offset_of(built.lib, vaddr) - text.offset + 6
    kernel_name, kernel_address = real_kernel_symbol()
    plt = next(line.split() for line in run("readelf", "-SW", built.lib).splitlines() if " .plt " in line)
    plt_offset = int(plt[plt.index(".plt") + 3], 16) + 4  # PLT stubs have no symbol
    plt_ip = start + plt_offset - text.offset
    path = tmp_path / "r.stax"
    builder = RecordingBuilder(path, StaxPlugins())
    builder.consume([load, Sample(1, 42, 42, 0, 1000, (kernel_address + 3,), (ip, plt_ip))])
    warnings = builder.finish()
    assert warnings == []
    recording = Recording.open(path)
    try:
        labels = {label.name for label in recording.frame_labels()}
    finally:
        recording.close()
    assert labels == {"demo_lib_work", kernel_name, f"libdemo.so+{plt_offset:#x}"}

"""The kallsyms source on this machine's real /proc/kallsyms, and on crafted files for edge cases."""

from __future__ import annotations

from pathlib import Path

from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax.stack_table import Image
from stax_symbols.kernel.kallsyms import KallsymsSource
from tests.symbols.built_objects import real_kernel_symbol

KERNEL = Image(0, "[kernel.kallsyms]", ImageKind.KERNEL)


def test_real_kernel_symbol_and_offset(tmp_path: Path) -> None:
    name, address = real_kernel_symbol()
    ctx = SymbolContext(cache_dir=tmp_path)
    answer = KallsymsSource().symbolicate(KERNEL, [address, address + 5], ctx)
    assert [list(answer[address]), list(answer[address + 5])] == [
        [SymbolInfo(name, 0)],
        [SymbolInfo(name, 5)],
    ]
    assert ctx.warnings == []


FAKE = """\
ffffffff81000000 T _text
ffffffff81000000 T startup_64
ffffffff81000100 t __pfx_helper
ffffffff81000110 t helper
ffffffff81000200 W weak_fn
ffffffff81000300 D some_data
ffffffff81000400 T last_core_fn
ffffffffc0001000 t mod_fn\t[snd_hda]
ffffffffc0001080 t mod_other\t[snd_hda]
"""


def fake_source(tmp_path: Path, text: str, build_id_note: bytes | None = None) -> KallsymsSource:
    kallsyms = tmp_path / "kallsyms"
    kallsyms.write_text(text)
    notes = tmp_path / "notes"
    if build_id_note is not None:
        notes.write_bytes(build_id_note)
    return KallsymsSource(kallsyms, notes)


def test_aliases_modules_and_boundaries(tmp_path: Path) -> None:
    src = fake_source(tmp_path, FAKE)
    ctx = SymbolContext(cache_dir=tmp_path)
    wanted = [
        0xFFFFFFFF81000000,  # two T aliases: the one without leading underscores wins
        0xFFFFFFFF81000115,
        0xFFFFFFFF81000250,
        0xFFFFFFFF81000310,  # inside a data symbol: not a function
        0xFFFFFFFFC0001004,
        0xFFFFFFFFC0001090,
        0xFFFFFFFF80000000,  # below every symbol
        0xFFFFFFFF81000400 + (1 << 21),  # far past the last core symbol: no function is that long
    ]
    answer = src.symbolicate(KERNEL, wanted, ctx)
    assert {hex(a): (c[0].function, c[0].symbol_offset) for a, c in answer.items()} == {
        "0xffffffff81000000": ("startup_64", 0),
        "0xffffffff81000115": ("helper", 5),
        "0xffffffff81000250": ("weak_fn", 0x50),
        "0xffffffffc0001004": ("mod_fn [snd_hda]", 4),
        "0xffffffffc0001090": ("mod_other [snd_hda]", 0x10),
    }
    assert ctx.warnings == []


def test_hidden_addresses_warn_once_with_the_fix(tmp_path: Path) -> None:
    hidden = "".join(f"0000000000000000 T fn{i}\n" for i in range(5))
    src = fake_source(tmp_path, hidden)
    ctx = SymbolContext(cache_dir=tmp_path)
    assert src.symbolicate(KERNEL, [0xFFFFFFFF81000000], ctx) == {}
    assert src.symbolicate(KERNEL, [0xFFFFFFFF81000010], ctx) == {}
    assert len(ctx.warnings) == 1
    assert "kptr_restrict" in ctx.warnings[0] and "sudo sysctl kernel.kptr_restrict=0" in ctx.warnings[0]


def test_unreadable_kallsyms_warns(tmp_path: Path) -> None:
    src = KallsymsSource(tmp_path / "missing", tmp_path / "notes")
    ctx = SymbolContext(cache_dir=tmp_path)
    assert src.symbolicate(KERNEL, [0xFFFFFFFF81000000], ctx) == {}
    assert len(ctx.warnings) == 1 and "cannot be read" in ctx.warnings[0]


def test_kernel_build_id_mismatch_warns(tmp_path: Path) -> None:
    build_id = bytes(range(20))
    note = (4).to_bytes(4, "little") + (20).to_bytes(4, "little") + (3).to_bytes(4, "little")
    note += b"GNU\0" + build_id
    src = fake_source(tmp_path, FAKE, note)
    ctx = SymbolContext(cache_dir=tmp_path)
    same = Image(0, "[kernel.kallsyms]", ImageKind.KERNEL, build_id)
    assert src.symbolicate(same, [0xFFFFFFFF81000110], ctx)[0xFFFFFFFF81000110][0].function == "helper"
    other = Image(0, "[kernel.kallsyms]", ImageKind.KERNEL, b"\xff" * 20)
    assert src.symbolicate(other, [0xFFFFFFFF81000110], ctx) == {}
    assert len(ctx.warnings) == 1 and "not the one recorded" in ctx.warnings[0]


def test_only_kernel_images_are_served(tmp_path: Path) -> None:
    src = fake_source(tmp_path, FAKE)
    ctx = SymbolContext(cache_dir=tmp_path)
    assert src.symbolicate(Image(0, "/bin/true", ImageKind.ELF), [0xFFFFFFFF81000110], ctx) == {}

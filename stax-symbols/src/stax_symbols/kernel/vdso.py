"""The vDSO source: names frames in ``[vdso]`` (clock_gettime, gettimeofday, getcpu, ...).

The vDSO is not a file on disk; the kernel maps the same image into every process of
the same ABI.  So this process reads its *own* ``[vdso]`` bytes (from /proc/self/maps
and /proc/self/mem) once, parses them as ELF, and answers with the ELF machinery used for
files.  Frames carry ``offset = address - mapping start``; the vDSO is mapped from its
offset 0, so that is a file offset and PT_LOAD converts it to a vaddr whether the image is
linked at 0 (current kernels) or at a fixed high address (older ones).

Limit: a 32-bit process has the 32-bit vDSO, which this 64-bit process cannot see; its
frames are named only if the recorded build id matches ours, and left unresolved if not.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax_binfmt import vdso
from stax_binfmt.vdso import MAPS_PATH, MEM_PATH
from stax_symbols.elf.elf_file import ElfReadError
from stax_symbols.elf.loaded_elf import LoadedElf, load_elf

if TYPE_CHECKING:
    from stax.stack_table import Image

VDSO_ORDER = 320
VDSO_PATH = vdso.VDSO_NAME


def read_own_vdso(maps: Path = MAPS_PATH, mem: Path = MEM_PATH) -> bytes:
    """The bytes of this process's ``[vdso]`` mapping; raises ``ElfReadError`` if there is none."""
    try:
        image = vdso.read_own_vdso(maps, mem)
    except OSError as exc:
        raise ElfReadError(
            f"Cannot read symbols from [vdso]: this process's copy is unreadable ({exc.strerror or exc})."
        ) from None
    if image is None:
        raise ElfReadError("Cannot read symbols from [vdso]: this process has none (booted with vdso=0?).")
    return image


class VdsoSource:
    """Names ``ImageKind.VDSO`` frames from this process's own copy of the vDSO."""

    name = "vdso"
    order = VDSO_ORDER

    def __init__(self, maps: Path = MAPS_PATH, mem: Path = MEM_PATH) -> None:
        self._paths = (maps, mem)
        self._loaded: LoadedElf | str | None = None
        self._lock = threading.Lock()

    def loaded(self) -> LoadedElf:
        """The parsed vDSO, read on first use; raises ``ElfReadError`` (remembered) if unusable."""
        with self._lock:
            if self._loaded is None:
                try:
                    self._loaded = load_elf(io.BytesIO(read_own_vdso(*self._paths)), VDSO_PATH)
                except ElfReadError as exc:
                    self._loaded = str(exc)
            if isinstance(self._loaded, str):
                raise ElfReadError(self._loaded)
            return self._loaded

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        """Resolve offsets from the vDSO mapping's start; warn once if the vDSO is unreadable."""
        if not offsets or not (image.kind is ImageKind.VDSO or image.path == VDSO_PATH):
            return {}
        try:
            loaded = self.loaded()
        except ElfReadError as exc:
            context.warn(str(exc))
            return {}
        mismatch = loaded.build_id_mismatch(
            image.build_id, "a 32-bit process or another kernel has a different vDSO"
        )
        if mismatch:
            context.warn(mismatch)
            return {}
        return loaded.symbolicate(offsets)

"""Where an annotated function's code comes from, and the one sentence that says so.

The recording's copy (kept by ``stax record``, :mod:`stax.function_code_store`); else the
binary through the code sources (``stax_code_sources``) while its build id still
matches; else none, and annotate shows counts per address.  Every way but the first
comes with a note naming why the recording has no copy and where the code came from.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from stax.analysis.annotation import CODE_FROM_FILE, CODE_FROM_RECORDING, FunctionSummary
from stax.function_code import CodeStatus, FunctionCode
from stax.function_code_store import CODE_META_KEY, MAX_FUNCTION_BYTES
from stax.recording.code_tables import StoredFunction, read_function_code
from stax.recording.reader import Recording
from stax.stack_table import Image

if TYPE_CHECKING:
    from stax.contracts import CodeSource

MAX_FILE_FUNCTION_BYTES = 64 * MAX_FUNCTION_BYTES
"""Read from a binary, a function may be larger than what the recording keeps."""


class CodeLookup:
    """Finds the code of annotated functions for one recording."""

    def __init__(self, recording: Recording, images: dict[int, Image], meta: dict[str, object],
                 code_sources: Sequence[CodeSource] | None) -> None:
        """``code_sources`` None: the installed plugins, loaded on first need."""
        self.recording = recording
        self.images = images
        self.meta = meta
        self._code_sources = code_sources

    def code_for(self, summary: FunctionSummary, stored: StoredFunction | None, offsets: list[int],
                 ) -> tuple[FunctionCode | None, str | None, str | None]:
        """(code, origin, note) of ``summary``'s function; ``stored`` is its code row, if any,
        ``offsets`` the sampled offsets (frames' space) it must hold."""
        if stored is not None and stored.status == CodeStatus.KEPT:
            code = read_function_code(self.recording, stored)
            if code.code is not None:
                return code, CODE_FROM_RECORDING, None
        why = self._why_not_kept(summary, stored)
        image = self.images.get(summary.ref.image_id)
        if summary.is_kernel or image is None:
            return None, None, f"{why}; only samples per address are shown."
        from_file = self._from_file(image, summary, offsets)
        path = image.path.removesuffix(" (deleted)")
        if from_file is not None and from_file.code is not None:
            return (from_file, CODE_FROM_FILE,
                    f"{why}; read it from {path} instead, whose build id still matches.")
        if os.path.exists(path):
            gone = f"{path} is another build now" if image.build_id else f"{path} cannot be read"
        else:
            gone = f"{path} no longer exists"
        if from_file is not None and from_file.status == CodeStatus.TOO_LARGE:
            gone = f"{path} holds {from_file.size:,} bytes of it, more than annotate reads"
        return None, None, f"{why}, and {gone}; only samples per address are shown."

    def _why_not_kept(self, summary: FunctionSummary, stored: StoredFunction | None) -> str:
        name, rec = summary.name, self.recording.path
        limits = self.meta.get(CODE_META_KEY)
        limits = limits if isinstance(limits, dict) else {}
        if stored is not None and stored.status == CodeStatus.TOO_LARGE:
            bound = int(limits.get("max_function_bytes", MAX_FUNCTION_BYTES))
            return (f"The code of {name} ({size_text(stored.size)}) was not kept in {rec}, being larger"
                    f" than the {size_text(bound)} kept per function")
        if stored is not None:
            bound = int(limits.get("max_recording_bytes", 0))
            return (f"The code of {name} was not kept in {rec}: the {size_text(bound)} of code kept per"
                    " recording went to hotter functions")
        if summary.is_kernel:
            return f"The code of {name} was not kept in {rec}, as kernel code never is"
        if not limits:
            return f"The code of {name} was not kept in {rec}, which was recorded without keeping code"
        return (f"The code of {name} was not kept in {rec}, as its binary could not be read when"
                " the recording ended")

    def _from_file(self, image: Image, summary: FunctionSummary, offsets: list[int]) -> FunctionCode | None:
        if self._code_sources is None:
            from stax.plugin_manager import get_plugins

            self._code_sources = get_plugins().code_sources()
        if not self._code_sources:
            return None
        from stax.contracts import SymbolContext
        from stax.cache_dirs import work_dir

        context = SymbolContext(cache_dir=work_dir())
        for source in self._code_sources:
            try:
                found = source.function_code(image, offsets, context, MAX_FILE_FUNCTION_BYTES)
            except Exception:  # a broken source only means: no code from it
                continue
            for function in found:
                if function.offset == summary.ref.offset or function.contains_offset(offsets[0]):
                    return function
        return None


def size_text(count: int) -> str:
    """``100 bytes``, ``128 KiB``, ``8 MiB``."""
    if count >= 1024 * 1024:
        return f"{count / 1048576:g} MiB"
    return f"{count / 1024:g} KiB" if count >= 1024 else f"{count:,} bytes"

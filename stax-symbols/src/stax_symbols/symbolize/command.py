"""``stax symbolize``: print function, inline chain and file:line for addresses in a file.

Text output is ``addr2line -p -f -i -a``'s: the address, the innermost function with its
file:line, then one ``(inlined by)`` line per caller it was inlined into.  ``--json`` gives
the same with the offset into each real function.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from stax.contracts import SymbolInfo
from stax.errors import UsageError
from stax_symbols.symbolize.resolve import resolve
from stax_symbols.symbolize.targets import Plan, plan


def symbolize(
    file: Path,
    addresses: list[str],
    /,
    *,
    arch: str | None = None,
    debug_file: Path | None = None,
    debug_dir: Annotated[list[Path] | None, Parameter(name="--debug-dir")] = None,
    json_output: Annotated[bool, Parameter(name="--json", negative="")] = False,
) -> int:
    """Name addresses in an ELF, Mach-O or dyld shared cache file, like ``addr2line -f -i``.

    Addresses are the file's own virtual addresses in hex (``0x`` optional), as
    ``addr2line -e`` and ``llvm-symbolizer --obj`` take them. Debug info is found as for
    recordings: the file's own DWARF, build-id directories and ``.gnu_debuglink`` for ELF;
    ``FILE.dSYM`` beside a Mach-O binary; ``--debug-dir`` adds directories to search.
    Example: ``stax symbolize ./prog 0x1139 0x1150``.

    Parameters
    ----------
    file
        The binary: ELF, Mach-O (thin or universal), or a dyld shared cache.
    addresses
        Hex addresses in the file's address space.
    arch
        The slice of a universal Mach-O binary (``arm64``, ``x86_64``, ...).
    debug_file
        The debug info to use: an ELF debug file, or a .dSYM bundle (or its DWARF file);
        refused unless it is of the same build (build id / UUID).
    debug_dir
        A directory to search for debug files and .dSYM bundles (repeatable).
    json_output
        Print JSON.
    """
    if not addresses:
        raise UsageError("Give at least one address, e.g. stax symbolize ./prog 0x1139.")
    values = [_parse_address(a) for a in addresses]
    with tempfile.TemporaryDirectory(prefix="stax-symbolize-") as scratch:
        target_plan = plan(
            str(file),
            values,
            arch,
            str(debug_file) if debug_file else None,
            [str(d) for d in debug_dir or ()],
            scratch,
        )
        chains, warnings = resolve(target_plan)
    for sentence in warnings:
        print(f"stax: {sentence}", file=sys.stderr)
    if json_output:
        json.dump(_as_json(str(file), target_plan, chains), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_as_text(target_plan, chains))
    return 0


def _parse_address(text: str) -> int:
    digits = text[2:] if text.lower().startswith("0x") else text
    try:
        return int(digits, 16)
    except ValueError:
        raise UsageError(f"{text!r} is not a hex address; write it like 0x1139.") from None


def _where(info: SymbolInfo) -> str:
    if info.file is None:
        return "??:?"
    return f"{info.file}:{info.line if info.line else '?'}"


def _as_text(target_plan: Plan, chains: Sequence[Sequence[SymbolInfo]]) -> str:
    lines = []
    for target, chain in zip(target_plan.targets, chains, strict=True):
        suffix = f" [{target.image.path}]" if target_plan.kind == "dyld-shared-cache" and target.image else ""
        if not chain:
            lines.append(f"{target.address:#x}: ?? ??:?{suffix}")
            continue
        lines.append(f"{target.address:#x}: {chain[0].function} at {_where(chain[0])}{suffix}")
        lines.extend(f" (inlined by) {info.function} at {_where(info)}" for info in chain[1:])
    return "\n".join(lines) + "\n"


def _as_json(path: str, target_plan: Plan, chains: Sequence[Sequence[SymbolInfo]]) -> dict[str, object]:
    rows = []
    for target, chain in zip(target_plan.targets, chains, strict=True):
        row: dict[str, object] = {"address": f"{target.address:#x}"}
        if target_plan.kind == "dyld-shared-cache":
            row["image"] = target.image.path if target.image else None
        row["frames"] = [
            {
                "function": info.function,
                "offset": info.symbol_offset,
                "file": info.file,
                "line": info.line,
                "inlined": info.inlined,
            }
            for info in chain
        ]
        rows.append(row)
    return {"file": path, "format": target_plan.kind, "arch": target_plan.arch, "addresses": rows}

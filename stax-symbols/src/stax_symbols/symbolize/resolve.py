"""Ask the installed symbol sources about each image's offsets, in order, first answer
winning: what core does at the end of ``stax record``, without its cross-run cache (a
one-off question about a file should not fill it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from stax.cache_dirs import work_dir
from stax.contracts import SymbolContext, SymbolInfo
from stax.plugin_manager import get_plugins
from stax_symbols.symbolize.targets import Plan


def resolve(plan: Plan) -> tuple[list[Sequence[SymbolInfo]], list[str]]:
    """The chain (innermost first; empty when unknown) per target, and the warnings."""
    context = SymbolContext(cache_dir=work_dir(), options=plan.options)
    by_image: dict[int, tuple[object, set[int]]] = {}
    for target in plan.targets:
        if target.image is not None and target.offset is not None:
            by_image.setdefault(id(target.image), (target.image, set()))[1].add(target.offset)
    answers: dict[int, dict[int, Sequence[SymbolInfo]]] = defaultdict(dict)
    sources = get_plugins().symbol_sources()
    for key, (image, offsets) in by_image.items():
        wanted = sorted(offsets)
        for source in sources:
            if not wanted:
                break
            try:
                found = source.symbolicate(image, wanted, context)  # type: ignore[arg-type]
            except Exception as exc:  # as in core: one broken source must not stop the others
                context.warn(
                    f"Symbol source {source.name!r} failed on {image.path} ({exc});"  # type: ignore[attr-defined]
                    " its addresses stay unresolved."
                )
                continue
            answers[key].update({o: chain for o, chain in found.items() if chain})
            wanted = [o for o in wanted if o not in answers[key]]
    chains = [answers[id(t.image)].get(t.offset, ()) if t.image is not None else () for t in plan.targets]
    return chains, context.warnings

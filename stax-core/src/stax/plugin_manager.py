"""Discovery and typed access to plugins.

Plugins load lazily, once, on first use (``import stax`` stays cheap).  Every
hook call goes through a typed method of :class:`StaxPlugins`, so no other module
calls untyped ``pm.hook.*``.  ``STAX_PLUGINS`` (comma-separated entry-point
names) limits which plugins load, for debugging a misbehaving one.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import attrs
import pluggy

from stax import hookspecs
from stax.entry_point_index import entry_points
from stax.errors import StaxError
from stax.plugin_markers import ENTRY_POINT_GROUP, PROJECT_NAME
from stax.views import ViewKind, drawn_by, renderer_view

if TYPE_CHECKING:
    import cyclopts

    from stax.contracts import (
        CaptureBackend,
        CodeSource,
        Importer,
        PrivilegedBroker,
        Renderer,
        SymbolSource,
    )


@attrs.frozen(slots=True)
class PluginInfo:
    """One discovered plugin, for ``stax plugins``."""

    name: str
    distribution: str
    version: str
    module: str
    hooks: tuple[str, ...]


class StaxPlugins:
    """The plugin manager with one typed method per hook."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self._loaded = False
        self._info: list[PluginInfo] = []

    def load(self) -> None:
        """Load every ``stax`` entry point once, then reject hooks that match no spec."""
        if self._loaded:
            return
        self._loaded = True
        allow = os.environ.get("STAX_PLUGINS")
        allowed = {n.strip() for n in allow.split(",")} if allow else None
        for ep in entry_points(ENTRY_POINT_GROUP):
            if allowed is not None and ep.name not in allowed:
                continue
            if self.pm.get_plugin(ep.name) is not None:
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not break stax
                print(
                    f"stax: plugin {ep.name!r} failed to load ({exc}); reinstall or remove it.",
                    file=sys.stderr,
                )
                continue
            self.pm.register(module, name=ep.name)
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(module) or ()))
            self._info.append(
                PluginInfo(
                    name=ep.name,
                    distribution=ep.distribution,
                    version=ep.version,
                    module=ep.value,
                    hooks=hooks,
                )
            )
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise StaxError(f"A stax plugin implements an unknown hook ({exc}).") from None

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register an in-process plugin (tests, embedding)."""
        self.load()
        self.pm.register(plugin, name=name)
        self.pm.check_pending()

    def plugins(self) -> list[PluginInfo]:
        self.load()
        return list(self._info)

    # typed hook calls -----------------------------------------------------------------------

    def capture_backends(self) -> list[CaptureBackend]:
        self.load()
        return [b for batch in self.pm.hook.stax_capture_backends() for b in batch]

    def backend_for_this_os(self) -> CaptureBackend:
        backends = self.capture_backends()
        for backend in backends:
            if backend.os_name == sys.platform:
                return backend
        from stax.install_hint import backend_distribution, install_from_clone

        hint = install_from_clone(backend_distribution(sys.platform))
        raise StaxError(f"No stax capture backend for {sys.platform} is installed; run {hint}.")

    def privileged_broker(self, platform: str = sys.platform) -> PrivilegedBroker | None:
        """The staxd support for ``platform``, or None when none is installed."""
        self.load()
        for batch in self.pm.hook.stax_privileged_brokers():
            for broker in batch:
                if broker.os_name == platform:
                    return broker
        return None

    def importers(self) -> list[Importer]:
        """Every installed importer, in a stable order (by name)."""
        self.load()
        found = [i for batch in self.pm.hook.stax_importers() for i in batch]
        return sorted(found, key=lambda i: i.name)

    def symbol_sources(self) -> list[SymbolSource]:
        self.load()
        sources = [s for batch in self.pm.hook.stax_symbol_sources() for s in batch]
        return sorted(sources, key=lambda s: s.order)

    def code_sources(self) -> list[CodeSource]:
        self.load()
        sources = [s for batch in self.pm.hook.stax_code_sources() for s in batch]
        return sorted(sources, key=lambda s: s.order)

    def renderers(self) -> dict[tuple[ViewKind, str], Renderer[object]]:
        """Every renderer by (view, name); of two with one key, the one returned first wins.

        A renderer declaring a view this stax does not know (written for a newer one)
        is left out, with one sentence on stderr.
        """
        self.load()
        out: dict[tuple[ViewKind, str], Renderer[object]] = {}
        for batch in self.pm.hook.stax_renderers():
            for renderer in batch:
                view = renderer_view(renderer)
                if view is None:
                    print(f"stax: renderer {renderer.name!r} draws an unknown view"
                          f" ({getattr(renderer, 'view', '')!r}); upgrade stax to use it.", file=sys.stderr)
                    continue
                out.setdefault((view, renderer.name), renderer)
        return out

    def views_of(self, name: str) -> list[ViewKind]:
        """The views drawn by renderers named ``name``, in :class:`ViewKind` order."""
        drawn = {view for view, known in self.renderers() if known == name}
        return [view for view in ViewKind if view in drawn]

    def renderer(self, name: str, view: ViewKind = ViewKind.PROFILE) -> Renderer[object]:
        """The renderer named ``name`` that draws ``view`` (see :func:`stax.views.drawn_by`)."""
        renderers = self.renderers()
        for kind in drawn_by(view):
            if (kind, name) in renderers:
                return renderers[(kind, name)]
        views = self.views_of(name)
        if not views:
            known = ", ".join(sorted({known for _, known in renderers})) or "none"
            raise StaxError(f"No renderer named {name!r} is installed (installed: {known}).")
        raise StaxError(f"Renderer {name!r} draws {' and '.join(v.noun for v in views)}, not"
                        f" {view.noun}; `stax plugins` lists the renderers of each view.")

    def add_cli_commands(self, app: cyclopts.App) -> None:
        self.load()
        self.pm.hook.stax_cli_commands(app=app)


_plugins: StaxPlugins | None = None


def get_plugins() -> StaxPlugins:
    """The process-wide plugin manager (created on first use)."""
    global _plugins
    if _plugins is None:
        _plugins = StaxPlugins()
    return _plugins

"""Hook specifications: the whole plugin contract of stax.

Every extension point is a hook here.  Plugins implement them with
``@stax.hookimpl`` in a module named by an entry point in the ``stax`` group::

    [project.entry-points.stax]
    my_renderer = "my_package.plugin"

stax's own backends, symbol sources and renderers register exactly that way.
Hooks take and return batches and objects, never one sample at a time.  Each hook
here has a production implementer and a ``test_hook_<name>`` in tests/core/test_hooks.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from stax.plugin_markers import _hookspec

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


# -------------------------------------------------------------------------------------------------
# Capture
# -------------------------------------------------------------------------------------------------


@_hookspec
def stax_capture_backends() -> Sequence[CaptureBackend]:
    """Return the capture backends this plugin provides.

    Called once, the first time stax needs a backend (``stax record``, ``stax doctor``).
    stax picks the backend whose ``os_name`` matches ``sys.platform``; backends for
    other OSes are still listed so ``stax doctor`` can say why they do not apply.

    :returns: A sequence of objects satisfying :class:`stax.contracts.CaptureBackend`.

    Implemented by ``stax-backend-linux`` and ``stax-backend-macos``.
    """


@_hookspec
def stax_privileged_brokers() -> Sequence[PrivilegedBroker]:
    """Return the privileged brokers (staxd support) this plugin provides.

    Called once, by ``stax setup`` and ``stax doctor``.  stax picks the broker whose
    ``os_name`` matches ``sys.platform``; it installs the service and explains, row by
    row, what the broker adds to the backend's capabilities.

    :returns: A sequence of objects satisfying :class:`stax.contracts.PrivilegedBroker`.

    Implemented by ``staxd-linux`` and ``staxd-macos``.
    """


@_hookspec
def stax_importers() -> Sequence[Importer]:
    """Return the importers this plugin provides: readers of trace files other tools write.

    Called once by ``stax import FILE``, which shows each importer the file's first
    bytes (``recognizes``) and lets the first that recognises them turn the file into
    a recording through the same recording builder ``stax record`` uses.  The command
    itself knows no format, so a new format is one more importer.

    :returns: A sequence of objects satisfying :class:`stax.contracts.Importer`.

    Implemented by ``stax-backend-macos`` (Apple ktrace/artrace files).
    """


# -------------------------------------------------------------------------------------------------
# Symbolication
# -------------------------------------------------------------------------------------------------


@_hookspec
def stax_symbol_sources() -> Sequence[SymbolSource]:
    """Return the symbol sources this plugin provides.

    Called once per symbolication pass.  Sources from all plugins are sorted by their
    ``order`` attribute (lower first); for each address the first source that names it
    wins, so a precise source (DWARF, jitdump) should order before a coarse one (ELF
    symbol tables).  Sources receive unique offsets per image, never per sample.

    :returns: A sequence of objects satisfying :class:`stax.contracts.SymbolSource`.

    Implemented by ``stax-symbols`` (ELF, kallsyms, vDSO, ...) and third parties.
    """


@_hookspec
def stax_code_sources() -> Sequence[CodeSource]:
    """Return the code sources this plugin provides: readers of functions' machine code.

    Called once at the end of ``stax record``, after symbolication, to store the code
    bytes, line-table slices and inline ranges of the functions that hold samples (so
    ``stax annotate`` works after the binary is gone), and by ``stax annotate`` when a
    recording did not keep a function's code (then only a file whose build id still
    matches may answer).  Sources are sorted by ``order``; for each offset the first
    source that returns a function holding it wins.

    :returns: A sequence of objects satisfying :class:`stax.contracts.CodeSource`.

    Implemented by ``stax-symbols`` (ELF images, x86_64 and aarch64) and third parties.
    """


# -------------------------------------------------------------------------------------------------
# Rendering
# -------------------------------------------------------------------------------------------------


@_hookspec
def stax_renderers() -> Sequence[Renderer[object]]:
    """Return the renderers this plugin provides.

    Called once, when a command needs a renderer.  Each renderer draws one view
    (its ``view``, a :class:`stax.views.ViewKind`) and is picked by view and
    ``name``: ``stax top`` uses the renderer named ``top`` of the profile view (of
    the off-CPU profile view with ``--off-cpu``), ``stax threads`` the ``threads``
    renderer of the thread-breakdown view, ``stax render --format NAME`` the one
    named NAME of whatever view it draws.  Of two renderers with one (view, name), the
    one returned first wins (pluggy calls the plugin registered last first).

    :returns: A sequence of objects satisfying :class:`stax.contracts.Renderer`.

    Implemented by ``stax-render`` (``top``, ``flamegraph``, ``collapsed``, ``threads``,
    ``wakers``, ``annotate``) and third parties.
    """


# -------------------------------------------------------------------------------------------------
# Command line
# -------------------------------------------------------------------------------------------------


@_hookspec
def stax_cli_commands(app: cyclopts.App) -> None:
    """Add commands to the ``stax`` command line.

    Called once while the CLI is built, after the built-in commands exist.  Register
    lazily so ``stax --help`` stays fast::

        app.command("my_plugin.cli:frobnicate", name="frobnicate")

    :param app: The root :class:`cyclopts.App`.

    Implemented by ``stax-symbols`` (``stax symbolize``) and ``stax-web`` (``stax serve``).
    """

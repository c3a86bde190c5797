"""Mangled symbol names -> the names people read: C++ (Itanium) and Rust (legacy and v0).

Symbol sources store the name the binary holds (``_Z12bitmap_bit_pPK11bitmap_headi``);
every view shows it demangled (``bitmap_bit_p(bitmap_head const*, int)``) unless asked
not to (``--no-demangle``).  Two well-kept demanglers do the work, none is hand-written:
``pyderust`` binds the ``rustc-demangle`` crate (the demangler rustc's own tools use,
legacy ``_ZN...17h<hash>E`` and v0 ``_R...``; shown without the hash, as perf and
``rustfilt`` show them), and ``cxxfilt`` calls the C++ runtime's ``__cxa_demangle``
(libstdc++ on Linux: the same GNU demangler as ``c++filt``, so names match it).

Rust is asked first because a legacy Rust name is also a valid Itanium name (one whose
last part is the hash); rustc-demangle refuses any other Itanium name, which then goes
to the C++ demangler.  Each distinct name is demangled once per process (a recording
holds tens of thousands of frames but far fewer distinct names).  A name neither
demangler accepts, or one that is not mangled, is returned as is.
"""

from __future__ import annotations

from functools import cache

MANGLED_PREFIXES = ("_Z", "_R", "__Z", "__R")
"""Itanium (``_Z``) and Rust v0 (``_R``) names; Mach-O symbols carry one more underscore."""


def demangle(name: str) -> str:
    """The demangled form of ``name``; ``name`` itself when it is not a mangled name."""
    if not name.startswith(MANGLED_PREFIXES):
        return name  # most kernel and C names: no cache entry, no library call
    return _demangle(name)


@cache
def _demangle(name: str) -> str:
    symbol = name[1:] if name.startswith(("__Z", "__R")) else name
    rust = _rust_demangle(symbol)
    if rust is not None:
        return rust
    if symbol.startswith("_Z"):
        return _cxx_demangle(symbol) or name
    return name


def _rust_demangle(symbol: str) -> str | None:
    from pyderust import DemangleError
    from pyderust import demangle as rust_demangle

    try:
        return rust_demangle(symbol)
    except (DemangleError, ValueError):
        return None


def _cxx_demangle(symbol: str) -> str | None:
    import cxxfilt

    try:
        return cxxfilt.demangle(symbol, external_only=True)
    except (cxxfilt.Error, UnicodeDecodeError):
        return None

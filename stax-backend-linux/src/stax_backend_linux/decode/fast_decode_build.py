"""Build the compiled record scan (fast_decode.c), capture stream (fast_stream.c) and column
work (fast_columns.c) with cffi, once per source and Python ABI.

The cdef is the headers themselves.  The extension is compiled on first use into the
stax cache directory (only one that is ours, mode 0700, else a directory private to the
run: :func:`stax.cache_dirs.work_dir`; code is never loaded from another user's), named
by a hash of the C source, the header, this script, the interpreter's ABI and the cffi
version, so an edit or a new Python builds a fresh one; a half-written build never takes
that name (it is renamed into place when done).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import shutil
import sys
import sysconfig
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import cffi

HERE = Path(__file__).resolve().parent
HEADERS = (HERE / "fast_decode.h", HERE / "fast_stream.h", HERE / "fast_columns.h")
SOURCES = (HERE / "fast_decode.c", HERE / "fast_stream.c", HERE / "fast_columns.c")


def module_name() -> str:
    """The extension's module name: its build inputs' hash (also what PyInit_ is called)."""
    digest = hashlib.sha256()
    for path in (*HEADERS, *SOURCES, Path(__file__)):
        digest.update(path.read_bytes())
    for part in (sys.implementation.cache_tag, sysconfig.get_config_var("EXT_SUFFIX") or "",
                 cffi.__version__, platform.machine()):
        digest.update(b"\0" + str(part).encode())
    return f"_stax_fast_decode_{digest.hexdigest()[:16]}"


def make_ffi(name: str) -> cffi.FFI:
    ffi = cffi.FFI()
    for header in HEADERS:
        ffi.cdef(header.read_text())
    includes = "".join(f'#include "{header.name}"\n' for header in HEADERS)
    ffi.set_source(name, "#include <stdint.h>\n#include <stddef.h>\n" + includes,
                   sources=[str(source) for source in SOURCES], include_dirs=[str(HERE)],
                   extra_compile_args=["-O2"])
    return ffi


def can_compile() -> bool:
    """A C compiler and Python's headers are present (else building would only print errors)."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()
    include = sysconfig.get_paths().get("include", "")
    return bool(cc) and shutil.which(cc[0]) is not None and (Path(include) / "Python.h").is_file()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the compiler and distutils (they write to fds 1 and 2) and their warnings."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def build(directory: Path) -> Path:
    """Compile the extension into ``directory`` (if it is not there yet); its path."""
    name = module_name()
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = directory / f"{name}{suffix}"
    if target.is_file():
        return target
    if not can_compile():
        raise RuntimeError("no C compiler or Python headers")
    directory.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="build-", dir=directory)
    try:
        with _quiet():
            built = make_ffi(name).compile(tmpdir=tmp)
        os.replace(built, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load(path: Path) -> ModuleType:
    """Import a built extension from its file."""
    name = path.name.split(".", 1)[0]
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, str(path), loader=loader)
    if spec is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


if __name__ == "__main__":
    from stax.cache_dirs import work_dir

    print(build(work_dir() / "fast_decode"))

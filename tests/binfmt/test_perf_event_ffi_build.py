"""The pre-parsed perf_event.h module is current, and stax record's start does not parse C."""

from __future__ import annotations

from stax_binfmt import perf_event_ffi, perf_event_ffi_build
from tests.imported_modules import imported_modules


def test_committed_module_matches_the_header() -> None:
    # stale after an edit of perf_event.h: run `python -m stax_binfmt.perf_event_ffi_build`
    assert perf_event_ffi_build.module_path().read_text() == perf_event_ffi_build.generated_source()


def test_ffi_is_the_prebuilt_one_and_knows_the_attr() -> None:
    from stax_binfmt import _perf_event_cffi

    assert perf_event_ffi.ffi() is _perf_event_cffi.ffi
    assert perf_event_ffi.ffi().sizeof("struct perf_event_attr") == 128


def test_opening_an_event_imports_no_c_parser() -> None:
    code = ("from stax_binfmt import perf_event_attr as pea\n"
            "from stax_binfmt.perf_event_ffi import perf_event_open, PerfEventError\n"
            "attr = pea.probe_attr(pea.PERF_TYPE_SOFTWARE, pea.PERF_COUNT_SW_CPU_CLOCK,"
            " exclude_kernel=True)\n"
            "try:\n"
            "    __import__('os').close(perf_event_open(attr, 0, -1))\n"
            "except PerfEventError:\n"
            "    pass\n")
    assert imported_modules(code, ("pycparser", "cffi.cparser")) == []

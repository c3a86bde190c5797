"""Mach-O symbols: the symbol tables, dSYMs, unwind tables and dyld shared cache of macOS code.

One job per module:

=====================  ===================================================================
``load_commands``      header and load commands of one image (segments, sections, symtab,
                       UUID, function starts, install name)
``fat``                universal binaries: the slices and where they start
``macho_file``         open a file on disk and pick a slice by UUID or architecture
``image_uuid``         UUID text and the one-sentence mismatch refusal
``function_table``     ``nlist_64`` + ``LC_FUNCTION_STARTS`` -> function table
``loaded_image``       an image's function table, from a file or from the shared cache
``dsym_locator``       where a dSYM is, refused unless its UUID matches
``dwarf_sections``     ``__DWARF,__debug_*`` -> the one DWARF reader's sections
``compact_unwind``     ``__TEXT,__unwind_info`` rows and what each encoding means
``eh_frame``           ``__TEXT,__eh_frame`` FDEs, through the existing CFI parser
``shared_cache_layout`` ``dyld_cache_format.h`` structures
``shared_cache``       the dyld shared cache: files, subcaches, mappings, images, local symbols
``cache_locator``      which shared caches to search
``memo``               per-process memos of opened files and caches
``symbol_source``      the ``macho-symbols`` source (order 305)
``dwarf_source``       the ``macho-dwarf`` source (order 105)
=====================  ===================================================================

Library choice: **macholib** (PyPI ``macholib`` 1.16.4, 2025; MIT; Ronald Oussoren, the
py2app/PyInstaller maintainer; one pure-Python ``py2.py3-none-any`` wheel of 38 kB plus
``altgraph``, so the same wheel installs on Linux x86-64 and macOS arm64) gives the
structure definitions of ``<mach-o/loader.h>`` and ``<mach-o/fat.h>``
(``mach_header_64``, ``segment_command_64``, ``section_64``, ``symtab_command``,
``linkedit_data_command``, ``dylib_command``, ``fat_arch``/``fat_arch64``), CPU type names
and the nlist constants; it imports in ~20 ms and raises Python exceptions on damaged
input.  **LIEF** (1.0.0, 2026; Apache-2.0; wheels for both platforms, 3.3-3.7 MB, 12 MB
installed, C++) was the alternative: it parses more, but importing it costs ~0.5 s on
every ``stax symbolize`` and every recording's symbol pass, its DWARF support is only in
the commercial "extended" build, its shared-cache module (``lief.dsc``) exposes neither
image UUIDs nor the unmapped local symbols (``.symbols``) that naming a recorded system
dylib needs, and it reads no ``__unwind_info``.  What neither library reads is read here
with :mod:`struct`/:mod:`ctypes` from the documented layouts: ``nlist_64`` arrays (as the
ELF reader does for speed, :mod:`stax_symbols.elf_symbol_table`), ``__unwind_info``
(``<mach-o/compact_unwind_encoding.h>``) and the shared cache (``dyld_cache_format.h``).
DWARF goes through the existing reader (:mod:`stax_symbols.dwarf_resolver`); CFI through
the existing parser (:mod:`.eh_frame` says how).

No Mac has run any of this: the files it was checked on were built on Linux with clang,
ld64.lld, dsymutil and llvm-lipo, and the shared cache was synthesized from the header
(see the stax-symbols README).
"""

"""A real arm64 Mach-O program (clang + ld64.lld), whose functions the synthesized traces sample."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from tests.symbols.macho.macho_build import ld64, run, tool

SERVER_SOURCE = r"""
volatile long sink;
__attribute__((noinline)) long hot(long n) { long s = 0; for (long i = 0; i < n; i++) s += i * i; return s; }
__attribute__((noinline)) long warm(long n) { return hot(n / 2) + 1; }
__attribute__((noinline)) long wait_for_work(long n) { sink = n; return sink; }
__attribute__((noinline)) long worker_main(long n) { return wait_for_work(n) + hot(n); }
int main(void) { sink = hot(100) + warm(100) + worker_main(3); return 0; }
"""


@attrs.frozen
class ServerBinary:
    """The program, its UUID (llvm-dwarfdump) and each function's offset from the mach header (llvm-nm)."""

    path: Path
    uuid: bytes
    offsets: dict[str, int]


@pytest.fixture(scope="session")
def server_binary(tmp_path_factory: pytest.TempPathFactory) -> ServerBinary:
    directory = tmp_path_factory.mktemp("server")
    (directory / "server.c").write_text(SERVER_SOURCE)
    obj, binary = directory / "server.o", directory / "server"
    run(tool("clang"), "-target", "arm64-apple-macos13", "-O1", "-c", directory / "server.c", "-o", obj)
    run(ld64(), "-arch", "arm64", "-platform_version", "macos", "13.0", "13.0", "-e", "_main", "-o", binary,
        obj)
    symbols = {name: int(addr, 16) for addr, name in
               re.findall(r"^([0-9a-f]+) [Tt] _?(\S+)$", run(tool("llvm-nm"), "-n", binary), re.M)}
    header = symbols.pop("_mh_execute_header")
    uuid = re.search(r"UUID: ([0-9A-F-]+)", run(tool("llvm-dwarfdump"), "--uuid", binary)).group(1)
    return ServerBinary(binary, bytes.fromhex(uuid.replace("-", "")),
                        {name: addr - header for name, addr in symbols.items()})

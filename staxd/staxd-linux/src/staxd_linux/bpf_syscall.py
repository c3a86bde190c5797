"""bpf(2) for the two commands staxd uses: create a map, load a program.

glibc has no wrapper for bpf(2), so it goes through syscall(2), by cffi in ABI mode as
perf_event_open does in the backend.  ``union bpf_attr`` (include/uapi/linux/bpf.h)
is packed by hand for each command: the kernel zero-fills whatever is shorter than its
own union, and only the leading fields of each command are used here.  The fds the
kernel returns are close-on-exec.
"""

from __future__ import annotations

import errno
import platform
import struct
from functools import cache
from typing import Any

import cffi

# __NR_bpf: asm/unistd_64.h (x86-64) and asm-generic/unistd.h (arm64).
_SYSCALL_NUMBERS = {"x86_64": 321, "aarch64": 280, "arm64": 280}

# enum bpf_cmd, enum bpf_map_type, enum bpf_prog_type (bpf.h).
BPF_MAP_CREATE = 0
BPF_PROG_LOAD = 5
BPF_MAP_TYPE_PERCPU_ARRAY = 6
BPF_PROG_TYPE_PERF_EVENT = 7

BPF_OBJ_NAME_LEN = 16
LOG_SIZE = 1 << 16
# The map_create part of union bpf_attr: map_type, key_size, value_size, max_entries, map_flags,
# inner_map_fd, numa_node, map_name[16].
_MAP_CREATE = struct.Struct("<7I16s")
# The prog_load part: prog_type, insn_cnt, insns, license, log_level, log_size, log_buf,
# kern_version, prog_flags, prog_name[16].
_PROG_LOAD = struct.Struct("<IIQQIIQII16s")


class BpfError(OSError):
    """A bpf(2) call failed; ``errno`` says why; ``log`` is the verifier's output for a rejected program.

    ``str()`` is a clause: "bpf(2) fails with EPERM creating a map".
    """

    def __init__(self, err: int, what: str, log: str = "") -> None:
        super().__init__(err, f"bpf(2) fails with {errno.errorcode.get(err, err)} {what}")
        self.log = log

    def __str__(self) -> str:
        return str(self.strerror)


@cache
def _ffi() -> tuple[cffi.FFI, Any]:
    ffi = cffi.FFI()
    ffi.cdef("long syscall(long number, ...);")
    return ffi, ffi.dlopen(None)


def _bpf(cmd: int, attr: bytes, what: str, log: str = "") -> int:
    ffi, libc = _ffi()
    number = _SYSCALL_NUMBERS.get(platform.machine())
    if number is None:
        raise BpfError(errno.ENOSYS, f"on {platform.machine()}")
    buffer = ffi.new("char[]", attr)
    result = libc.syscall(ffi.cast("long", number), ffi.cast("long", cmd), buffer,
                          ffi.cast("unsigned long", len(attr)))
    if result < 0:
        raise BpfError(ffi.errno or errno.EIO, what, log)
    return int(result)


def create_map(map_type: int, key_size: int, value_size: int, max_entries: int, name: str) -> int:
    """BPF_MAP_CREATE -> the map's fd."""
    attr = _MAP_CREATE.pack(map_type, key_size, value_size, max_entries, 0, 0, 0,
                            name.encode()[:BPF_OBJ_NAME_LEN - 1])
    return _bpf(BPF_MAP_CREATE, attr, "creating a map")


def load_program(prog_type: int, instructions: bytes, name: str, license_: str = "MIT") -> int:
    """BPF_PROG_LOAD -> the program's fd; a rejected program raises with the verifier's log."""
    ffi, _ = _ffi()
    insns = ffi.from_buffer(instructions)
    licence = ffi.new("char[]", license_.encode())
    log = ffi.new("char[]", LOG_SIZE)
    attr = _PROG_LOAD.pack(prog_type, len(instructions) // 8, int(ffi.cast("uintptr_t", insns)),
                           int(ffi.cast("uintptr_t", licence)), 1, LOG_SIZE, int(ffi.cast("uintptr_t", log)),
                           0, 0, name.encode()[:BPF_OBJ_NAME_LEN - 1])
    try:
        return _bpf(BPF_PROG_LOAD, attr, "loading a program")
    except BpfError as exc:
        exc.log = ffi.string(log).decode("utf-8", "replace")
        raise

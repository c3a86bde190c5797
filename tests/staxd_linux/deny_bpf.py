"""Exec a command under a seccomp filter that fails bpf(2) with ENOSYS, as on a kernel without
CONFIG_BPF_SYSCALL (or under a unit whose SystemCallFilter leaves bpf out).

staxd keeps CAP_BPF, so taking the capability away would stop it at start-up (privileges.py);
a host where bpf(2) itself is missing is the case rate_limit.py must survive.  The filter is
classic BPF (include/uapi/linux/filter.h, seccomp.h): load the syscall number from struct
seccomp_data, return SECCOMP_RET_ERRNO | ENOSYS for bpf, SECCOMP_RET_ALLOW for anything else;
on another architecture it kills the process rather than guess numbers.  It needs no_new_privs,
which the unit sandbox (conftest.UNIT_SANDBOX) sets first; it is inherited across execve.
Usage: python deny_bpf.py PROGRAM ARG...
"""

import ctypes
import errno
import os
import platform
import struct
import sys

# struct seccomp_data: int nr; __u32 arch; ...  AUDIT_ARCH_* from include/uapi/linux/audit.h.
ARCH = {"x86_64": (0xC000003E, 321), "aarch64": (0xC00000B7, 280)}
BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_RET_K = 0x06  # BPF_RET | BPF_K
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

audit_arch, bpf_nr = ARCH[platform.machine()]
program = [
    (BPF_LD_W_ABS, 0, 0, 4),  # A = arch
    (BPF_JEQ_K, 1, 0, audit_arch),  # our architecture: go on
    (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
    (BPF_LD_W_ABS, 0, 0, 0),  # A = syscall number
    (BPF_JEQ_K, 0, 1, bpf_nr),
    (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
    (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
]
code = b"".join(struct.pack("<HBBI", *insn) for insn in program)
filters = ctypes.create_string_buffer(code, len(code))


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


prog = SockFprog(len(program), ctypes.addressof(filters))
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
    sys.exit(f"prctl(PR_SET_SECCOMP) failed: {os.strerror(ctypes.get_errno())}")
os.execvp(sys.argv[1], sys.argv[1:])

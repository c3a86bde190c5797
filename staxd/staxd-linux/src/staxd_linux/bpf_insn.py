"""Encoding eBPF instructions: the few a staxd program needs, as the kernel's uapi defines them.

staxd's programs are a dozen instructions (rate_limit.py), so they are written here
instruction by instruction rather than compiled: no clang, bcc or libbpf on the host.
No PyPI package fits: bpf-asm assembles classic BPF only, ebpfcat's generator is part of
an EtherCAT master (and GPL-2.0), the libbpf bindings load compiled objects.

Each instruction is ``struct bpf_insn`` (include/uapi/linux/bpf.h)::

    struct bpf_insn { __u8 code; __u8 dst_reg:4; __u8 src_reg:4; __s16 off; __s32 imm; };

8 bytes, little-endian on every architecture staxd runs on (x86-64, arm64), so dst_reg
is the low nibble of the second byte.  ``code`` is class | size/op | mode/source, with
the values below from include/uapi/linux/bpf_common.h and include/uapi/linux/bpf.h.
A 64-bit immediate load (``BPF_LD | BPF_DW | BPF_IMM``) takes two instructions.
"""

from __future__ import annotations

import struct

# Instruction classes (bpf_common.h; BPF_ALU64 from bpf.h).
BPF_LD = 0x00
BPF_LDX = 0x01
BPF_ST = 0x02
BPF_STX = 0x03
BPF_ALU = 0x04
BPF_JMP = 0x05
BPF_ALU64 = 0x07

# Sizes (bpf_common.h; BPF_DW from bpf.h).
BPF_W = 0x00
BPF_DW = 0x18

# Modes (bpf_common.h).
BPF_IMM = 0x00
BPF_MEM = 0x60

# ALU operations and the operand source (bpf_common.h; BPF_MOV from bpf.h).
BPF_ADD = 0x00
BPF_MOV = 0xB0
BPF_K = 0x00  # the immediate
BPF_X = 0x08  # the source register

# Jumps (bpf_common.h; the rest from bpf.h).  Comparisons are unsigned.
BPF_JEQ = 0x10
BPF_JGT = 0x20
BPF_JGE = 0x30
BPF_CALL = 0x80
BPF_EXIT = 0x90

# ld_imm64's src_reg when imm is a map's file descriptor (bpf.h).
BPF_PSEUDO_MAP_FD = 1

# Helper functions (bpf.h, ``enum bpf_func_id``, ___BPF_FUNC_MAPPER order).
BPF_FUNC_map_lookup_elem = 1
BPF_FUNC_ktime_get_ns = 5

# Registers: r0 return value, r1-r5 arguments (clobbered by calls), r6-r9 callee-saved, r10 frame pointer.
R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)

_INSN = struct.Struct("<BBhi")
INSN_SIZE = _INSN.size  # 8


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One encoded ``struct bpf_insn``."""
    return _INSN.pack(code, (src << 4) | dst, off, imm)


def mov64_imm(dst: int, imm: int) -> bytes:
    """dst = imm (sign-extended 32-bit immediate)."""
    return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, imm=imm)


def mov64_reg(dst: int, src: int) -> bytes:
    """dst = src."""
    return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src)


def add64_imm(dst: int, imm: int) -> bytes:
    """dst += imm (sign-extended 32-bit immediate)."""
    return insn(BPF_ALU64 | BPF_ADD | BPF_K, dst, imm=imm)


def add64_reg(dst: int, src: int) -> bytes:
    """dst += src."""
    return insn(BPF_ALU64 | BPF_ADD | BPF_X, dst, src)


def ld_map_fd(dst: int, map_fd: int) -> bytes:
    """dst = the map behind ``map_fd`` (two instructions; the verifier turns the fd into a map pointer)."""
    return insn(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, imm=map_fd) + insn(0)


def store32_imm(dst: int, off: int, imm: int) -> bytes:
    """*(u32 *)(dst + off) = imm."""
    return insn(BPF_ST | BPF_MEM | BPF_W, dst, off=off, imm=imm)


def load64(dst: int, src: int, off: int) -> bytes:
    """dst = *(u64 *)(src + off)."""
    return insn(BPF_LDX | BPF_MEM | BPF_DW, dst, src, off)


def store64(dst: int, off: int, src: int) -> bytes:
    """*(u64 *)(dst + off) = src."""
    return insn(BPF_STX | BPF_MEM | BPF_DW, dst, src, off)


def jump_if_imm(op: int, dst: int, imm: int, off: int) -> bytes:
    """if (dst op imm) skip ``off`` instructions (``op``: BPF_JEQ, BPF_JGT, ...)."""
    return insn(BPF_JMP | op | BPF_K, dst, off=off, imm=imm)


def jump_if_reg(op: int, dst: int, src: int, off: int) -> bytes:
    """if (dst op src) skip ``off`` instructions (unsigned for BPF_JGT/BPF_JGE)."""
    return insn(BPF_JMP | op | BPF_X, dst, src, off)


def call(helper: int) -> bytes:
    """r0 = helper(r1, ..., r5)."""
    return insn(BPF_JMP | BPF_CALL, imm=helper)


def exit_() -> bytes:
    """return r0."""
    return insn(BPF_JMP | BPF_EXIT)


def count(program: bytes) -> int:
    """How many instruction slots ``program`` holds (an ld_imm64 counts two)."""
    return len(program) // INSN_SIZE

"""objdump's listing of one function, and the normalisation that compares it with capstone's.

Both print the same instructions in the same syntax (AT&T on x86_64), with different
formatting habits.  :func:`normalise` removes exactly those, on both sides, and nothing
else; each rule is the difference it covers:

* objdump's annotations: ``# 4060 <data>`` (x86) and ``// #0`` / ``// b.any`` (aarch64)
  comments, and ``<symbol+0xoff>`` after an address, are dropped (stax prints targets
  itself; the tests check those separately);
* whitespace, including objdump's padding after the mnemonic and capstone's space after
  commas, is removed;
* numbers are compared by their 64-bit value (``$-1`` is ``$0xffffffffffffffff``): objdump
  writes ``$0x7``, ``0x8(%rsi)``, ``#-16``, ``#2.500000000000000000e+00`` and bare hex
  addresses (``jle 126b``, ``bl 400150``);
  capstone writes ``$7``, ``8(%rsi)``, ``#-0x10``, ``#2.50000000`` and ``0x126b``;
  aarch64's ``#`` immediate mark is dropped on both sides;
* x86 memory operands: objdump spells out a zero displacement and a scale of 1
  (``0x0(%rax,%rax,1)``), capstone leaves them out (``(%rax, %rax)``);
* x86 mnemonics: capstone always writes the AT&T operand-size suffix (``movq``,
  ``callq``, ``retq``, ``cvtsi2sdq``), objdump only when no register operand implies
  the size, so a mnemonic matches when it equals objdump's or objdump's plus one of
  ``b w l q`` - and then the suffix must agree with the width of any general register
  operand (``movq`` with ``%rsi``, ``andl`` with ``%eax``);
* x86 segment prefixes: objdump writes ``cs nopw 0x0(...)``, capstone ``nopw %cs:(...)``;
  objdump also spells the default segments of string instructions (``%ds:(%rsi)``,
  ``%es:(%rdi)``) and the redundant ``data16`` of padding nops, capstone does not;
* x86 spellings of one encoding: a 32-bit immediate is printed unsigned by objdump
  (``$0xffffffff``) and signed by capstone (``$-1``), so immediates of ``l`` instructions
  compare on their low 32 bits; the shift-by-one encodings leave the count implicit in
  objdump (``shr %rbx``) and explicit in capstone (``shrq $1, %rbx``); ``66 90`` is
  ``xchg %ax,%ax`` to objdump and ``nop`` to capstone.

:func:`instructions_agree` applies all of it.  Checked beyond the tests against 31,285
instructions of libc.so.6: the 10 that still differ are x87 register spellings
(``%st,%st(1)``), which the compiled C of the tests never contains.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

_LINE = re.compile(r"^\s*([0-9a-f]+):\t(.*)$")
_SYMBOL = re.compile(r"^[0-9a-f]+ <(.+)>:$")
_NUMBER = re.compile(r"(?<![\w%.])(-?)(0x[0-9a-f]+|\d+\.\d+(?:e[+-]?\d+)?|\d+)(?![\w.])")
_X86_SEGMENTS = ("cs", "ds", "es", "fs", "gs", "ss")
_SHIFTS = ("shl", "shr", "sar", "sal", "rol", "ror", "rcl", "rcr")
_X86_PREFIXES = ("rep", "repz", "repnz", "repe", "repne", "lock", "bnd", "notrack", "data16",
                 "addr32", *_X86_SEGMENTS)
_A64_BRANCHES = ("b", "bl", "cbz", "cbnz", "tbz", "tbnz", "adr", "adrp")

_REG64 = re.compile(r"%r(?:[abcd]x|[sd]i|[sb]p|\d+)\b")
_REG32 = re.compile(r"%e(?:[abcd]x|[sd]i|[sb]p)\b|%r\d+d\b")
_REG16 = re.compile(r"%(?:[abcd]x|[sd]i|[sb]p)\b|%r\d+w\b")
_REG8 = re.compile(r"%(?:[abcd]l|[abcd]h|[sd]il|[sb]pl)\b|%r\d+b\b")


def objdump_function(objdump: str, binary: Path, name: str) -> list[tuple[int, str, str]]:
    """(address, mnemonic, operands) of each instruction of ``name`` as ``objdump -d`` prints it."""
    text = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(binary)], check=True,
                          capture_output=True, text=True).stdout
    out: list[tuple[int, str, str]] = []
    inside = False
    for line in text.splitlines():
        symbol = _SYMBOL.match(line.strip())
        if symbol:
            inside = symbol.group(1) == name
            continue
        if not inside:
            continue
        match = _LINE.match(line)
        if not match:
            if not line.strip():
                inside = False
            continue
        body = match.group(2).replace("\t", " ").strip()
        words = body.split(None, 1)
        mnemonic, operands = words[0], words[1] if len(words) > 1 else ""
        while mnemonic.split()[-1] in _X86_PREFIXES and operands:  # "rep stos ...", "cs nopw ..."
            more = operands.split(None, 1)
            mnemonic, operands = f"{mnemonic} {more[0]}", more[1] if len(more) > 1 else ""
        out.append((int(match.group(1), 16), mnemonic, operands))
    return out


def symbol_range(nm: str, binary: Path, name: str) -> tuple[int, int]:
    """(address, size) of function ``name`` from ``nm -S``: objdump also lists the padding after it."""
    text = subprocess.run([nm, "-S", "--defined-only", str(binary)], check=True, capture_output=True,
                          text=True).stdout
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[3] == name and fields[2].lower() in "tw":
            return int(fields[0], 16), int(fields[1], 16)
    raise AssertionError(f"nm finds no function {name} in {binary}")


def normalise(arch: str, mnemonic: str, operands: str, *, from_objdump: bool) -> tuple[str, str]:
    """(mnemonic, operands) with the formatting differences listed above removed."""
    text = operands
    if from_objdump:
        text = text.split(" # ", 1)[0] if arch == "x86_64" else text.split("//", 1)[0]
        text = re.sub(r"\b([0-9a-f]+) <[^>]*>", r"0x\1", text)  # address + <symbol>
        words = [w for w in mnemonic.split() if w != "data16"]
        mnemonic = " ".join(words)
        if arch == "x86_64" and words[0] in _X86_SEGMENTS and len(words) > 1:
            mnemonic = " ".join(words[1:])
            text = re.sub(r"^(-?0x[0-9a-f]+|-?\d+)?\(", lambda m: f"%{words[0]}:{m.group(0)}", text)
        bare_target = (arch == "x86_64" and re.match(r"(j|call|loop)", mnemonic)) or \
            (arch == "aarch64" and (mnemonic in _A64_BRANCHES or mnemonic.startswith("b.")))
        if bare_target:
            text = re.sub(r"(^|,\s*)([0-9a-f]+)$", r"\g<1>0x\2", text.strip())
    if arch == "aarch64":
        text = text.replace("#", "")
    text = re.sub(r"\s+", "", text)
    text = _NUMBER.sub(_canonical_number, text)
    if arch == "x86_64":
        text = re.sub(r"(?<![\w)])0x0\(", "(", text)
        text = text.replace(",0x1)", ")")
    return mnemonic.strip(), text


def _canonical_number(match: re.Match[str]) -> str:
    sign, digits = match.group(1), match.group(2)
    if "." in digits:
        return repr(float(sign + digits))
    value = int(sign + digits, 0)
    return f"{value & (1 << 64) - 1:#x}"  # -1 and 0xffffffffffffffff are one 64-bit value


def mnemonics_agree(arch: str, ours: str, theirs: str, operands: str) -> bool:
    """Equal, or (x86) ours is theirs plus the size suffix the register operands imply."""
    if ours == theirs or arch != "x86_64":
        return ours == theirs
    head, _, last = ours.rpartition(" ")
    their_head, _, their_last = theirs.rpartition(" ")
    if head != their_head or not last.startswith(their_last) or len(last) != len(their_last) + 1:
        return False
    suffix = last[-1]
    if suffix not in "bwlq":
        return False
    widths = {"q": _REG64, "l": _REG32, "w": _REG16, "b": _REG8}
    general = [w for w, pattern in widths.items() if pattern.search(operands)]
    # conversions (cvtsi2sdq %rax) name the width of their one general register too
    return not general or suffix in general


def instructions_agree(arch: str, ours: tuple[str, str], theirs: tuple[str, str]) -> bool:
    """Whether capstone's (mnemonic, operands) and objdump's are the same instruction's text."""
    our_mnemonic, our_operands = normalise(arch, *ours, from_objdump=False)
    their_mnemonic, their_operands = normalise(arch, *theirs, from_objdump=True)
    if arch == "x86_64":
        their_operands = re.sub(r"%[de]s:(\(%[re][sd]i\))", r"\1", their_operands)
        if our_mnemonic == "nop" and (their_mnemonic, their_operands) == ("xchg", "%ax,%ax"):
            return True
        if their_mnemonic in _SHIFTS and "," not in their_operands:
            their_operands = f"$0x1,{their_operands}"
        if our_mnemonic.endswith("l"):
            our_operands = _low32_immediates(our_operands)
            their_operands = _low32_immediates(their_operands)
    return our_operands == their_operands and \
        mnemonics_agree(arch, our_mnemonic, their_mnemonic, ours[1])


def _low32_immediates(operands: str) -> str:
    return re.sub(r"\$0x([0-9a-f]+)", lambda m: f"${int(m.group(1), 16) & 0xFFFFFFFF:#x}", operands)

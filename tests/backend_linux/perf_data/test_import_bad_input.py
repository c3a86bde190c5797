"""Bad perf.data files: one sentence, a non-zero exit, no traceback; a counted skip where the
rest of the file is good.  Each file is a real perf recording, damaged the way files are."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from tests.backend_linux.perf_data.conftest import perf, perf_record
from tests.cli.conftest import stax

pytestmark = pytest.mark.slow
HEADER = struct.Struct("<8sQQQQQQ")  # magic, size, attr_size, attrs (offset, size), data (offset, size)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory, perf_workloads: dict[str, Path]) -> Path:
    """-m 16: 64 KiB rings, drained many times, so the file has many rounds (FINISHED_ROUND)."""
    return perf_record(
        tmp_path_factory.mktemp("good") / "perf.data", "-m", "16", "-g", str(perf_workloads["hotspots"]), "1"
    )


def refused(path: Path, out: Path) -> str:
    """stax import's stderr for a file it must refuse; no recording is left behind."""
    result = stax("import", str(path), "-o", str(out), check=False)
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not out.exists()
    return result.stderr.strip()


def records(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, type, size) of every record of the data section."""
    _m, _s, _a, _ao, _as, offset, size = HEADER.unpack_from(data)
    out, at = [], offset
    while at < offset + size:
        rtype, _misc, rsize = struct.unpack_from("<IHH", data, at)
        out.append((at, rtype, rsize))
        at += rsize
    return out


def sample_count(perf_data: Path) -> int:
    """perf's own count: one ``perf script`` line per sample."""
    return len(perf("script", "-F", "tid", "-i", str(perf_data)).stdout.splitlines())


def test_truncated_file(good: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.data"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert re.fullmatch(
        r"stax: .*cut\.data is truncated: its data section runs to byte [\d,]+ but the file has "
        r"[\d,]+ bytes; copy it again, or record it again\.",
        refused(cut, tmp_path / "r.stax"),
    )


def test_file_cut_inside_the_header(good: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.data"
    cut.write_bytes(good.read_bytes()[:50])
    assert refused(cut, tmp_path / "r.stax").endswith(
        "cut.data is truncated: it ends inside the perf.data header (50 of 104 bytes); copy the file again."
    )


def test_wrong_magic(good: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.data"
    other.write_bytes(b"PERFILX2" + good.read_bytes()[8:])
    assert (
        "other.data is not a trace stax can import: no installed importer recognises its contents"
        in refused(other, tmp_path / "r.stax")
    )


def test_damaged_header(good: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.data"
    raw = bytearray(good.read_bytes())
    raw[8:16] = struct.pack("<Q", 4242)
    bad.write_bytes(bytes(raw))
    assert refused(bad, tmp_path / "r.stax").endswith(
        "bad.data has a damaged or unknown perf.data header (it gives a header size of 4242 bytes, not 104); "
        "record it again with a current perf."
    )


def test_big_endian_file_is_named(good: Path, tmp_path: Path) -> None:
    bad = tmp_path / "be.data"
    bad.write_bytes(b"2ELIFREP" + good.read_bytes()[8:])
    assert refused(bad, tmp_path / "r.stax").endswith(
        "be.data was recorded on a big-endian machine, which stax does not import; convert it there with "
        "'perf script' or import a little-endian recording."
    )


def test_unknown_record_types_are_counted_and_skipped(good: Path, tmp_path: Path) -> None:
    raw = bytearray(good.read_bytes())
    patched = 0
    for at, rtype, _size in records(bytes(raw)):
        if rtype == 68 and patched < 2:  # FINISHED_ROUND: no payload, so any type fits
            raw[at : at + 4] = struct.pack("<I", 99 + patched)
            patched += 1
    assert patched == 2
    odd = tmp_path / "odd.data"
    odd.write_bytes(bytes(raw))
    rec = tmp_path / "odd.stax"
    result = stax("import", str(odd), "-o", str(rec))
    assert re.search(
        r"Skipped (.*, )?1 unknown type 99, 1 unknown type 100(, .*)? \(stax does not use them\)\.",
        result.stderr,
    ), result.stderr
    assert f"imported {sample_count(good):,} samples" in result.stderr


def test_killed_perf_record_imports_what_is_there(good: Path, tmp_path: Path) -> None:
    """perf killed: the header was never rewritten (data size 0) and the file ends mid-record."""
    raw = bytearray(good.read_bytes())
    data_at, data_size = struct.unpack_from("<QQ", raw, 40)
    raw[48:56] = struct.pack("<Q", 0)
    half = next(
        at for at, rtype, _ in records(good.read_bytes()) if rtype == 9 and at > data_at + data_size // 2
    )
    killed = tmp_path / "killed.data"
    killed.write_bytes(bytes(raw[: half + 20]))  # 20 bytes into a sample
    result = stax("import", str(killed), "-o", str(tmp_path / "killed.stax"))
    assert (
        "The header of killed.data gives no data size (perf record did not finish), so records were read "
        "up to the end of the file." in result.stderr
    )
    assert (
        f"The data of killed.data ends inside a record at byte {half:,} (the file was cut short or perf "
        "record was killed); the records before it were imported." in result.stderr
    )
    imported = int(re.search(r"imported ([\d,]+) samples", result.stderr)[1].replace(",", ""))
    assert 0 < imported < sample_count(good)


def test_damaged_compressed_records(tmp_path: Path, perf_workloads: dict[str, Path]) -> None:
    """``perf record -z`` data whose zstd bytes were damaged: one sentence, not a zstd traceback."""
    data = perf_record(tmp_path / "z.data", "-z", "-g", str(perf_workloads["hotspots"]), "0.3")
    raw = bytearray(data.read_bytes())
    at = _first_record(raw, 81)  # PERF_RECORD_COMPRESSED: the zstd frame starts after its header
    raw[at + 8 : at + 12] = b"\xff\xff\xff\xff"  # not a zstd frame's magic
    damaged = tmp_path / "damaged.data"
    damaged.write_bytes(bytes(raw))
    message = refused(damaged, tmp_path / "r.stax")
    assert message.startswith(
        f"stax: {damaged} holds compressed records (perf record -z) that do not inflate: "
    )
    assert message.endswith("; copy the file again, or record it again.")


def _first_record(raw: bytearray, rtype: int) -> int:
    """Byte offset of the first record of ``rtype`` in the data section."""
    _magic, _size, _attr_size, _ao, _as, data_off, data_size = HEADER.unpack_from(raw)
    off = data_off
    while off < data_off + data_size:
        kind, _misc, size = struct.unpack_from("<IHH", raw, off)
        if kind == rtype:
            return off
        off += size
    raise AssertionError(f"no record of type {rtype}")


def test_unwritable_output(good: Path, tmp_path: Path) -> None:
    out = tmp_path / "missing-dir" / "r.stax"
    assert (
        refused(good, out)
        == f"stax: Cannot create {out} (No such file or directory); choose another -o path."
    )


def test_another_kernel_is_named(good: Path, tmp_path: Path) -> None:
    """HEADER_BUILD_ID's kernel build id differs from this host's: kernel names may be wrong, said once."""
    raw = bytearray(good.read_bytes())
    name = raw.rindex(b"[kernel.kallsyms]\0")
    build_id = slice(name - 24, name - 4)  # pid, build_id[20], size, reserved, then the name
    raw[build_id] = bytes(20 - len(b"other")) + b"other"
    other = tmp_path / "other-kernel.data"
    other.write_bytes(bytes(raw))
    result = stax("import", str(other), "-o", str(tmp_path / "other.stax"))
    assert re.search(
        r"stax: The file was recorded on another kernel \(build id 0+6f74686572, this host runs "
        r"[0-9a-f]{40}\): kernel frames are named from this host's /proc/kallsyms and may be wrong; "
        r"import it on the machine that recorded it for kernel names\.",
        result.stderr,
    ), result.stderr
    same = stax("import", str(good), "-o", str(tmp_path / "same.stax"))
    assert "another kernel" not in same.stderr

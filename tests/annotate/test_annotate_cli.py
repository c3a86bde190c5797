"""``stax annotate`` on synthesized recordings: bad input is one sentence, old recordings still show
counts per address, and ``stax render`` refuses the annotate renderer with the command to use."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from stax.events import ImageLoad, Sample, ThreadName
from stax.recording.writer import RecordingBuilder
from tests.annotate.conftest import stax
from tests.backend_linux.off_cpu.synthetic_off_cpu import write_nap_recording
from tests.render.synthetic_recording import write_recording


def one_sentence(proc, status: int, text: str) -> None:
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [f"stax: {text}"], proc.stderr


@pytest.fixture(scope="module")
def old(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Named frames in /usr/bin/prog, which does not exist, and no code tables."""
    return write_recording(tmp_path_factory.mktemp("old") / "old.stax",
                           [("main;work;compute", 60), ("main;work", 30), ("main;parse", 10)])


def test_an_old_recording_shows_samples_per_address(old: Path) -> None:
    document = json.loads(stax("annotate", str(old), "-n", "-1", "--json").stdout)
    assert [(f["name"], f["count"]) for f in document["functions"]] == [
        ("compute", 60), ("work", 30), ("parse", 10)]
    for function in document["functions"]:
        assert function["code_origin"] is None and function["code_status"] == "not-kept"
        assert function["note"] == (
            f"The code of {function['name']} was not kept in {old}, which was recorded without"
            " keeping code, and /usr/bin/prog no longer exists; only samples per address are shown.")
        assert sum(i["count"] for i in function["instructions"]) == function["count"]


def test_unknown_function(old: Path) -> None:
    one_sentence(stax("annotate", str(old), "nope", check=False), 1,
                 f"{old} has no samples in a function named 'nope'; `stax annotate {old}` shows the"
                 " hottest functions.")


def test_a_part_of_a_name_is_matched_as_callers_matches_it(old: Path) -> None:
    """One helper (stax.analysis.function_match) for annotate, callers and callees: a part of one
    function's name is that function; a part several share is one sentence listing them."""
    document = json.loads(stax("annotate", str(old), "comp", "--json").stdout)
    assert [(f["name"], f["count"]) for f in document["functions"]] == [("compute", 60)]
    sentence = "'o' matches 2 functions (compute; work); give the whole name."
    one_sentence(stax("annotate", str(old), "o", check=False), 2, sentence)
    one_sentence(stax("callers", str(old), "o", check=False), 2, sentence)


def test_unknown_image(old: Path) -> None:
    one_sentence(stax("annotate", str(old), "--image", "libnope.so", check=False), 1,
                 f"No function of image 'libnope.so' has samples in {old}; run `stax top {old}` to"
                 " see the images.")


def test_bad_address(old: Path) -> None:
    one_sentence(stax("annotate", str(old), "--address", "0xzz", check=False), 2,
                 "'0xzz' is not an address; give --address in hex, e.g. --address 0x1240.")


def test_off_cpu_without_off_cpu_data(old: Path) -> None:
    proc = stax("annotate", str(old), "--off-cpu", check=False)
    assert proc.returncode == 1 and "has no off-CPU data" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_selection_that_matches_nothing(old: Path) -> None:
    one_sentence(stax("annotate", str(old), "--tid", "9999", check=False), 1,
                 f"No samples in named functions in {old} match --tid 9999; run `stax top {old}`"
                 " without filters to see which threads were recorded.")


def test_missing_recording(tmp_path: Path) -> None:
    proc = stax("annotate", str(tmp_path / "none.stax"), check=False)
    assert proc.returncode == 1 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_off_cpu_ranks_where_threads_left_user_code(tmp_path: Path) -> None:
    rec = write_nap_recording(tmp_path / "nap.stax")
    document = json.loads(stax("annotate", str(rec), "--off-cpu", "-n", "-1", "--json").stdout)
    assert [f["name"] for f in document["functions"]] == ["clock_nanosleep"]
    assert document["functions"][0]["weight"] == 10 * 100_000_000
    by_name = json.loads(stax("annotate", str(rec), "main", "--off-cpu", "--json").stdout)
    assert by_name["functions"][0]["weight"] == 10 * 100_000_000


def test_render_refuses_the_annotate_renderer(old: Path) -> None:
    one_sentence(stax("render", str(old), "--format", "annotate", check=False), 2,
                 f"Renderer 'annotate' draws annotations, not profiles; use `stax annotate {old}`.")


def test_an_unfinished_recording_is_one_sentence(tmp_path: Path) -> None:
    """A killed recorder left frames unnamed: nothing can be annotated, and annotate says why."""
    path = tmp_path / "partial.stax"
    builder = RecordingBuilder(path)
    builder.consume([ImageLoad(0, 100, 0x400000, 0x500000, 0, "/usr/bin/prog"),
                     ThreadName(0, 100, 100, "prog")])
    builder.consume([Sample(i, 100, 100, 0, 1000, (), (0x401000,)) for i in range(1, 50)])
    builder.commit()
    builder.db.close()  # what kill -9 leaves: the last commit
    one_sentence(stax("annotate", str(path), check=False), 1,
                 f"{path} is an incomplete recording (stax record did not finish it), so its frames"
                 " were never named and no function can be annotated; record it again.")


def test_an_unfinished_recording_with_names_says_so(old: Path, tmp_path: Path) -> None:
    path = tmp_path / "old-incomplete.stax"
    shutil.copy(old, path)
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('state', '\"recording\"')")
    db.close()
    text = stax("annotate", str(path), "compute")
    assert text.stderr.startswith("stax: incomplete recording: stax record was killed")
    assert "## compute" in text.stdout
    document = json.loads(stax("annotate", str(path), "compute", "--json").stdout)
    assert document["incomplete"].startswith("incomplete recording:")

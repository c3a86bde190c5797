"""A real recording of a known hot loop, annotated: counts, the loop, objdump, source, off-CPU."""

from __future__ import annotations

import json

import pytest

from tests.annotate.conftest import Recorded, blocked_ns_through, function_self_samples, stax
from tests.annotate.objdump_listing import instructions_agree, objdump_function, symbol_range


def annotate_json(recorded: Recorded, *args: str) -> dict:
    return json.loads(stax("annotate", str(recorded.recording), *args, "--json").stdout)


def only_function(document: dict, name: str) -> dict:
    functions = [f for f in document["functions"] if f["name"] == name]
    assert len(functions) == 1, [f["name"] for f in document["functions"]]
    return functions[0]


def test_counts_sum_exactly_to_the_functions_self_samples(recorded: Recorded) -> None:
    function = only_function(annotate_json(recorded, "hot_loop"), "hot_loop")
    expected = function_self_samples(recorded.recording, "hot_loop")
    assert expected > 500, "too few samples in hot_loop to judge"
    assert function["count"] == expected
    assert sum(i["count"] for i in function["instructions"]) == expected
    assert function["unattributed_count"] == 0
    assert function["code_origin"] == "recording"
    assert abs(sum(i["percent"] for i in function["instructions"]) - 100.0) < 1e-6


def test_the_loop_holds_most_of_the_samples(recorded: Recorded) -> None:
    function = only_function(annotate_json(recorded, "hot_loop"), "hot_loop")
    instructions = function["instructions"]
    # the inner loop: from the target of the first backward branch to that branch
    back = next(i for i in instructions if i["kind"] == "branch" and i["target"] is not None
                and i["target"] < i["address"])
    loop = [i for i in instructions if back["target"] <= i["address"] <= back["address"]]
    assert len(loop) >= 4
    in_loop = sum(i["count"] for i in loop)
    assert in_loop >= 0.8 * function["count"], (in_loop, function["count"])
    assert back["target_label"] == f"hot_loop+{back['target'] - function['address']:#x}"
    # the hot instructions are marked, and their source lines are the LOOP lines
    hot = [i for i in instructions if i["hot"]]
    assert hot and all(i["percent"] >= 5.0 for i in hot)
    assert all("LOOP" in (i["source"]["text"] or "") for i in hot), hot
    assert "LOOP" in function["hottest_lines"][0]["text"]


@pytest.mark.parametrize("name", ["hot_loop", "nap_once", "nap_loop"])
def test_every_instruction_matches_objdump(recorded: Recorded, name: str) -> None:
    start, size = symbol_range("nm", recorded.twin, name)
    theirs = [row for row in objdump_function("objdump", recorded.twin, name)
              if row[0] < start + size]  # objdump goes on into the padding after the symbol
    assert theirs, f"objdump has no {name}"
    document = json.loads(stax("annotate", str(recorded.recording), name, "--json",
                               *(["--off-cpu"] if name.startswith("nap") else [])).stdout)
    function = only_function(document, name)
    assert (function["address"], function["size"]) == (start, size)
    ours = function["instructions"]
    assert [i["address"] for i in ours] == [address for address, _, _ in theirs]
    for insn, (address, mnemonic, operands) in zip(ours, theirs, strict=True):
        assert instructions_agree("x86_64", (insn["mnemonic"], insn["operands"]), (mnemonic, operands)), \
            (hex(address), insn["mnemonic"], insn["operands"], mnemonic, operands)


def test_calls_name_their_target(recorded: Recorded) -> None:
    function = only_function(annotate_json(recorded, "nap_loop", "--off-cpu"), "nap_loop")
    calls = [i for i in function["instructions"] if i["kind"] == "call"]
    assert [c["target_label"] for c in calls] == ["nap_once"]


def test_text_interleaves_source_and_marks_the_hot_loop(recorded: Recorded) -> None:
    text = stax("annotate", str(recorded.recording), "hot_loop").stdout
    lines = text.splitlines()
    assert lines[0].startswith("## hot_loop ") and "(x86_64)" in lines[0]
    assert "code kept in the recording" in lines[1]
    assert any(line.startswith("# hottest lines: hot_loop.c:") for line in lines)
    assert any("hot_loop.c:" in line and "LOOP" in line for line in lines)  # source text
    marked = [line for line in lines if line.startswith(">")]
    assert marked and all("%" in line for line in marked)
    assert any("<hot_loop+0x" in line for line in lines)  # a branch target
    assert "-- inlined scale" in text  # scale() is inlined into the loop


def test_without_a_function_the_hottest_come_in_turn(recorded: Recorded) -> None:
    document = annotate_json(recorded, "-n", "2")
    assert len(document["functions"]) == 2
    assert document["functions"][0]["name"] == "hot_loop"
    assert document["functions"][0]["count"] >= document["functions"][1]["count"]


def test_address_and_image_select_the_function(recorded: Recorded) -> None:
    start = only_function(annotate_json(recorded, "hot_loop"), "hot_loop")["address"]
    by_address = annotate_json(recorded, "--address", f"{start + 0x10:#x}")
    assert [f["name"] for f in by_address["functions"]] == ["hot_loop"]
    in_image = annotate_json(recorded, "--image", recorded.binary.name, "-n", "-1")
    assert {f["image"] for f in in_image["functions"]} == {str(recorded.binary)}


def test_off_cpu_weights_the_blocking_syscall_by_blocked_time(recorded: Recorded) -> None:
    spans, blocked = blocked_ns_through(recorded.recording, "nap_once")
    assert spans >= 10 and blocked >= 50_000_000, "the naps were not recorded as blocked"
    function = only_function(annotate_json(recorded, "nap_once", "--off-cpu"), "nap_once")
    assert function["weight"] == blocked and function["count"] == spans
    (syscall,) = [i for i in function["instructions"] if i["weight"]]
    assert syscall["mnemonic"] == "syscall" and syscall["count"] == spans
    assert syscall["percent"] == pytest.approx(100.0)


def test_off_cpu_weights_the_call_site_in_the_caller(recorded: Recorded) -> None:
    spans, blocked = blocked_ns_through(recorded.recording, "nap_loop")
    function = only_function(annotate_json(recorded, "nap_loop", "--off-cpu"), "nap_loop")
    assert function["weight"] == blocked > 0
    (call,) = [i for i in function["instructions"] if i["weight"]]
    assert call["kind"] == "call" and call["target_label"] == "nap_once"
    assert call["weight"] == blocked and call["count"] == spans
    text = stax("annotate", str(recorded.recording), "nap_loop", "--off-cpu").stdout
    assert "blocked ms" in text and "ms blocked in" in text.splitlines()[1]

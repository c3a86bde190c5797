"""``stax top --sort/--by`` and ``stax callers/callees`` on a real recording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.analysis.conftest import needs_root, stax, stax_json

pytestmark = [needs_root, pytest.mark.root]

OPERATOR = "geo::Vec<double>::operator+(geo::Vec<double> const&) const"
DOT = "double geo::dot<double>(geo::Vec<double> const&, geo::Vec<double> const&)"
LAMBDA = "main::{lambda(int)#1}::operator()(int) const"


def _rows(rec: Path, *flags: str) -> list[dict]:
    return stax_json("top", str(rec), "-n", "-1", *flags)["functions"]


def test_sort_orders(cxx_rec: Path) -> None:
    by_self = _rows(cxx_rec)
    assert by_self[0]["function"] == DOT  # ~45% of the samples in its own code
    by_total = _rows(cxx_rec, "--sort", "total")
    totals = [f["total"] for f in by_total]
    samples = stax_json("top", str(cxx_rec))["samples"]
    assert totals == sorted(totals, reverse=True) and totals[0] >= 0.98 * samples  # the outermost frame
    assert by_total[0]["self"] <= 0.01 * samples  # the outermost frame: everything passes through it
    by_samples = [f["self"] for f in _rows(cxx_rec, "--sort", "samples")]
    assert by_samples == sorted(by_samples, reverse=True)


def test_by_image_file_comm_thread(cxx_rec: Path) -> None:
    samples = stax_json("top", str(cxx_rec))["samples"]
    images = {f["function"]: f for f in _rows(cxx_rec, "--by", "image")}
    assert images["cxx_names"]["self"] > samples / 2
    assert sum(f["self"] for f in images.values()) == samples
    files = {f["function"] for f in _rows(cxx_rec, "--by", "file")}
    assert any(name.endswith("cxx_names.cpp") for name in files)
    (comm,) = _rows(cxx_rec, "--by", "comm")
    assert comm["function"] == "cxx_names" and comm["self"] == comm["total"] == samples
    (thread,) = _rows(cxx_rec, "--by", "thread")
    assert thread["function"].startswith("cxx_names-")
    text = stax("top", str(cxx_rec), "--by", "image").stdout
    assert "  image\n" in text and "[.] cxx_names" in text


def test_callers_and_callees(cxx_rec: Path) -> None:
    top = {f["function"]: f for f in _rows(cxx_rec)}
    callers = json.loads(stax("callers", str(cxx_rec), "operator+", "--json").stdout)
    assert callers["function"] == OPERATOR
    root = callers["tree"]
    assert root["samples"] == top[OPERATOR]["total"]
    # main, but for the few samples taken before operator+ pushed its frame pointer (its
    # caller's caller then shows instead): the children hold every sample, main most
    assert root["children"][0]["function"] == "main"
    assert root["children"][0]["samples"] >= 0.9 * root["samples"]
    assert sum(c["samples"] for c in root["children"]) == root["samples"]
    callees = json.loads(stax("callees", str(cxx_rec), "main", "--json").stdout)["tree"]
    assert callees["samples"] == top["main"]["total"] and callees["self"] == top["main"]["self"]
    children = {c["function"]: c for c in callees["children"]}
    assert {OPERATOR, DOT, LAMBDA} <= set(children)
    assert children[DOT]["samples"] >= 0.9 * top[DOT]["total"]
    text = stax("callees", str(cxx_rec), "main", "-d", "1").stdout
    assert text.splitlines()[0].endswith("callees of main")
    assert f"    [.] {DOT}" in text


def test_callers_of_an_unknown_or_ambiguous_name(cxx_rec: Path) -> None:
    proc = stax("callers", str(cxx_rec), "geo", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("stax: 'geo' matches 2 functions (")
    proc = stax("callers", str(cxx_rec), "no_such_function", check=False)
    assert proc.returncode == 1
    assert proc.stderr == (f"stax: No function named 'no_such_function' has samples in {cxx_rec};"
                           f" `stax top {cxx_rec}` lists the functions that do.\n")
    # the mangled name finds the same function
    raw = json.loads(stax("callers", str(cxx_rec), "_ZNK3geo3VecIdEplERKS1_", "--json").stdout)
    assert raw["function"] == OPERATOR

"""The model zoo's committed files (fixtures/zoo/models) against their recorded truth.

* graphcheck is never unsound on them: at every recorded size ``accepts`` is None or the hand
  truth (ONNX spec), and ``ort_accepts`` is None or what onnxruntime did;
* the models in ``zoo.EXPECTED_EXACT`` stay exact (``r.exact`` and a definite, right answer at
  every recorded size); those in ``zoo.EXPECTED_PROVEN_BELOW`` are solved, proven up to the stated
  bound (float32 shape arithmetic) and right at every recorded size;
* the recorded truth is itself re-checked: onnxruntime runs each model again at the sizes where
  the recorded verdict flips (its boundaries), in one worker subprocess.

Needs onnx and onnxruntime only (the zoo's builders import torch / transformers / keras lazily);
large models (fixtures/zoo/out, gitignored) are bench/zoo.py's business, not the suite's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import graphcheck

ZOO_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "zoo"
sys.path.insert(0, str(ZOO_DIR))

import probe  # noqa: E402
import zoo  # noqa: E402


def _truth(name: str) -> dict[str, Any]:
    return json.loads((ZOO_DIR / "truth" / f"{name}.json").read_text())


COMMITTED = sorted(
    e.name
    for e in zoo.ZOO.values()
    if not e.large
    and (ZOO_DIR / "models" / f"{e.name}.onnx").exists()
    and (ZOO_DIR / "truth" / f"{e.name}.json").exists()
)


def _sizes(truth: dict[str, Any], at: list[int]) -> dict[str, int]:
    d = dict(zip(truth["sizes"], at))
    if "B" in truth["dims"].values():
        d["B"] = truth["batch"]
    return d


def test_zoo_is_committed() -> None:
    """Every small model of the registry is committed with its truth (and the truth agrees with its predicate)."""
    small = sorted(e.name for e in zoo.ZOO.values() if not e.large)
    assert COMMITTED == small
    assert len({e.arch for e in zoo.ZOO.values()}) >= 25
    for name in zoo.ZOO:
        t = _truth(name)
        assert t["disagreements"] == 0, name
        e = zoo.ZOO[name]
        for rec in t["probes"]:
            assert rec["spec"] == e.valid(*rec["at"]), (name, rec)
            assert rec["ok"] == e.ort_ok(*rec["at"]), (name, rec)
    assert set(zoo.EXPECTED_EXACT) | set(zoo.EXPECTED_PROVEN_BELOW) <= set(zoo.ZOO)


@pytest.mark.parametrize("name", COMMITTED)
def test_zoo_sound(name: str) -> None:
    truth = _truth(name)
    r = graphcheck.check(ZOO_DIR / "models" / f"{name}.onnx", dims=truth["dims"])
    wrong = []
    undecided = 0
    for rec in truth["probes"]:
        sizes = _sizes(truth, rec["at"])
        got = r.accepts(sizes)
        got_ort = r.ort_accepts(sizes)
        if got is not None and got != rec["spec"]:
            wrong.append(("spec", rec["at"], got, rec["spec"]))
        if got_ort is not None and got_ort != rec["ok"]:
            wrong.append(("ort", rec["at"], got_ort, rec["ok"], rec.get("error", "ran")))
        undecided += (got is None) + (got_ort is None)
    assert not wrong, f"{name}: graphcheck contradicts the truth at {len(wrong)} size(s), first {wrong[:5]}"
    if name in zoo.EXPECTED_EXACT:
        assert r.exact, f"{name} is expected exact: {r.valid}"
        assert undecided == 0, f"{name} is expected exact but {undecided} answers are None"
    if name in zoo.EXPECTED_PROVEN_BELOW:  # exact up to a stated bound (float32 shape arithmetic)
        assert r.followed and r.solution.exact, f"{name}: {r.valid}"
        assert r.uncovered and r.uncovered[0][1] == zoo.EXPECTED_PROVEN_BELOW[name], r.valid
        assert undecided == 0, f"{name} is expected exact below its bound but {undecided} answers are None"


def _boundaries(truth: dict[str, Any], limit: int = 4) -> list[dict[str, Any]]:
    """Recorded probes where onnxruntime's verdict differs from the previous probe's (same other sizes)."""
    recs = truth["probes"]
    picked: list[dict[str, Any]] = []
    for prev, cur in zip(recs, recs[1:]):
        if prev["ok"] != cur["ok"] and prev["at"][:-1] == cur["at"][:-1]:
            for r in (prev, cur):
                if r not in picked:
                    picked.append(r)
        if len(picked) >= limit:
            break
    if not picked:  # no flip (every size valid, or none): one recorded probe of each kind
        picked = [recs[0], recs[-1]]
    return picked[:limit]


def test_zoo_truth_reprobed() -> None:
    """onnxruntime still does what the truth files say at each committed model's boundaries."""
    jobs, expect = [], []
    for name in COMMITTED:
        e, truth = zoo.ZOO[name], _truth(name)
        for rec in _boundaries(truth):
            jobs.append(
                {
                    "model": str(ZOO_DIR / "models" / f"{name}.onnx"),
                    "shapes": e.inputs(*rec["at"]),
                    "fill": e.fill_at(*rec["at"]),
                    "empty_ok": list(e.empty_ok),
                }
            )
            expect.append((name, rec))
    results = probe.run_many(jobs)
    wrong = [
        (name, rec["at"], rec["ok"], res.get("error", "ran"))
        for (name, rec), res in zip(expect, results)
        if bool(res["ok"]) != rec["ok"]
    ]
    assert len(results) == len(jobs)
    assert not wrong, f"onnxruntime no longer matches the recorded truth: {wrong[:5]}"

"""Differential tests: every fixture model (real Keras/tf2onnx and PyTorch exports) run in
onnxruntime at every size from 1 to past the last change of our valid set, plus random large
sizes; ``report.accepts`` must agree at each.

Where onnxruntime deviates from the spec (pools truncating toward zero), the spec answer is
asserted by the analysis and the ORT behaviour by the ``semantics="ort"`` analysis; both
must be consistent with what ORT did.
"""

from __future__ import annotations

import random
from pathlib import Path

import onnx
import pytest

import graphcheck
from graphcheck.report.report import Report
from graphcheck.symbolic.intset import MAXDIM
from tests.ortprobe import expose_all, probe

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted((ROOT / "fixtures").glob("*.onnx"))
CAP = 3200  # probe every size up to here at most (whisper's frames need ~3000)


def last_change(rep: Report, name: str) -> int:
    vs = rep.valid_set(name)
    if vs is None:
        return 64
    last = 1
    for ivs in vs.classes.values():
        for lo, hi in ivs:
            last = max(last, lo)
            if hi < MAXDIM - vs.period:
                last = max(last, hi)
    return last + 2 * vs.period


def probe_points(rep: Report, rnd: random.Random) -> list[dict[str, int]]:
    base = rep.smallest() or {}
    free = {s.name for s in rep.solution.free}
    base = {k: (2 if k in free else v) for k, v in base.items()}
    points: list[dict[str, int]] = []
    for name in rep.symbols:
        # every size from 1 to past the last change (at least 100 sizes), then random large ones;
        # a size claimed free ("any >= 1") is probed the same way
        top = min(max(last_change(rep, name), 100 if name not in free else 12), CAP)
        values = list(range(1, top + 1)) + [rnd.randint(top + 1, top * 4 + 400) for _ in range(4)]
        points.extend({**base, name: v} for v in values)
    if len(rep.symbols) >= 2:  # move the coupled sizes together too
        others = [n for n in rep.symbols if n not in free]
        if len(others) >= 2:
            top = min(max(last_change(rep, n) for n in others), 200)
            points.extend({**base, **{n: v for n in others}} for v in range(1, top + 1))
    return points


def input_shapes(rep: Report, point: dict[str, int]) -> dict[str, tuple[int, ...]]:
    env = {rep.analysis.symbol(k): v for k, v in point.items()}
    out = {}
    for name, shape in rep.analysis.input_shapes.items():
        assert shape is not None
        out[name] = tuple(d.evaluate(env) for d in shape)
    return out


@pytest.mark.skipif(not FIXTURES, reason="no fixtures generated")
@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_agrees_with_onnxruntime(path: Path) -> None:
    rep = graphcheck.check(path)
    assert rep.complete, [d.message for d in rep.diagnostics if d.code.startswith("GC1")]
    assert rep.exact, rep.valid
    ortrep = rep.ort_report
    rnd = random.Random(path.stem)
    points = probe_points(rep, rnd)
    model = expose_all(onnx.load(str(path)))  # every node output visible: empty intermediates count
    results = probe(model, [input_shapes(rep, p) for p in points])
    agree = 0
    for p, r in zip(points, results):
        ours = rep.accepts(p)
        theirs = ortrep.accepts(p)
        assert theirs == r.nonempty, (p, r, ortrep.at(p).first_failure)
        if ours != theirs:
            assert any(d.code == "GC106" for d in rep.diagnostics), p  # a documented deviation
        if r.ok and theirs:
            got = ortrep.at(p).outputs
            for (name, shape), actual in zip(got.items(), r.shapes):
                assert shape == actual, (p, name, shape, actual)
        env = {rep.analysis.symbol(k): v for k, v in p.items()}
        assert rep.solution.contains(env) == ours, (p, rep.valid)
        agree += 1
    assert agree == len(points) > 0

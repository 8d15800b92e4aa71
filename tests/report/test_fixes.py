"""Fix suggestions: each is verified by re-analysis, and here also applied to the ONNX model and
run in onnxruntime at the size that failed before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import graphcheck
from graphcheck.report.fixes import Fix
from tests.models import conv_stack
from tests.ortprobe import expose_all, probe_many

FIX = Path(__file__).resolve().parents[2] / "fixtures"


def apply_fix(model: onnx.ModelProto, fix: Fix) -> onnx.ModelProto:
    """The ONNX-level change a fix stands for: the node's new attributes (and a smaller weight)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    node = next(n for n in m.graph.node if n.name == fix.node)
    del node.attribute[:]
    node.attribute.extend(helper.make_attribute(k, v) for k, v in fix.onnx_attrs.items())
    if fix.weight_dims is not None:
        idx = next(i for i, t in enumerate(m.graph.initializer) if t.name == node.input[1])
        old = numpy_helper.to_array(m.graph.initializer[idx])
        new = old[tuple(slice(0, d) for d in fix.weight_dims)]
        m.graph.initializer[idx].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(new), node.input[1]))
    return m


def input_shapes(model: onnx.ModelProto, sizes: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """Each graph input's concrete shape: named dims from ``sizes``, other dynamic ones 1."""
    return {
        vi.name: tuple(
            d.dim_value if d.HasField("dim_value") else sizes.get(d.dim_param, 1) for d in vi.type.tensor_type.shape.dim
        )
        for vi in model.graph.input
    }


CASES = [
    ("toy.onnx", {"unk__68": 5}),
    ("torch_conv1d_legacy.onnx", {"length": 8}),
    ("torch_conv1d_dynamo.onnx", {"s53": 6}),
    ("keras_tcn.onnx", {"unk__404": 3}),
    ("keras_strided.onnx", {"unk__216": 40}),
]


@pytest.mark.parametrize("name, sizes", CASES)
def test_fixes_run_in_onnxruntime(name: str, sizes: dict[str, int]) -> None:
    model = onnx.load(str(FIX / name))
    rep = graphcheck.check(model)
    assert rep.accepts(sizes) is False
    fixes = rep.fixes(sizes)
    layer_fixes = [f for f in fixes if f.param != "input_length"]
    assert layer_fixes, "at least one change to a layer is suggested"
    assert any(f.param == "input_length" for f in fixes)
    jobs = []
    for f in layer_fixes:
        changed = apply_fix(model, f)
        # our own verdict on the changed model, from the file route
        assert graphcheck.check(changed).accepts(sizes) is True, f.text
        jobs.append((expose_all(changed), [input_shapes(changed, sizes)]))
    for f, res in zip(layer_fixes, probe_many(jobs)):
        assert res[0].nonempty, (f.text, res[0].error)


def test_input_length_fix_is_the_smallest_valid_size() -> None:
    rep = graphcheck.check(FIX / "toy.onnx")
    inp = [f for f in rep.fixes({"unk__68": 5}) if f.param == "input_length"]
    assert [f.value for f in inp] == [9]
    assert rep.accepts({"unk__68": 9}) is True


def test_fix_wording_follows_the_framework() -> None:
    keras = graphcheck.check(FIX / "toy.onnx").fixes({"unk__68": 5})
    assert any(f.param == "padding" and f.value == "same" and "padding='same'" in f.text for f in keras)
    assert any(f.param == "zero_padding" and "ZeroPadding1D" in f.text for f in keras)
    torch = graphcheck.check(FIX / "torch_conv1d_legacy.onnx").fixes({"length": 8})
    assert any(f.param == "padding" and isinstance(f.value, int) for f in torch)
    assert all(f.param in ("padding", "kernel_size", "stride", "dilation", "input_length") for f in torch)


def test_valid_size_needs_no_fix() -> None:
    m = conv_stack([{"name": "c", "k": 5}])
    assert graphcheck.check(m).fixes({"L": 9}) == []


GATE_CASES = [
    ("toy.onnx", "unk__68 in 8..16000"),
    ("keras_strided.onnx", "unk__216 in 9..480000"),
    ("torch_conv1d_legacy.onnx", "length in 4..4000"),
]


@pytest.mark.parametrize("name, req", GATE_CASES)
def test_gate_fixes_meet_the_whole_requirement(name: str, req: str) -> None:
    """The gate's fixes are verified against the whole required range, not one size: each changed
    model passes the same gate, and onnxruntime runs it at every size from the range's start up to
    past the old minimum, and at its end."""
    from graphcheck.gate.decision import run_gate
    from graphcheck.gate.require import parse_requirement

    model = onnx.load(str(FIX / name))
    spec = parse_requirement(req)
    result = run_gate(graphcheck.check(model), [spec])
    assert result.status == "fail"
    (outcome,) = result.outcomes
    assert outcome.fixes, "a failing requirement comes with verified fixes"
    assert all(f.param != "input_length" for f in outcome.fixes)  # the sizes are required: change the model
    (sym,) = spec.names
    lo, hi = spec.sets[0].min(), spec.sets[0].max()
    old_min = graphcheck.check(model).valid_set(sym).min()
    assert lo is not None and hi is not None and old_min is not None
    sizes = [*range(lo, old_min + 2), hi]
    jobs = []
    for f in outcome.fixes:
        changed = apply_fix(model, f)
        assert run_gate(graphcheck.check(changed), [spec]).status == "pass", f.text
        points = [input_shapes(changed, {sym: n}) for n in sizes]
        jobs.append((expose_all(changed), points))  # every intermediate must be non-empty too
    for f, res in zip(outcome.fixes, probe_many(jobs)):
        bad = [n for n, r in zip(sizes, res) if not r.nonempty]
        assert not bad, (f.text, bad)


def test_a_suggested_size_says_only_what_is_true() -> None:
    """'at least N' only when every size from N on is valid; a periodic set gets its next valid size
    and the rule of its period that always holds (a detector valid for H % 32 in {0, 25..31})."""
    from graphcheck.report.fixes import size_advice
    from graphcheck.symbolic.intset import IntSet

    detector = IntSet.residues(32, [0, *range(25, 32)])
    assert 353 not in detector  # why "at least 345" was false
    assert size_advice(detector, 345) == "the next valid size, or any multiple of 32"
    assert size_advice(IntSet.residues(8, [0]), 336) == "the next valid size: any multiple of 8"
    assert size_advice(IntSet.residues(8, [0], 64), 72) == "the next valid size: any multiple of 8 from 64 on"
    assert size_advice(IntSet.interval(9), 9) == "at least 9"
    assert size_advice(IntSet.points([3, 5, 9]), 9) == "the next valid size"
    assert size_advice(IntSet.interval(1, 64), 64, below=True) == "at most 64"
    assert size_advice(IntSet.points([3, 5, 9]), 9, below=True) == "the largest valid size below it"
    yolo = graphcheck.check(FIX / "zoo" / "models" / "yolo_fpn_legacy.onnx", dims={"images:2": "H", "images:3": "W"})
    (feed,) = [f for f in yolo.fixes({"H": 330, "W": 64}) if f.param == "input_length"]
    assert feed.value == 346 and "(the next valid size, or any multiple of 32;" in feed.text
    # valid: H % 32 in {0, 1, 26..31}: 346 and 352 work, 355 (past them) does not
    assert yolo.accepts({"H": 346, "W": 64}) and yolo.accepts({"H": 352, "W": 64})
    assert not yolo.accepts({"H": 355, "W": 64})

"""NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: exact shapes per reduction, label and
weight conditions, checked against onnxruntime and the ONNX reference implementation."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import onnx
import pytest
from onnx import TensorProto, helper

from tests.infer.ops._mrc import S, codes_failing, holds_all, make_model, run, shape_of
from tests.infer.ops._xref import against_ort, against_reference

F = TensorProto.FLOAT
I64 = TensorProto.INT64


def _loss(
    op: str, reduction: str, x: Sequence[int | str], t: Sequence[int | str], w: Sequence[int | str] | None
) -> onnx.ModelProto:
    ins = [("x", x, F), ("t", t, I64)] + ([("w", w, F)] if w is not None else [])
    outs = ["y", "lp"] if op == "SoftmaxCrossEntropyLoss" else ["y"]
    node = helper.make_node(op, ["x", "t"] + (["w"] if w is not None else []), outs, reduction=reduction)
    return make_model([node], ins, outs, opset=13)


@pytest.mark.parametrize("op", ["NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"])
def test_loss_shapes_by_reduction(op: str) -> None:
    x, t = ["N", "C", "H", "W"], ["M", "P", "Q"]
    a = run(_loss(op, "none", x, t, ["K"]))
    assert shape_of(a, "y") == (S("M"), S("P"), S("Q"))
    for red in ("mean", "sum"):
        assert shape_of(run(_loss(op, red, x, t, None)), "y") == ()
    if op == "SoftmaxCrossEntropyLoss":
        assert shape_of(a, "lp") == (S("N"), S("C"), S("H"), S("W"))


def test_loss_label_and_weight_conditions() -> None:
    a = run(_loss("NegativeLogLikelihoodLoss", "mean", ["N", "C", "L"], ["M", "P"], ["K"]))
    ok = {"N": 2, "C": 5, "L": 7, "M": 2, "P": 7, "K": 5}
    assert holds_all(a, ok)
    assert codes_failing(a, {**ok, "M": 1}) == {"GC010"}  # labels per sample
    assert codes_failing(a, {**ok, "P": 6}) == {"GC010"}  # and per position
    assert codes_failing(a, {**ok, "K": 4}) == {"GC010"}  # one weight per class
    r = [r for r in a.requirements if "weight" in r.what][0]
    assert r.formula == "K must equal C"
    # a label rank other than rank - 1 is invalid for every size
    bad = run(_loss("SoftmaxCrossEntropyLoss", "none", ["N", "C", "L"], ["N"], None))
    assert any(r.code == "GC010" and str(r.cond) == "false" for r in bad.requirements)


def _cases() -> list[tuple[onnx.ModelProto, list[dict[str, int]]]]:
    out = []
    for op in ("NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"):
        for red in ("none", "mean", "sum"):
            for rank in (2, 3, 4):
                names = "NCHW"[:rank] + "MPQ"[: rank - 1] + "K"
                m = _loss(op, red, list("NCHW"[:rank]), list("MPQ"[: rank - 1]), ["K"])
                vals = {
                    "N": (1, 2),
                    "C": (3,),
                    "H": (2,),
                    "W": (1, 2),
                    "M": (1, 2),
                    "P": (1, 2),
                    "Q": (2,),
                    "K": (1, 3),
                }
                envs = [dict(zip(names, c)) for c in itertools.product(*(vals[n] for n in names))]
                out.append((m, envs))
    return out


CASES = _cases()


def test_valid_sizes_run_in_onnxruntime_with_our_shapes() -> None:
    n, bad = against_ort(CASES, semantics="spec")
    assert n > 200
    # onnxruntime runs these ops through the ONNX function body, which does not validate the label
    # and weight shapes (with in-range labels a mismatched weight or label batch still runs); every
    # size we call valid runs there, with our shapes
    assert not [b for b in bad if "ours False, ort True" not in b], "\n".join(bad[:10])
    assert bad  # the laxity is real


def test_valid_sizes_run_in_the_reference_with_our_shapes() -> None:
    n, bad = against_reference(CASES)
    assert n > 200
    assert not [b for b in bad if "ours False, reference True" not in b], "\n".join(bad[:10])

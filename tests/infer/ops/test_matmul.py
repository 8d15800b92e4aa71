"""MatMul, Gemm, Einsum, MatMulInteger, QLinearMatMul, Det: exact shapes and conditions,
checked against onnxruntime over grids of sizes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import graphcheck
from graphcheck.symbolic.expr import Expr, emax
from tests.infer.ops._mrc import (
    S,
    codes_failing,
    differential,
    grid,
    holds_all,
    init,
    make_model,
    run,
    shape_of,
    sym_env,
    weight,
)

U8 = TensorProto.UINT8
I32 = TensorProto.INT32


def _matmul(a: list[int | str], b: list[int | str], b_weight: tuple[int, ...] | None = None) -> onnx.ModelProto:
    inputs = {"a": a} if b_weight else {"a": a, "b": b}
    inits = [weight("b", b_weight)] if b_weight else []
    return make_model([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")], inputs, ["y"], inits)


def test_matmul_dense_layer_pins_features() -> None:
    a = run(_matmul(["N", "K"], [], b_weight=(4, 3)))
    assert shape_of(a, "y") == (S("N"), 3)
    [r] = [r for r in a.requirements if r.code == "GC005"]
    assert r.cond.holds(sym_env(a, {"K": 4})) and not r.cond.holds(sym_env(a, {"K": 3}))
    assert "expects 4 features" in r.fix
    assert r.formula == "K must equal 4"


def test_matmul_1d_promotions() -> None:
    assert shape_of(run(_matmul(["K"], ["K", "N"])), "y") == (S("N"),)
    assert shape_of(run(_matmul(["B", "M", "K"], ["K"])), "y") == (S("B"), S("M"))
    assert shape_of(run(_matmul(["K"], ["K"])), "y") == ()
    a = run(_matmul(["K"], ["J"]))
    assert shape_of(a, "y") == ()
    assert not holds_all(a, {"K": 3, "J": 4}) and holds_all(a, {"K": 4, "J": 4})


def test_matmul_batch_broadcast_both_symbolic() -> None:
    a = run(_matmul(["B1", "M", "K"], ["B2", "K", "N"]))
    assert shape_of(a, "y") == (emax(S("B1"), S("B2")), S("M"), S("N"))
    ok = {"M": 2, "K": 3, "N": 4}
    # either side may be 1 (the shared broadcast helper wrongly rejects B1=3, B2=1)
    assert holds_all(a, {**ok, "B1": 3, "B2": 1})
    assert holds_all(a, {**ok, "B1": 1, "B2": 3})
    assert holds_all(a, {**ok, "B1": 3, "B2": 3})
    assert codes_failing(a, {**ok, "B1": 2, "B2": 3}) == {"GC003"}


def test_matmul_rank0_is_invalid() -> None:
    a = run(_matmul([], ["K"]))
    assert any(r.code == "GC010" and str(r.cond) == "false" for r in a.requirements)


def test_gemm_shapes_and_bias() -> None:
    m = make_model(
        [helper.make_node("Gemm", ["a", "w", "c"], ["y"], transB=1)],
        {"a": ["N", "K"], "c": ["C"]},
        ["y"],
        [weight("w", (5, 3))],
    )
    a = run(m)
    assert shape_of(a, "y") == (S("N"), 5)
    assert holds_all(a, {"N": 2, "K": 3, "C": 5}) and holds_all(a, {"N": 2, "K": 3, "C": 1})
    assert codes_failing(a, {"N": 2, "K": 3, "C": 4}) == {"GC003"}
    assert codes_failing(a, {"N": 2, "K": 4, "C": 5}) == {"GC005"}


def test_gemm_legacy_broadcast_suffix_or_scalar() -> None:
    m = make_model(
        [helper.make_node("Gemm", ["a", "b", "c"], ["y"], broadcast=1)],
        {"a": ["M", "K"], "b": ["K", "N"], "c": ["P", "Q"]},
        ["y"],
        opset=6,
    )
    a = run(m)
    base = {"M": 2, "K": 3, "N": 4}
    assert holds_all(a, {**base, "P": 2, "Q": 4}) and holds_all(a, {**base, "P": 1, "Q": 1})
    assert not holds_all(a, {**base, "P": 1, "Q": 4})  # legacy broadcasting is suffix or one element


def test_einsum_shapes() -> None:
    def eins(eq: str, ranks: list[int]) -> tuple[Expr, ...] | None:
        ins = {f"x{i}": [f"d{i}{j}" for j in range(r)] for i, r in enumerate(ranks)}
        m = make_model([helper.make_node("Einsum", list(ins), ["y"], equation=eq)], ins, ["y"], opset=13)
        return shape_of(run(m), "y")

    assert eins("ij,jk->ik", [2, 2]) == (S("d00"), S("d11"))
    assert eins("ij,jk", [2, 2]) == (S("d00"), S("d11"))
    assert eins("ji", [2]) == (S("d01"), S("d00"))
    assert eins("bA,bB", [2, 2]) == (S("d01"), S("d11"))  # upper case first (ASCII order)
    assert eins("Ab,aB", [2, 2]) == (S("d00"), S("d11"), S("d10"), S("d01"))
    assert eins("ii->i", [2]) == (S("d00"),)
    assert eins("ij->", [2]) == ()
    assert eins("...ij,...jk", [4, 4]) == (emax(S("d00"), S("d10")), emax(S("d01"), S("d11")), S("d02"), S("d13"))
    assert eins("a...b,b...c->...ac", [3, 3]) == (emax(S("d01"), S("d11")), S("d00"), S("d12"))


def test_einsum_conditions() -> None:
    ins = {"x": ["I", "J"]}
    a = run(make_model([helper.make_node("Einsum", ["x"], ["y"], equation="ii->i")], ins, ["y"], opset=13))
    assert codes_failing(a, {"I": 2, "J": 3}) == {"GC005"} and holds_all(a, {"I": 3, "J": 3})
    # a label shared by operands: equal sizes, or 1 (as numpy and onnxruntime broadcast)
    ins2 = {"x": ["I", "J"], "w": ["K", "L"]}
    a = run(make_model([helper.make_node("Einsum", ["x", "w"], ["y"], equation="ij,jk")], ins2, ["y"], opset=13))
    assert holds_all(a, {"I": 2, "J": 3, "K": 3, "L": 4}) and holds_all(a, {"I": 2, "J": 1, "K": 3, "L": 4})
    assert codes_failing(a, {"I": 2, "J": 2, "K": 3, "L": 4}) == {"GC005"}
    # ellipses standing for different numbers of axes: invalid whatever the sizes (spec)
    ins3 = {"x": ["A", "B", "I", "J"], "w": ["C", "J", "K"]}
    a = run(make_model([helper.make_node("Einsum", ["x", "w"], ["y"], equation="...ij,...jk")], ins3, ["y"], opset=13))
    assert any(r.code == "GC010" and "same number of axes" in r.what for r in a.requirements)


def test_det_and_quantized() -> None:
    a = run(make_model([helper.make_node("Det", ["x"], ["y"])], {"x": ["B", "M", "N"]}, ["y"]))
    assert shape_of(a, "y") == (S("B"),)
    assert codes_failing(a, {"B": 1, "M": 2, "N": 3}) == {"GC010"}
    m = make_model(
        [helper.make_node("MatMulInteger", ["a", "b", "za"], ["y"])],
        [("a", ["M", "K"], U8), ("b", ["K2", 3], U8)],
        [("y", I32)],
        [init("za", 0, np.uint8)],
    )
    a = run(m)
    assert shape_of(a, "y") == (S("M"), 3) and a.facts["y"].dtype == I32
    assert codes_failing(a, {"M": 2, "K": 3, "K2": 4}) == {"GC005"}
    q = make_model(
        [helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"])],
        [("a", ["M", "K"], U8), ("b", ["K", "N"], U8)],
        [("y", U8)],
        [init(n, 0.5) for n in ("sa", "sb", "sy")] + [init(n, 1, np.uint8) for n in ("za", "zb", "zy")],
    )
    a = run(q)
    assert shape_of(a, "y") == (S("M"), S("N")) and a.facts["y"].dtype == U8


# ---------------------------------------------------------------------------
# differential checks against onnxruntime


def test_matmul_family_agrees_with_onnxruntime() -> None:
    small = range(1, 4)
    cases = [
        (_matmul(["B1", "M", "K"], ["B2", "K2", "N"]), grid(["B1", "M", "K", "B2", "K2", "N"], [1, 3])),
        (_matmul(["K"], ["B", "K2", "N"]), grid(["K", "B", "K2", "N"], small)),
        (_matmul(["B", "M", "K"], ["K2"]), grid(["B", "M", "K", "K2"], small)),
        (_matmul(["N", "K"], [], b_weight=(4, 3)), grid(["N", "K"], range(1, 7))),
        (
            make_model(
                [helper.make_node("Gemm", ["a", "b", "c"], ["y"], transA=1)],
                {"a": ["K", "M"], "b": ["K2", "N"], "c": ["P", "Q"]},
                ["y"],
            ),
            grid(["K", "M", "K2", "N", "P", "Q"], [1, 2, 3]),
        ),
        (
            make_model(
                [helper.make_node("Gemm", ["a", "b", "c"], ["y"])],
                {"a": ["M", "K"], "b": ["K", "N"], "c": ["Q"]},
                ["y"],
            ),
            grid(["M", "K", "N", "Q"], [1, 2, 3]),
        ),
        (
            make_model([helper.make_node("Det", ["x"], ["y"])], {"x": ["B", "M", "N"]}, ["y"]),
            grid(["B", "M", "N"], small),
        ),
    ]
    for eq, ranks in [
        ("ij,jk->ik", [2, 2]),
        ("bij,bjk", [3, 3]),
        ("ii->i", [2]),
        ("ij,ij->ij", [2, 2]),
        ("...ij,...jk", [3, 3]),
        ("a...b,b...c->...ac", [3, 3]),
        ("i,i", [1, 1]),
        ("ij,kj,k->i", [2, 2, 1]),
    ]:
        ins = {f"x{i}": [f"d{i}{j}" for j in range(r)] for i, r in enumerate(ranks)}
        names = [d for dims in ins.values() for d in dims]
        vals = [1, 2] if len(names) > 5 else [1, 2, 3]
        m = make_model([helper.make_node("Einsum", list(ins), ["y"], equation=eq)], ins, ["y"], opset=13)
        cases.append((m, grid(names, vals)))
    mmi = make_model(
        [helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])],
        [("a", ["B", "M", "K"], U8), ("b", ["K2", "N"], U8)],
        [("y", I32)],
        [init("za", 3, np.uint8), init("zb", 1, np.uint8)],
        opset=13,
    )
    qmm = make_model(
        [helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"])],
        [("a", ["M", "K"], U8), ("b", ["K2", "N"], U8)],
        [("y", U8)],
        [init(n, 0.5) for n in ("sa", "sb", "sy")] + [init(n, 1, np.uint8) for n in ("za", "zb", "zy")],
        opset=13,
    )
    cases += [(mmi, grid(["B", "M", "K", "K2", "N"], [1, 2, 3])), (qmm, grid(["M", "K", "K2", "N"], [1, 2, 3]))]
    checked, ran, bad = differential(cases)
    assert not bad, bad[:10]
    assert ran > 100 and checked - ran > 100  # both verdicts well represented


def test_report_api_on_dense_layer() -> None:
    rep = graphcheck.check(_matmul(["N", "K"], [], b_weight=(4, 3)))
    assert rep.accepts({"N": 2, "K": 4}) is True
    assert rep.accepts({"N": 2, "K": 5}) is False
    k = rep.valid_set("K")
    assert k is not None and k.min() == 4


@pytest.mark.parametrize("opset", [1, 9, 13])
def test_matmul_all_opsets(opset: int) -> None:
    m = make_model(
        [helper.make_node("MatMul", ["a", "b"], ["y"])], {"a": ["M", "K"], "b": ["K", "N"]}, ["y"], opset=opset
    )
    assert shape_of(run(m), "y") == (S("M"), S("N"))

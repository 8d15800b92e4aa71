"""onnxruntime's other com.microsoft ops with a CPU kernel (FusedGemm, TransposeMatMul, NhwcMaxPool,
Pad, Range, Trilu, GatherND, GridSample, ExpandDims, Inverse, CDist, ScaledSiLU, MurmurHash3,
Unique, CropAndResize): checked against onnxruntime at every size of a grid."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from tests.infer.ops._mrc import S, codes_failing, run, shape_of
from tests.infer.ops._msft import I32, I64, MS, U8, F, grid, model, tensor
from tests.infer.ops._xref import against_ort

Case = tuple[onnx.ModelProto, list[dict[str, int]]]


def _one(op, ins, inits=(), outs=("y",), **attrs) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    names = [n for n, _, _ in ins] + [t.name for t in inits]
    out_names = [o if isinstance(o, str) else o[0] for o in outs]
    return model([helper.make_node(op, names, out_names, domain=MS, **attrs)], ins, list(outs), inits)


def test_expand_dims_and_cdist() -> None:
    a = run(_one("ExpandDims", [("x", ["A", "B"], F)], [tensor("axis", -1, np.int32)]))
    assert shape_of(a, "y") == (S("A"), S("B"), 1)
    inv = run(_one("Inverse", [("x", ["A", "M", "K"], F)]))
    assert codes_failing(inv, {"A": 1, "M": 2, "K": 3}) == {"GC010"}
    c = run(_one("CDist", [("a", ["M", "N"], F), ("b", ["K", "N"], F)]))
    assert shape_of(c, "y") == (S("M"), S("K"))


def _cases() -> list[Case]:
    c: list[Case] = []
    c.append(
        (
            _one("FusedGemm", [("a", ["M", "K"], F), ("b", ["J", "N"], F)], activation="Relu"),
            grid(M=[1, 2], K=[2, 3], J=[2, 3], N=[1, 3]),
        )
    )
    c.append(
        (
            _one(
                "FusedGemm",
                [("a", ["K", "M"], F), ("b", ["N", "J"], F), ("c", ["P"], F)],
                transA=1,
                transB=1,
                activation="Tanh",
            ),
            grid(M=[1, 2], K=[2, 3], J=[2, 3], N=[1, 3], P=[1, 3]),
        )
    )
    c.append(
        (
            _one("TransposeMatMul", [("a", ["A", "K", "M"], F), ("b", ["C", "N", "J"], F)], transA=1, transB=1),
            grid(A=[1, 2], C=[1, 2], K=[2, 3], M=[1, 2], N=[1, 3], J=[2, 3]),
        )
    )
    c.append(
        (
            _one("NhwcMaxPool", [("x", ["N", "H", "W", "C"], U8)], kernel_shape=[3, 2], strides=[2, 1]),
            grid(N=[1], H=range(1, 8), W=range(1, 5), C=[1, 3]),
        )
    )
    c.append(
        (
            _one("NhwcMaxPool", [("x", ["N", "L", "C"], U8)], kernel_shape=[3], strides=[2], pads=[1, 1], ceil_mode=1),
            grid(N=[1], L=range(1, 9), C=[2]),
        )
    )
    c.append((_one("Pad", [("x", ["A", "B"], F)], [tensor("p", [1, 0, 2, -1], np.int64)]), grid(A=[1, 2], B=[1, 2, 3])))
    c.append(
        (
            _one("Pad", [("x", ["A", "B"], F)], [tensor("p", [0, 1, 0, 1], np.int64)], mode="reflect"),
            grid(A=[1, 2], B=[1, 2, 3]),
        )
    )
    c.append((_one("Trilu", [("x", ["A", "B"], F)], upper=0), grid(A=[1, 2], B=[1, 3])))
    c.append(
        (
            _one("GatherND", [("x", ["A", "B", "C"], F), ("i", ["Q", 2], I64)]),
            grid(A=[1, 2], B=[1, 2], C=[1, 3], Q=[1, 2]),
        )
    )
    c.append(
        (
            _one("GridSample", [("x", ["N", "C", "H", "W"], F), ("g", ["M", "P", "Q", "R"], F)]),
            grid(N=[1, 2], C=[1], H=[2], W=[3], M=[1, 2], P=[1, 2], Q=[1, 3], R=[1, 2]),
        )
    )
    c.append((_one("ExpandDims", [("x", ["A", "B"], F)], [tensor("axis", 1, np.int32)]), grid(A=[1, 2], B=[1, 3])))
    # square only: onnxruntime reads out of bounds on other shapes (runs some, crashes on others)
    c.append((_one("Inverse", [("x", ["A", "M", "M"], F)]), grid(A=[1, 2], M=[1, 2, 3])))
    c.append(
        (
            _one("CDist", [("a", ["M", "N"], F), ("b", ["K", "J"], F)], metric="euclidean"),
            grid(M=[1, 2], N=[1, 3], K=[1, 2], J=[1, 3]),
        )
    )
    c.append((_one("ScaledSiLU", [("x", ["A", "B"], F)]), grid(A=[1, 2], B=[1, 3])))
    c.append(
        (_one("MurmurHash3", [("x", ["A", "B"], I32)], outs=[("y", TensorProto.UINT32)]), grid(A=[1, 2], B=[1, 3]))
    )
    c.append(
        (
            _one(
                "CropAndResize",
                [("x", ["N", "C", "H", "W"], F), ("r", ["R", "K"], F), ("i", ["J"], I32)],
                [tensor("cs", [3, 2], np.int32)],
            ),
            grid(N=[1, 2], C=[1, 2], H=[4], W=[4], R=[1, 2], K=[4, 3], J=[1, 2]),
        )
    )
    c.append(
        (
            _one("NGramRepeatBlock", [("i", ["A", "L"], I64), ("s", ["B", "V"], F)], ngram_size=2),
            grid(A=[1, 2], L=[1, 3], B=[1, 2], V=[1, 4]),
        )
    )
    c.append(
        (
            _one("UnfoldTensor", [("x", ["A", "B", "C"], F)], dim=1, size=3, step=2),
            grid(A=[1, 2], B=range(1, 9), C=[1, 2]),
        )
    )
    c.append((_one("UnfoldTensor", [("x", ["A", "B"], F)], size=2), grid(A=[1, 2], B=range(1, 5))))
    c += _moe_cases()
    mwm = _one(
        "MaxpoolWithMask",
        [("x", ["N", "C", "H", "W"], F), ("m", ["A", "B", "P", "Q"], I32)],
        kernel_shape=[3, 3],
        strides=[2, 2],
    )
    c.append((mwm, grid(N=[2], C=[2], H=range(1, 7), W=[5], A=[1, 3], B=[2], P=[1, 3, 5], Q=[5])))
    return c


def _moe(x, r, act="relu") -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    f = 2 if act == "swiglu" else 1
    inits = [tensor("w1", np.ones((4, f * 16, 8)) * 0.01), tensor("w2", np.ones((4, 8, 16)) * 0.01)]
    attrs = dict(k=2, activation_type=act, **({"swiglu_fusion": 1} if act == "swiglu" else {}))
    node = helper.make_node("MoE", ["x", "r", "w1", "", "w2"], ["y"], domain=MS, **attrs)
    return model([node], [("x", x, F), ("r", r, F)], ["y"], inits)


def _moe_cases() -> list[Case]:
    return [
        (_moe(["N", "H"], ["T", "E"]), grid(N=[1, 3], H=[8, 7], T=[1, 3, 4], E=[4, 3])),
        (_moe(["B", "S", "H"], ["T", "E"]), grid(B=[1, 2], S=[1, 3], H=[8], T=[1, 2, 3, 6], E=[4])),
        (_moe(["N", "H"], ["T", "E"], act="swiglu"), grid(N=[1, 3], H=[8], T=[1, 3], E=[4])),
    ]


def test_agree_with_onnxruntime() -> None:
    n, bad = against_ort(_cases(), semantics="ort")
    spec_bad = against_ort(_cases(), semantics="spec")[1]  # only the pools' truncation of a negative numerator
    pools = ("ort NhwcMaxPool", "ort MaxpoolWithMask")
    assert spec_bad and all(b.startswith(pools) and "ours False, ort True" in b for b in spec_bad)
    assert n > 300
    assert not bad, "\n".join(bad[:20])

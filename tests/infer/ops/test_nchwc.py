"""onnxruntime's NCHWc ops (com.microsoft.nchwc ReorderInput, ReorderOutput, Conv, MaxPool,
AveragePool, GlobalAveragePool, GlobalMaxPool, Upsample): exact shapes and conditions, checked
against onnxruntime at every size of a grid. The block size is whatever MLAS picks on this machine
(8 or 16): the channel counts probed pad the same way for both, except ReorderOutput's blocked
input, where only this machine's count is probed (graphcheck takes either: the file's padded
weights say which machine it was made for)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from graphcheck.symbolic.expr import floordiv
from tests.infer.ops._mrc import S, codes_failing, run, shape_of
from tests.infer.ops._msft import NCHWC, F, grid, model, tensor
from tests.infer.ops._xref import against_ort

Case = tuple[onnx.ModelProto, list[dict[str, int]]]


def _blocked(op: str, *extra: str, inits=(), **attrs) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    """ReorderInput -> op -> ReorderOutput (16 channels)."""
    nodes = [
        helper.make_node("ReorderInput", ["x"], ["t"], domain=NCHWC),
        helper.make_node(op, ["t", *extra], ["u"], domain=NCHWC, **attrs),
        helper.make_node("ReorderOutput", ["u"], ["y"], domain=NCHWC, channels=16),
    ]
    return model(nodes, [("x", ["N", "C", "H", "W"], F)], ["y"], inits)


def _conv(cin: int = 16, **attrs) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    inits = [tensor("w", np.ones((16, cin, 3, 3)) * 0.1), tensor("b", np.zeros(16))]
    return _blocked("Conv", "w", "b", inits=inits, kernel_shape=[3, 3], **attrs)


def test_blocked_conv_window_and_channels() -> None:
    a = run(_conv(strides=[2, 2]))
    assert shape_of(a, "y") == (S("N"), 16, floordiv(S("H") - 3, 2) + 1, floordiv(S("W") - 3, 2) + 1)
    assert codes_failing(a, {"N": 1, "C": 16, "H": 2, "W": 5}) == {"GC001"}
    assert codes_failing(a, {"N": 1, "C": 32, "H": 5, "W": 5}) == {"GC010"}  # 32 channels, weights take 16
    ambiguous = run(_conv(cin=16))
    assert codes_failing(ambiguous, {"N": 1, "C": 12, "H": 5, "W": 5}) == set()  # 12 pads to 16 either way
    eight = model([helper.make_node("ReorderInput", ["x"], ["t"], domain=NCHWC)], [("x", ["N", 8, "H", "W"], F)], ["t"])
    e = run(eight)
    assert shape_of(e, "t") is None and [n.code for n in e.notes] == ["GC102"]  # 8 or 16: the machine decides


def _cases() -> list[Case]:
    c: list[Case] = []
    ri = helper.make_node("ReorderInput", ["x"], ["t"], domain=NCHWC)
    ro = helper.make_node("ReorderOutput", ["t"], ["y"], domain=NCHWC, channels=12)
    c.append(
        (
            model([ri, ro], [("x", ["N", "C", "H", "W"], F)], ["y"]),
            grid(N=[1, 2], C=[6, 12, 16, 28, 32], H=[1, 3], W=[2]),
        )
    )
    ro5 = helper.make_node("ReorderOutput", ["x"], ["y"], domain=NCHWC, channels=5)
    c.append(
        (model([ro5], [("x", ["N", "C", "H", "W"], F)], ["y"]), grid(N=[1], C=[5, 15, 16, 17, 32], H=[1, 3], W=[2]))
    )
    c.append((_conv(strides=[2, 2], pads=[1, 1, 1, 1]), grid(N=[1], C=[16, 32], H=range(1, 7), W=[1, 4])))
    c.append((_conv(strides=[1, 2], dilations=[2, 1]), grid(N=[1], C=[16], H=range(1, 8), W=range(1, 6))))
    c.append((_conv(auto_pad="SAME_UPPER", strides=[3, 3]), grid(N=[1, 2], C=[16], H=range(1, 8), W=[1, 5])))
    nchw = helper.make_node("Conv", ["x", "w", "b"], ["t"], domain=NCHWC, kernel_shape=[3, 3], strides=[2, 2])
    out = helper.make_node("ReorderOutput", ["t"], ["y"], domain=NCHWC, channels=16)
    inits = [tensor("w", np.ones((16, 3, 3, 3))), tensor("b", np.zeros(16))]
    c.append(
        (
            model([nchw, out], [("x", ["N", "C", "H", "W"], F)], ["y"], inits),
            grid(N=[1], C=[1, 3, 4], H=range(1, 7), W=[3, 4]),
        )
    )
    summed = helper.make_node("Conv", ["t", "w", "b", "s"], ["u"], domain=NCHWC, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes = [ri, summed, helper.make_node("ReorderOutput", ["u"], ["y"], domain=NCHWC, channels=16)]
    ins = [("x", ["N", 16, "H", "W"], F), ("s", ["N", 16, "P", "Q"], F)]
    inits = [tensor("w", np.ones((16, 16, 3, 3))), tensor("b", np.zeros(16))]
    c.append((model(nodes, ins, ["y"], inits), grid(N=[1], H=[2, 3], W=[2, 3], P=[2, 3], Q=[2, 3])))
    c.append((_blocked("MaxPool", kernel_shape=[3, 3], strides=[2, 2]), grid(N=[1], C=[16], H=range(1, 8), W=[3, 4])))
    c.append(
        (
            _blocked("MaxPool", kernel_shape=[3, 2], strides=[2, 2], ceil_mode=1),
            grid(N=[1], C=[16], H=range(2, 9), W=range(1, 6)),
        )
    )
    c.append(
        (
            _blocked("MaxPool", kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 0, 0]),
            grid(N=[1], C=[16], H=range(1, 6), W=range(1, 6)),
        )
    )
    c.append(
        (
            _blocked("AveragePool", kernel_shape=[3, 3], strides=[2, 1]),
            grid(N=[1], C=[16], H=range(1, 8), W=range(1, 5)),
        )
    )
    c.append(
        (
            _blocked("AveragePool", kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
            grid(N=[1], C=[16], H=range(1, 7), W=[1, 5]),
        )
    )
    for op in ("GlobalAveragePool", "GlobalMaxPool"):
        c.append((_blocked(op), grid(N=[1, 2], C=[12, 16], H=[1, 3], W=[2])))
    c.append((_blocked("Upsample", scales=[1, 1, 2, 3]), grid(N=[1], C=[16], H=[1, 2], W=[1, 3])))
    return c


CASES = _cases()


def test_agree_with_onnxruntime() -> None:
    n, bad = against_ort(CASES, semantics="ort")
    assert n > 300
    assert not bad, "\n".join(bad[:20])


def test_spec_pools_differ_only_by_onnxruntimes_truncation() -> None:
    """By the ONNX pools' formula a window longer than the padded input fails; onnxruntime's nchwc
    pools (like its standard ones) truncate and return 1."""
    _, bad = against_ort(CASES, semantics="spec")
    assert bad and all(b.startswith(("ort MaxPool", "ort AveragePool", "ort ReorderInput")) for b in bad), bad[:5]
    assert all("ours False, ort True" in b for b in bad)

"""onnxruntime's quantized contrib ops (MatMulNBits, GatherBlockQuantized, MatMulIntegerToFloat,
DynamicQuantizeMatMul, MatMulInteger16, QGemm, the QLinear* family, com.microsoft QuantizeLinear /
DequantizeLinear / QLinearConv, DynamicQuantizeLSTM): exact shapes and conditions, checked against
onnxruntime at every size of a grid."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from tests.infer.ops._mrc import S, codes_failing, holds_all, run, shape_of
from tests.infer.ops._msft import I8, I64, MS, U8, F, grid, model, tensor
from tests.infer.ops._xref import against_ort

Case = tuple[onnx.ModelProto, list[dict[str, int]]]
I16 = TensorProto.INT16


def _nbits(a, k=64, n=16, block=32, bias=False) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    kb = -(-k // block)
    inits = [tensor("w", np.zeros((n, kb, block // 2)), np.uint8), tensor("s", np.ones((n, kb)))]
    names = ["a", "w", "s"]
    if bias:
        inits.append(tensor("bias", np.zeros(n)))
        names += ["", "", "bias"]
    node = helper.make_node("MatMulNBits", names, ["y"], domain=MS, K=k, N=n, bits=4, block_size=block)
    return model([node], [("a", a, F)], ["y"], inits)


def _gbq(idx) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    inits = [tensor("d", np.zeros((10, 16)), np.uint8), tensor("s", np.ones((10, 1)))]
    node = helper.make_node(
        "GatherBlockQuantized", ["d", "i", "s"], ["y"], domain=MS, bits=4, block_size=32, gather_axis=0, quantize_axis=1
    )
    return model([node], [("i", idx, I64)], ["y"], inits)


def _mm(op, a, b, extra=(), a_type=U8, b_type=I8) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    names = ["a", "b", *[n for n, _ in extra]]
    return model(
        [helper.make_node(op, names, ["y"], domain=MS)],
        [("a", a, a_type), ("b", b, b_type)],
        ["y"],
        [tensor(n, v) if not isinstance(v, tuple) else tensor(n, *v) for n, v in extra],
    )


def _qgemm(a, b, c=None, ta=0, tb=0, bscale=()) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    inits = [tensor("as", 0.1), tensor("az", 0, np.uint8), tensor("bs", np.full(bscale, 0.1) if bscale else 0.1)]
    inits += [tensor("bz", np.zeros(bscale) if bscale else 0, np.uint8)]
    ins = [("a", a, U8), ("b", b, U8)]
    names = ["a", "as", "az", "b", "bs", "bz"]
    if c is not None:
        ins.append(("c", c, TensorProto.INT32))
        names.append("c")
    node = helper.make_node("QGemm", names, ["y"], domain=MS, transA=ta, transB=tb)
    return model([node], ins, ["y"], inits)


def _qparams(*names: str) -> list[onnx.TensorProto]:
    return [tensor(n, 0.1) if n.endswith("s") else tensor(n, 0, np.uint8) for n in names]


def _qbin(op, a, b) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    node = helper.make_node(op, ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["y"], domain=MS)
    return model([node], [("a", a, U8), ("b", b, U8)], ["y"], _qparams("as", "az", "bs", "bz", "cs", "cz"))


def _qun(op, x, **attrs) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    node = helper.make_node(op, ["x", "xs", "xz", "ys", "yz"], ["y"], domain=MS, **attrs)
    return model([node], [("x", x, U8)], ["y"], _qparams("xs", "xz", "ys", "yz"))


def _qwhere(c, x, y) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    names = ["c", "x", "xs", "xz", "y", "ys", "yz", "zs", "zz"]
    node = helper.make_node("QLinearWhere", names, ["z"], domain=MS)
    ins = [("c", c, TensorProto.BOOL), ("x", x, U8), ("y", y, U8)]
    return model([node], ins, ["z"], _qparams("xs", "xz", "ys", "yz", "zs", "zz"))


def _qconcat(a, b, axis) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    node = helper.make_node(
        "QLinearConcat", ["ys", "yz", "a", "as", "az", "b", "bs", "bz"], ["y"], domain=MS, axis=axis
    )
    return model([node], [("a", a, U8), ("b", b, U8)], ["y"], _qparams("ys", "yz", "as", "az", "bs", "bz"))


def _dqlstm(x, hidden=4, inp=3, direction="bidirectional", h0=None) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    nd = 2 if direction == "bidirectional" else 1
    inits = [
        tensor("w", np.zeros((nd, inp, 4 * hidden)), np.int8),
        tensor("r", np.zeros((nd, hidden, 4 * hidden)), np.int8),
        tensor("ws", np.ones(nd)),
        tensor("wz", np.zeros(nd), np.int8),
        tensor("rs", np.ones(nd)),
        tensor("rz", np.zeros(nd), np.int8),
    ]
    ins = [("x", x, F)]
    names = ["x", "w", "r", "", "", "", "", "", "ws", "wz", "rs", "rz"]
    if h0 is not None:
        ins.append(("h0", h0, F))
        names[5] = "h0"
    node = helper.make_node(
        "DynamicQuantizeLSTM", names, ["y", "yh", "yc"], domain=MS, hidden_size=hidden, direction=direction
    )
    return model([node], ins, ["y", "yh", "yc"], inits)


def test_matmul_nbits_needs_k_features() -> None:
    a = run(_nbits(["B", "S", "K"], bias=True))
    assert shape_of(a, "y") == (S("B"), S("S"), 16)
    assert holds_all(a, {"B": 2, "S": 3, "K": 64})
    assert codes_failing(a, {"B": 2, "S": 3, "K": 63}) == {"GC005"}


def test_dynamic_quantize_lstm_shapes() -> None:
    a = run(_dqlstm(["T", "B", "I"], h0=["D", "C", "H"]))
    assert shape_of(a, "y") == (S("T"), 2, S("B"), 4)
    assert shape_of(a, "yh") == (2, S("B"), 4)
    assert holds_all(a, {"T": 5, "B": 2, "I": 3, "D": 2, "C": 2, "H": 4})
    assert codes_failing(a, {"T": 5, "B": 2, "I": 4, "D": 2, "C": 2, "H": 4}) == {"GC010"}


def _cases() -> list[Case]:
    c: list[Case] = []
    c.append((_nbits(["B", "S", "K"], bias=True), grid(B=[1, 2], S=[1, 3], K=[63, 64, 65, 32])))
    c.append((_nbits(["K"], k=48, n=8, block=16), grid(K=[47, 48, 16])))
    c.append((_gbq(["B", "S"]), grid(B=[1, 2, 3], S=[1, 2, 5])))
    c.append((_gbq(["N"]), grid(N=[1, 4])))
    scale = [("as", 0.1), ("bs", 0.1)]
    c.append(
        (
            _mm("MatMulIntegerToFloat", ["B", "S", "K"], ["J", "N"], scale),
            grid(B=[1, 2], S=[1, 3], K=[2, 3], J=[2, 3], N=[1, 4]),
        )
    )
    c.append(
        (
            _mm("MatMulIntegerToFloat", ["A", "M", "K"], ["C", "J", "N"], scale),
            grid(A=[1, 2], C=[1, 2, 3], M=[2], K=[2, 3], J=[2, 3], N=[3]),
        )
    )
    c.append(
        (
            _mm(
                "MatMulIntegerToFloat",
                ["M", "K"],
                [3, 4],
                [
                    ("as", 0.1),
                    ("bs", np.full(4, 0.1)),
                    ("az", (0, np.uint8)),
                    ("bz", (np.zeros(4), np.int8)),
                    ("bias", np.zeros(4)),
                ],
            ),
            grid(M=[1, 2], K=[2, 3, 4]),
        )
    )
    c.append(
        (
            _mm("DynamicQuantizeMatMul", ["B", "S", "K"], ["J", "N"], [("bs", 0.1)], a_type=F),
            grid(B=[1, 2], S=[1, 3], K=[2, 3], J=[2, 3], N=[1, 4]),
        )
    )
    c.append(
        (
            _mm(
                "DynamicQuantizeMatMul",
                ["M", "K"],
                [3, 4],
                [("bs", np.full(4, 0.1)), ("bz", (np.zeros(4), np.int8)), ("bias", np.zeros(4))],
                a_type=F,
            ),
            grid(M=[1, 2], K=[2, 3, 4]),
        )
    )
    c.append(
        (
            _mm("MatMulInteger16", ["A", "M", "K"], ["J", "N"], a_type=I16, b_type=I16),
            grid(A=[1, 2], M=[1, 2], K=[2, 3], J=[2, 3], N=[1, 2]),
        )
    )
    c.append((_qgemm(["M", "K"], ["J", "N"]), grid(M=[1, 2], K=[2, 3], J=[2, 3], N=[1, 3])))
    c.append((_qgemm(["K", "M"], ["N", "J"], ta=1, tb=1, bscale=(3,)), grid(M=[1, 2], K=[2, 3], J=[2, 3], N=[1, 3])))
    c.append((_qgemm(["M", 3], [3, "N"], c=["P", "Q"]), grid(M=[1, 2], N=[1, 3], P=[1, 2, 3], Q=[1, 2, 3])))
    c.append((_qgemm(["M", 3], [3, "N"], c=["Q"]), grid(M=[1, 2], N=[1, 3], Q=[1, 2, 3])))
    for op in ("QLinearAdd", "QLinearMul"):
        c.append((_qbin(op, ["A", "B", "C"], ["D", "E"]), grid(A=[1, 2], B=[1, 2, 3], C=[1, 3], D=[1, 2, 3], E=[1, 3])))
    c.append((_qun("QLinearSigmoid", ["A", "B"]), grid(A=[1, 2], B=[1, 3])))
    c.append((_qun("QLinearLeakyRelu", ["A", "B"], alpha=0.1), grid(A=[1, 2], B=[1, 3])))
    c.append((_qun("QLinearSoftmax", ["A", "B", "C"], axis=-1, opset=13), grid(A=[1, 2], B=[1, 3], C=[1, 4])))
    c.append((_qun("QLinearSoftmax", ["A", "B"], axis=1, opset=11), grid(A=[1, 2], B=[1, 3])))
    c.append((_qun("QLinearGlobalAveragePool", ["N", "C", "H", "W"]), grid(N=[1, 2], C=[1, 3], H=[1, 2], W=[1, 5])))
    c.append(
        (
            _qun("QLinearGlobalAveragePool", ["N", "H", "W", "C"], channels_last=1),
            grid(N=[1, 2], C=[1, 3], H=[1, 2], W=[1, 5]),
        )
    )
    c.append((_qun("QLinearGlobalAveragePool", ["N", "C", "L"]), grid(N=[1, 2], C=[1, 3], L=[1, 5])))
    c.append(
        (_qun("QLinearAveragePool", ["N", "C", "L"], kernel_shape=[3], strides=[2]), grid(N=[1], C=[2], L=range(1, 9)))
    )
    c.append(
        (
            _qun(
                "QLinearAveragePool",
                ["N", "C", "H", "W"],
                kernel_shape=[3, 2],
                pads=[1, 0, 1, 0],
                ceil_mode=1,
                strides=[2, 2],
            ),
            grid(N=[1], C=[2], H=range(1, 7), W=range(1, 7)),
        )
    )
    c.append(
        (
            _qun("QLinearAveragePool", ["N", "C", "L"], kernel_shape=[3], auto_pad="SAME_UPPER", strides=[2]),
            grid(N=[1], C=[2], L=range(1, 9)),
        )
    )
    c.append((_qwhere(["A", "B"], ["C"], ["D", "E"]), grid(A=[1, 2], B=[1, 3], C=[1, 3], D=[1, 2], E=[1, 3])))
    c.append((_qconcat(["A", "B", 2], ["C", "D", 2], 1), grid(A=[1, 2], B=[1, 3], C=[1, 2], D=[1, 2])))
    c.append((_qconcat(["A", 2], ["C", "D"], -1), grid(A=[1, 2], C=[1, 2], D=[1, 2])))
    c.append((_dqlstm(["T", "B", "I"]), grid(T=[1, 3], B=[1, 2], I=[2, 3])))
    c.append(
        (
            _dqlstm(["T", "B", "I"], direction="forward", h0=["D", "C", "H"]),
            grid(T=[2], B=[1, 2], I=[3], D=[1, 2], C=[1, 2], H=[3, 4]),
        )
    )
    for op in ("QuantizeLinear", "DequantizeLinear"):
        xt, zt = (F, np.uint8) if op == "QuantizeLinear" else (U8, np.uint8)
        node = helper.make_node(op, ["x", "s", "z"], ["y"], domain=MS, axis=1)
        m = model([node], [("x", ["A", "B", "C"], xt)], ["y"], [tensor("s", np.ones(3)), tensor("z", np.zeros(3), zt)])
        c.append((m, grid(A=[1, 2], B=[1, 3, 4], C=[1, 2])))
        node = helper.make_node(op, ["x", "s", "z"], ["y"], domain=MS)
        m = model([node], [("x", ["A", "B"], xt)], ["y"], [tensor("s", 0.5), tensor("z", 0, zt)])
        c.append((m, grid(A=[1, 2], B=[1, 3])))
    return c


def test_agree_with_onnxruntime() -> None:
    n, bad = against_ort(_cases(), semantics="ort")
    assert n > 600
    assert not bad, "\n".join(bad[:30])

"""EmbedLayerNormalization and QEmbedLayerNormalization (com.microsoft): the position table read
inside the op bounds the sequence; checked against onnxruntime at every size of a grid."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from tests.infer.ops._mrc import S, codes_failing, holds_all, run, shape_of
from tests.infer.ops._msft import I32, MS, grid, model, tensor, trim
from tests.infer.ops._xref import against_ort

Case = tuple[onnx.ModelProto, list[dict[str, int]]]


def _emb(seg=True, mask=False, pos=None, rows=6, hs=(8, 8, 8, 8, 8)) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    inits = [
        tensor("we", np.ones((10, hs[0]))),
        tensor("pe", np.ones((rows, hs[1]))),
        tensor("ge", np.ones((2, hs[2]))),
        tensor("g", np.ones(hs[3])),
        tensor("b", np.zeros(hs[4])),
    ]
    ins = [("ids", ["B", "S"], I32)]
    names = ["ids", "seg" if seg else "", "we", "pe", "ge" if seg else "", "g", "b", "m" if mask else ""]
    if seg:
        ins.append(("seg", ["C", "D"], I32))
    if mask:
        ins.append(("m", ["E", "F"], I32))
    if pos is not None:
        ins.append(("pos", pos, I32))
        names.append("pos")
    node = helper.make_node("EmbedLayerNormalization", trim(names), ["y", "mi", "es"], domain=MS, epsilon=1e-5)
    return model([node], ins, ["y", ("mi", I32), "es"], inits)


def _qemb(seg=True, mask=False) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    inits = [
        tensor("we", np.ones((10, 8)), np.uint8),
        tensor("pe", np.ones((6, 8)), np.uint8),
        tensor("ge", np.ones((2, 8)), np.uint8),
        tensor("g", np.ones(8), np.uint8),
        tensor("b", np.zeros(8), np.uint8),
    ]
    inits += [tensor(f"s{i}", 0.1) for i in range(5)] + [tensor(f"z{i}", 0, np.uint8) for i in range(5)]
    ins = [("ids", ["B", "S"], I32)]
    sg = "seg" if seg else ""
    names = ["ids", sg, "we", "pe", "ge" if seg else "", "g", "b", "m" if mask else "", "s0", "s1"]
    names += ["s2" if seg else "", "s3", "s4", "z0", "z1", "z2" if seg else "", "z3", "z4"]
    if seg:
        ins.append(("seg", ["C", "D"], I32))
    if mask:
        ins.append(("m", ["E", "F"], I32))
    node = helper.make_node("QEmbedLayerNormalization", names, ["y", "mi"], domain=MS, epsilon=1e-5)
    return model([node], ins, ["y", ("mi", I32)], inits)


def test_position_table_bounds_the_sequence() -> None:
    a = run(_emb())
    assert shape_of(a, "y") == shape_of(a, "es") == (S("B"), S("S"), 8)
    assert shape_of(a, "mi") == (S("B"),)
    ok = {"B": 2, "S": 6, "C": 2, "D": 6}
    assert holds_all(a, ok)
    assert codes_failing(a, {"B": 2, "S": 7, "C": 2, "D": 7}) == {"GC009"}  # 6 position rows
    assert codes_failing(a, {**ok, "D": 5}) == {"GC010"}  # segment_ids has input_ids' shape
    q = run(_qemb(seg=False))
    assert codes_failing(q, {"B": 1, "S": 7}) == {"GC009"}


def _cases() -> list[Case]:
    c: list[Case] = []
    c.append((_emb(), grid(B=[1, 2], S=[1, 2, 5, 6, 7, 8], C=[1, 2], D=[1, 2, 6, 7])))
    c.append((_emb(seg=False, mask=True), grid(B=[1, 2], S=[1, 2, 6, 7], E=[1, 2], F=[1, 2, 6, 7])))
    c.append((_emb(seg=False, pos=["A", "Q"]), grid(B=[1, 2], S=[1, 2, 6, 7, 9], A=[1, 2, 3], Q=[1, 2, 6, 7])))
    c.append((_emb(seg=False, hs=(8, 8, 8, 7, 8)), grid(B=[1], S=[1])))
    c.append((_emb(hs=(8, 8, 7, 8, 8)), grid(B=[1], S=[1], C=[1], D=[1])))
    c.append((_emb(hs=(8, 7, 8, 8, 8)), grid(B=[1], S=[1], C=[1], D=[1])))
    c.append((_qemb(), grid(B=[1, 2], S=[1, 2, 5, 6, 7, 8], C=[1, 2], D=[1, 2, 6, 7])))
    c.append((_qemb(seg=False, mask=True), grid(B=[1, 2], S=[1, 2, 6, 7], E=[1, 2], F=[1, 2, 6, 7])))
    return c


def test_agree_with_onnxruntime() -> None:
    for semantics in ("ort", "spec"):  # no deviation from the docs
        n, bad = against_ort(_cases(), semantics=semantics)
        assert n > 400
        assert not bad, "\n".join(bad[:20])


def _ranged_positions() -> onnx.ModelProto:
    """GPT-2 after the optimizer: position_ids = Range(P, P + S) of a cache of length P."""
    nodes = [
        helper.make_node("Shape", ["past"], ["ps"], start=1, end=2),
        helper.make_node("Shape", ["ids"], ["is"], start=1, end=2),
        helper.make_node("Squeeze", ["ps"], ["p"]),
        helper.make_node("Squeeze", ["is"], ["s"]),
        helper.make_node("Add", ["p", "s"], ["e"]),
        helper.make_node("Range", ["p", "e", "one"], ["r"]),
        helper.make_node("Unsqueeze", ["r", "zero"], ["r2"]),
        helper.make_node("Cast", ["r2"], ["pos"], to=I32),
        helper.make_node(
            "EmbedLayerNormalization", ["ids", "", "we", "pe", "", "g", "b", "", "pos"], ["y", "mi"], domain=MS
        ),
    ]
    inits = [tensor("one", 1, np.int64), tensor("zero", [0], np.int64), tensor("we", np.ones((10, 8)))]
    inits += [tensor("pe", np.ones((6, 8))), tensor("g", np.ones(8)), tensor("b", np.zeros(8))]
    return model(nodes, [("ids", ["B", "S"], I32), ("past", ["B", "P"], I32)], ["y"], inits)


def test_position_ids_by_their_range() -> None:
    a = run(_ranged_positions())
    assert holds_all(a, {"B": 1, "S": 2, "P": 4}) and codes_failing(a, {"B": 1, "S": 3, "P": 4}) == {"GC009"}
    n, bad = against_ort([(_ranged_positions(), grid(B=[1, 2], S=[1, 2, 3, 5, 6, 7], P=[1, 2, 3, 4, 5, 6]))])
    assert n == 72 and not bad, bad[:5]

"""onnxruntime's fused attention ops (com.microsoft Attention, QAttention, MultiHeadAttention,
GroupQueryAttention, RotaryEmbedding): exact shapes and conditions, checked against onnxruntime at
every size of a grid (verdict and output shapes); the contrib docs are the spec."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from graphcheck.symbolic.expr import emax
from tests.infer.ops._mrc import S, codes_failing, holds_all, run, shape_of
from tests.infer.ops._msft import I32, I64, MS, U8, F, grid, model, tensor, trim
from tests.infer.ops._xref import against_ort

Case = tuple[onnx.ModelProto, list[dict[str, int]]]
RNG = np.random.default_rng(0)


def _att(mask=None, past=None, ab=None, **attrs) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    inits = [tensor("w", RNG.random((8, 24)) * 0.1), tensor("b", np.zeros(24))]
    ins = [("x", ["B", "S", "H"], F)]
    names = ["x", "w", "b", "", "", ""]
    for i, name, dims, dt in ((3, "m", mask, I32), (4, "p", past, F), (5, "ab", ab, F)):
        if dims is not None:
            ins.append((name, dims, dt))
            names[i] = name
    outs = ["y"] + (["pr"] if past is not None else [])
    node = helper.make_node("Attention", trim(names), outs, domain=MS, num_heads=2, **attrs)
    return model([node], ins, outs, inits)


def _qatt(mask=None, past=None, wscale: tuple[int, ...] = (), cols: int = 24) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    inits = [
        tensor("w", np.ones((8, cols)), np.uint8),
        tensor("b", np.zeros(cols)),
        tensor("xs", 0.1),
        tensor("ws", np.full(wscale, 0.1) if wscale else 0.1),
        tensor("xz", 0, np.uint8),
        tensor("wz", np.zeros(wscale) if wscale else 0, np.uint8),
    ]
    ins = [("x", ["B", "S", "H"], U8)]
    names = ["x", "w", "b", "xs", "ws", "", "xz", "wz", ""]
    for i, name, dims, dt in ((5, "m", mask, I32), (8, "p", past, F)):
        if dims is not None:
            ins.append((name, dims, dt))
            names[i] = name
    outs = ["y"] + (["pr"] if past is not None else [])
    return model([helper.make_node("QAttention", trim(names), outs, domain=MS, num_heads=2)], ins, outs, inits)


def _mha(q, k, v, bias=None, mask=None, past=None, ab=None, nout=1) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    ins = [("q", q, F), ("k", k, F), ("v", v, F)]
    names = ["q", "k", "v", "", "", "", "", ""]
    inits = []
    if bias is not None:
        inits.append(tensor("bias", np.zeros(bias)))
        names[3] = "bias"
    for i, name, dims, dt in ((4, "m", mask, I32), (5, "ab", ab, F)):
        if dims is not None:
            ins.append((name, dims, dt))
            names[i] = name
    if past is not None:
        ins += [("pk", past, F), ("pv", past, F)]
        names[6:8] = ["pk", "pv"]
    outs = ["y", "pko", "pvo", "qk"][:nout]
    return model([helper.make_node("MultiHeadAttention", trim(names), outs, domain=MS, num_heads=2)], ins, outs, inits)


def _gqa(qdim, kv=None, past=None, rotary_rows=0, nh=4, kvh=2, hs=8) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    """As model builders make it: total_sequence_length is the mask's length, seqlens_k its sum - 1
    (here length - 1: the probes feed zeros)."""
    nodes = [
        helper.make_node("Shape", ["m"], ["ms"]),
        helper.make_node("Gather", ["ms", "one"], ["t64"], axis=0),
        helper.make_node("Cast", ["t64"], ["total"], to=I32),
        helper.make_node("Sub", ["t64", "one"], ["tm1"]),
        helper.make_node("Slice", ["ms", "zero1", "one1"], ["bs"]),
        helper.make_node("Expand", ["tm1", "bs"], ["sk64"]),
        helper.make_node("Cast", ["sk64"], ["seqlens"], to=I32),
    ]
    inits = [tensor("one", 1, np.int64), tensor("zero1", [0], np.int64), tensor("one1", [1], np.int64)]
    ins = [("q", ["B", "S", qdim], F), ("m", ["B", "T"], I64)]
    names = ["q", "", "", "", "", "seqlens", "total"]
    if kv:
        ins += [("k", kv, F), ("v", kv, F)]
        names[1:3] = ["k", "v"]
    cache = past or ["B", kvh, "P", hs]
    ins += [("pk", cache, F), ("pv", cache, F)]
    names[3:5] = ["pk", "pv"]
    attrs = {}
    if rotary_rows:
        inits += [tensor("cos", np.ones((rotary_rows, hs // 2))), tensor("sin", np.ones((rotary_rows, hs // 2)))]
        names += ["cos", "sin"]
        attrs["do_rotary"] = 1
    outs = ["y", "pko", "pvo"]
    nodes.append(
        helper.make_node("GroupQueryAttention", names, outs, domain=MS, num_heads=nh, kv_num_heads=kvh, **attrs)
    )
    return model(nodes, ins, outs, inits)


def _rot(x, pos, rows=8, width=4, offset=None, **attrs) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    inits = [tensor("cos", np.ones((rows, width))), tensor("sin", np.ones((rows, width)))]
    ins = [("x", x, F)]
    if offset is not None:
        inits.append(tensor("pos", [offset], np.int64))
    else:
        ins.append(("pos", pos, I64))
    node = helper.make_node("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"], domain=MS, **attrs)
    return model([node], ins, ["y"], inits)


def _dmmha(q, k, v, past=None, share=0, psl=None, mask=None, bias=False, nout=3) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    ins = [("q", q, F), ("k", k, F), ("v", v, F)]
    names = ["q", "k", "v", "", "", "", "", "", "", "", ""]
    inits = []
    if mask is not None:
        ins.append(("m", mask, I32))
        names[3] = "m"
    if past is not None:
        ins += [("pk", past, F), ("pv", past, F)]
        names[5:7] = ["pk", "pv"]
    if psl is not None:
        inits.append(tensor("psl", psl, np.int32))
        names[7] = "psl"
    if bias:
        inits.append(tensor("bias", np.zeros(24)))
        names[10] = "bias"
    outs = ["y", "pko", "pvo"][:nout]
    node = helper.make_node(
        "DecoderMaskedMultiHeadAttention", trim(names), outs, domain=MS, num_heads=2, past_present_share_buffer=share
    )
    return model([node], ins, outs, inits)


# ---------------------------------------------------------------------------------------------
# exact shapes and conditions


def test_attention_with_past_and_masks() -> None:
    a = run(_att(mask=["M", "T"], past=[2, "B", 2, "P", 4]))
    assert shape_of(a, "y") == (S("B"), S("S"), 8)
    assert shape_of(a, "pr") == (2, S("B"), 2, S("P") + S("S"), 4)
    ok = {"B": 2, "S": 3, "H": 8, "P": 4, "M": 2, "T": 7}
    assert holds_all(a, ok) and holds_all(a, {**ok, "M": 1, "T": 1})  # the "dummy" mask
    assert codes_failing(a, {**ok, "T": 6}) == {"GC010"}  # the mask covers past + new
    assert codes_failing(a, {**ok, "H": 7}) == {"GC005"}  # the merged weights have 8 rows
    four = run(_att(mask=["B", 1, "M", "M"]))
    assert holds_all(four, {"B": 1, "S": 2, "H": 8, "M": 3})  # the docs allow it ...
    assert [n.code for n in four.notes] == ["GC111"]  # ... the CPU kernel refuses it at every size


def test_group_query_attention_cache_modes() -> None:
    a = run(_gqa(128, rotary_rows=64, hs=16))
    assert shape_of(a, "y") == (S("B"), S("S"), 64)
    assert shape_of(a, "pko") == (S("B"), 2, emax(S("P"), S("T")), 16)
    ok = {"B": 1, "S": 3, "P": 5, "T": 8}
    assert holds_all(a, ok)
    assert holds_all(a, {**ok, "T": 4})  # a static cache of 5 rows
    assert codes_failing(a, {**ok, "T": 7}) == {"GC010"}  # neither P + S nor <= P
    assert codes_failing(a, {**ok, "B": 2}) == {"GC010"}  # 3 tokens after a cache need batch 1
    assert codes_failing(a, {**ok, "P": 62, "T": 65}) == {"GC009"}  # 64 rotary rows


# ---------------------------------------------------------------------------------------------
# against onnxruntime


def _cases() -> list[Case]:
    c: list[Case] = []
    c.append((_att(["M"]), grid(B=[1, 2, 3], S=[1, 2], H=[8, 7], M=[1, 2, 3, 4, 5, 6, 8, 11])))
    c.append((_att(["M", "T"]), grid(B=[1, 2, 3], S=[1, 2, 3], H=[8], M=[1, 2, 3, 4], T=[1, 2, 3])))
    c.append((_att(["M", "Q", "T"]), grid(B=[2], S=[2, 3], H=[8], M=[1, 2], Q=[1, 2, 3], T=[1, 2, 3])))
    c.append(
        (
            _att(None, past=["A", "C", "E", "P", "D"]),
            grid(B=[2], S=[1, 2], H=[8], A=[1, 2], C=[1, 2], E=[2], P=[1, 3], D=[3, 4]),
        )
    )
    c.append(
        (_att(["M", "T"], past=[2, "B", 2, "P", 4]), grid(B=[1, 2], S=[1, 2], H=[8], P=[1, 3], M=[1, 2], T=range(1, 6)))
    )
    c.append(
        (
            _att(None, ab=["A", "C", "Q", "T"]),
            grid(B=[2], S=[2, 3], H=[8], A=[1, 2, 3], C=[1, 2, 3], Q=[2, 3], T=[2, 3]),
        )
    )
    c.append((_att(["M", 1, "Q", "T"]), grid(B=[2], S=[2, 3], H=[8], M=[1, 2], Q=[2, 3, 4], T=[2, 3, 4])))
    c.append((_att(None, unidirectional=1), grid(B=[1, 2], S=[1, 2, 3], H=[8])))
    c.append((_qatt(["M"]), grid(B=[1, 2, 3], S=[1, 2], H=[8, 7], M=[1, 2, 3, 5, 8, 11])))
    c.append((_qatt(["M", "T"]), grid(B=[1, 2, 3], S=[1, 2, 3], H=[8], M=[1, 2, 3], T=[1, 2, 3])))
    c.append(
        (
            _qatt(None, past=["A", "C", "E", "P", "D"]),
            grid(B=[2], S=[1, 2], H=[8], A=[2], C=[1, 2], E=[1, 2], P=[1, 3], D=[3, 4]),
        )
    )
    c.append((_qatt(None, wscale=(24,)), grid(B=[1, 2], S=[1, 2], H=[8])))
    c.append((_qatt(None, wscale=(3,)), grid(B=[1], S=[1], H=[8])))
    c.append(
        (
            _mha(["B", "S", "H"], ["B", "L", "K"], ["B", "L", "V"]),
            grid(B=[1, 2], S=[1, 2], L=[1, 3], H=[8, 7], K=[8, 6], V=[8, 6, 5]),
        )
    )
    c.append(
        (_mha(["B", "S", 8], ["C", "L", 8], ["B", "M", 8]), grid(B=[1, 2], C=[1, 2], S=[1, 2], L=[1, 3], M=[1, 3]))
    )
    c.append((_mha(["B", "S", 8], ["B", "L", 8], ["B", "L", 4], bias=20), grid(B=[1, 2], S=[1, 2], L=[1, 3])))
    c.append(
        (
            _mha(["B", "S", 8], ["B", "L", 8], ["B", "L", 8], mask=["M"]),
            grid(B=[1, 2], S=[1, 2], L=[1, 3], M=[1, 2, 3, 4, 5, 8]),
        )
    )
    c.append(
        (
            _mha(["B", "S", 8], ["B", "L", 8], ["B", "L", 8], mask=["M", "T"]),
            grid(B=[1, 2], S=[1, 2], L=[1, 3], M=[1, 2], T=[1, 2, 3]),
        )
    )
    c.append(
        (
            _mha(["B", "S", 8], ["B", "L", 8], ["B", "L", 8], mask=["M", "Q", "T"]),
            grid(B=[2], S=[1, 2], L=[1, 3], M=[1, 2], Q=[1, 2], T=[1, 3]),
        )
    )
    c.append(
        (
            _mha(["B", "S", 8], ["B", "L", 8], ["B", "L", 8], past=["B", "N", "P", "D"], nout=3),
            grid(B=[1, 2], S=[1, 2], L=[1, 2], N=[1, 2], P=[1, 3], D=[4, 3]),
        )
    )
    c.append(
        (
            _mha(["B", "S", 8], ["B", "N", "L", "D"], ["B", "N", "L", "D"]),
            grid(B=[1, 2], S=[1, 2], L=[1, 3], N=[1, 2], D=[4, 3]),
        )
    )
    c.append(
        (
            _mha(["B", "S", 8], ["B", "L", 8], ["B", "L", 8], ab=["A", "C", "Q", "T"]),
            grid(B=[2], S=[1, 2], L=[1, 3], A=[1, 2, 3], C=[1, 3], Q=[1, 2], T=[1, 3]),
        )
    )
    c.append((_gqa("D"), grid(B=[1, 2], S=[1, 2, 3], D=[64, 63], P=[1, 2, 4], T=range(1, 8))))
    c.append((_gqa(32, kv=["B", "S", "K"]), grid(B=[1, 2], S=[1, 2], K=[16, 8], P=[1, 3], T=range(1, 6))))
    c.append((_gqa(64, rotary_rows=6), grid(B=[1], S=[1, 2], P=[1, 2], T=range(1, 4))))
    c.append((_gqa(128, rotary_rows=6, hs=16), grid(B=[1, 2], S=[1, 2, 3], P=[1, 2, 4, 5, 6], T=range(1, 10))))
    c.append((_gqa(64, past=["B", "K", "P", "E"]), grid(B=[1], S=[1, 2], K=[1, 2], E=[4, 8], P=[2], T=range(1, 5))))
    c.append((_rot(["B", "S", "H"], ["A", "C"]), grid(B=[1, 2], S=[1, 2, 3], H=[8, 16, 12, 6], A=[1, 2], C=[1, 3])))
    c.append(
        (_rot(["B", "N", "S", "D"], ["A", "C"]), grid(B=[1, 2], N=[1, 2], S=[1, 3], D=[8, 6, 16], A=[1, 2], C=[1, 3]))
    )
    c.append((_rot(["B", "S", "H"], None, offset=3), grid(B=[1, 2], S=[1, 2, 5, 6, 8], H=[8, 16])))
    c.append(
        (
            _rot(["B", "S", "H"], ["A", "C"], num_heads=2, rotary_embedding_dim=8),
            grid(B=[1, 2], S=[1, 2], H=[8, 16, 32, 12], A=[1, 2], C=[1, 2]),
        )
    )
    c.append((_dmmha(["B", "S", 8], ["B", 2, "L", 4], ["B", 2, "L", 4], nout=1), grid(B=[1, 2], S=[1, 2], L=[1, 3])))
    c.append(
        (
            _dmmha(["B", 1, 8], ["B", 2, "L", 4], ["B", 2, "L", 4], mask=["A", "T"], nout=1),
            grid(B=[2], L=[1, 3], A=[1, 2], T=[1, 2, 3, 4]),
        )
    )
    c.append(
        (
            _dmmha(["B", "S", 8], ["B", "S", 8], ["B", "S", 8], past=["B", 2, "M", 4], share=1, psl=2),
            grid(B=[1, 2], S=[1, 2], M=[1, 2, 3, 4, 8]),
        )
    )
    c.append(
        (
            _dmmha(
                ["B", 1, 8], ["B", 1, 8], ["B", 1, 8], past=["B", 2, "M", 4], share=1, psl=2, mask=["A", "T"], bias=True
            ),
            grid(B=[2], M=[2, 3, 5], A=[1, 2], T=[1, 2, 3, 4]),
        )
    )
    c.append(
        (
            _dmmha(["B", 1, 8], ["B", 1, 8], ["B", 1, 8], past=["B", 2, "P", 4], mask=["B", "T"]),
            grid(B=[1, 2], P=[1, 3], T=[2, 4]),
        )
    )
    return c


CASES = _cases()


def test_agree_with_onnxruntime() -> None:
    n, bad = against_ort(CASES, semantics="ort")
    assert n > 1900
    assert not bad, "\n".join(bad[:20])


def test_docs_differ_from_onnxruntime_only_where_said() -> None:
    """By the docs a 4-D mask_index works; the CPU kernel refuses it. Rotary GQA needs a head size that
    is a multiple of 16 on the CPU (the docs are silent). DecoderMaskedMultiHeadAttention's unshared
    cache (the docs) is refused by the CPU kernel."""
    _, bad = against_ort(CASES, semantics="spec")
    assert bad and all(
        "multiple of 16" in b or "4D mask" in b or "decoder_masked_multihead_attention" in b for b in bad
    ), bad[:5]


def _sparse(rotary_rows: int = 0, blocks: int = 4, block: int = 16) -> onnx.ModelProto:
    """SparseAttention as model builders make it: total_sequence_length from the mask's length; a
    causal block mask of 4 blocks of 16 (maximum length 64) in CSR form."""
    nodes = [
        helper.make_node("Shape", ["m"], ["ms"]),
        helper.make_node("Gather", ["ms", "one"], ["t64"], axis=0),
        helper.make_node("Cast", ["t64"], ["total"], to=I32),
        helper.make_node("Slice", ["ms", "zero1", "one1"], ["bs"]),
        helper.make_node("Expand", ["t64", "bs"], ["kt64"]),
        helper.make_node("Cast", ["kt64"], ["ktotal"], to=I32),
    ]
    rows, cols = [0], []
    for r in range(blocks):
        cols += list(range(r + 1))
        rows.append(len(cols))
    inits = [tensor("one", 1, np.int64), tensor("zero1", [0], np.int64), tensor("one1", [1], np.int64)]
    inits += [tensor("rows", [rows], np.int32), tensor("cols", [cols], np.int32)]
    names = ["q", "", "", "pk", "pv", "rows", "cols", "total", "ktotal"]
    attrs = dict(num_heads=4, kv_num_heads=2, sparse_block_size=block)
    if rotary_rows:
        inits += [tensor("cos", np.ones((rotary_rows, 8))), tensor("sin", np.ones((rotary_rows, 8)))]
        names += ["cos", "sin"]
        attrs["do_rotary"] = 1
    ins = [
        ("q", ["B", "S", 128], F),
        ("m", ["B", "T"], I64),
        ("pk", ["B", 2, "M", 16], F),
        ("pv", ["B", 2, "M", 16], F),
    ]
    nodes.append(helper.make_node("SparseAttention", names, ["y", "pko", "pvo"], domain=MS, **attrs))
    return model(nodes, ins, ["y", "pko", "pvo"], inits)


def test_sparse_attention_conditions_are_onnxruntimes() -> None:
    """A plain session run of SparseAttention always fails (its CPU kernel needs past and present bound
    to one buffer); the sizes that pass every other check are exactly those the rule accepts: they
    reach that last check, the others fail earlier."""
    import graphcheck
    from tests.infer.ops._mrc import input_shapes
    from tests.ortprobe import probe_many

    cases = [
        (_sparse(), grid(B=[1, 2], S=[1, 2, 3], T=[1, 2, 3, 4, 63, 64, 65], M=[1, 3, 4, 64, 65, 70])),
        (_sparse(rotary_rows=8), grid(B=[1], S=[1, 2], T=[1, 2, 7, 8, 9, 10], M=[16])),
    ]
    results = probe_many([(m, [input_shapes(m, e) for e in envs]) for m, envs in cases])
    n = 0
    for (m, envs), res in zip(cases, results):
        spec, ort = graphcheck.check(m), graphcheck.check(m, semantics="ort")
        for env, r in zip(envs, res):
            n += 1
            assert not r.ok and ort.accepts(env) is False
            reached_last_check = "DataRaw() == present_key" in r.error
            assert spec.accepts(env) is reached_last_check, (env, r.error)
    assert n == 264

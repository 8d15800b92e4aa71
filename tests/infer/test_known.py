"""Reasoning under what is already proven (graphcheck.symbolic.assume in the walk).

A rule decides under the conditions collected upstream: only sizes meeting them matter, since at
any other size the model is already invalid. Each model here was undecided ("unknown") by a rule
that looked at its inputs alone; each is now exact, and each answer is checked in onnxruntime at
every size of a range around its boundaries.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import onnx
from onnx import helper

from graphcheck.infer.resume import reanalyze, with_semantics
from graphcheck.symbolic.expr import floordiv
from tests.infer.ops._shapekit import S, const_init, differential, make_model, notes, run, shape_at

L = S("L")


def _n(op: str, ins: list[str], outs: list[str], **attrs: Any) -> onnx.NodeProto:
    return helper.make_node(op, ins, outs, name=f"{op}_{outs[0]}", **attrs)


def _length(src: str, axis: int, out: str) -> list[onnx.NodeProto]:
    """Shape -> Gather: the size of ``src`` on ``axis`` as a 0-D value (computed before any conv)."""
    return [_n("Shape", [src], [f"{out}_shape"]), _n("Gather", [f"{out}_shape", f"ax{axis}"], [out], axis=0)]


def _weight(name: str, cout: int, cin: int, k: int) -> onnx.TensorProto:
    return const_init(name, np.full((cout, cin, k), 0.1), np.float32)


def wav2vec2_groupnorm() -> onnx.ModelProto:
    """A conv (k=10, s=5) whose output is reshaped to [N, 4, floor(L/5) - 1], the length computed from
    the input's Shape as the exporter does: -1 only at L <= 4, where the conv already fails."""
    nodes = [
        _n("Conv", ["x", "w"], ["y"], strides=[5]),
        *_length("x", 2, "len"),
        _n("Div", ["len", "five"], ["len5"]),
        _n("Sub", ["len5", "one"], ["t"]),
        _n("Unsqueeze", ["t", "axes0"], ["t1"]),
        _n("Concat", ["n_and_c", "t1"], ["target"], axis=0),
        _n("Reshape", ["y", "target"], ["out"]),
    ]
    inits = [
        _weight("w", 4, 1, 10),
        const_init("ax2", 2),
        const_init("five", 5),
        const_init("one", 1),
        const_init("axes0", [0]),
        const_init("n_and_c", [0, 4]),
    ]
    return make_model(nodes, {"x": ["N", 1, "L"]}, ["out"], inits)


def trunc_length_then_reshape() -> onnx.ModelProto:
    """The dynamo exporter's length arithmetic, done before the conv it describes: integer Div
    truncates toward zero, so (L - 240) / 160 + 1 is a min/max of floors until L >= 240 is known."""
    nodes = [
        *_length("x", 2, "len"),
        _n("Sub", ["len", "k"], ["num"]),
        _n("Div", ["num", "s"], ["q"]),
        _n("Add", ["q", "one"], ["frames"]),
        _n("Unsqueeze", ["frames", "axes0"], ["frames1"]),
        _n("Conv", ["x", "w"], ["y"], strides=[160]),
        _n("Concat", ["zero", "frames1", "minus_one"], ["target"], axis=0),
        _n("Reshape", ["y", "target"], ["out"]),
    ]
    inits = [
        _weight("w", 4, 1, 240),
        const_init("ax2", 2),
        const_init("k", 240),
        const_init("s", 160),
        const_init("one", 1),
        const_init("axes0", [0]),
        const_init("zero", [0]),
        const_init("minus_one", [-1]),
    ]
    return make_model(nodes, {"x": ["N", 1, "L"]}, ["out"], inits)


def gather_loose_bounds_inside() -> onnx.ModelProto:
    """Indices Range(0, L) + Range(0, L): known only to lie in [0, 2L - 2] (the extremes pair up, so
    they are not attained together), gathered from 2L rows: inside wherever L >= 1."""
    nodes = [
        *_length("x", 0, "len"),
        _n("Range", ["zero", "len", "one"], ["r"]),
        _n("Add", ["r", "r"], ["idx"]),
        _n("Concat", ["x", "x"], ["table"], axis=0),
        _n("Gather", ["table", "idx"], ["out"], axis=0),
    ]
    inits = [const_init("ax0", 0), const_init("zero", 0), const_init("one", 1)]
    return make_model(nodes, {"x": ["L", 3]}, ["out"], inits)


def flatten_then_split_rows() -> onnx.ModelProto:
    """A CRNN's Reshape(-1) over a flattened feature map: 32*(L + 1) elements in L + 1 rows, the -1
    is the polynomial quotient 32."""
    nodes = [
        _n("Pad", ["x", "pads"], ["p"]),
        _n("Flatten", ["p"], ["flat"], axis=1),
        *_length("x", 2, "len"),
        _n("Add", ["len", "one"], ["rows"]),
        _n("Unsqueeze", ["rows", "axes0"], ["rows1"]),
        _n("Concat", ["zero", "rows1", "minus_one"], ["target"], axis=0),
        _n("Reshape", ["flat", "target"], ["out"]),
    ]
    inits = [
        const_init("pads", [0, 0, 0, 0, 0, 1]),
        const_init("ax2", 2),
        const_init("one", 1),
        const_init("axes0", [0]),
        const_init("zero", [0]),
        const_init("minus_one", [-1]),
    ]
    return make_model(nodes, {"x": ["N", 32, "L"]}, ["out"], inits)


def test_reshape_entry_is_never_minus_one_where_the_conv_holds() -> None:
    a = run(wav2vec2_groupnorm())
    assert a.complete, [n.message for n in a.notes]
    assert shape_at(a, "out", N=2, L=23) == (2, 4, 3)
    assert any(st.assumed is not None for st in a.steps)  # the Reshape read what was known


def test_truncated_length_is_settled_where_it_is_used() -> None:
    a = run(trunc_length_then_reshape())
    assert a.complete, [n.message for n in a.notes]
    assert a.facts["out"].shape == (S("N"), floordiv(L - 80, 160), 4)


def test_loose_index_bounds_inside_the_axis_need_no_condition() -> None:
    a = run(gather_loose_bounds_inside())
    assert a.complete and "GC102" not in notes(a)
    assert a.facts["idx"].bounds_exact is False


def test_reshape_minus_one_is_a_polynomial_quotient() -> None:
    a = run(flatten_then_split_rows())
    assert a.complete, [n.message for n in a.notes]
    assert shape_at(a, "out", N=3, L=5) == (3, 6, 32)


def test_onnxruntime_agrees_at_every_size() -> None:
    lengths = [*range(1, 30, 7), *range(230, 500, 9)]
    cases = [
        (wav2vec2_groupnorm(), [{"N": 1, "L": v} for v in range(1, 40)]),
        (trunc_length_then_reshape(), [{"N": 1, "L": v} for v in lengths]),
        (gather_loose_bounds_inside(), [{"L": v} for v in range(1, 12)]),
        (flatten_then_split_rows(), [{"N": 2, "L": v} for v in range(1, 12)]),
    ]
    d = differential(cases)
    assert not d.mismatches, d.mismatches[:5]
    # the convs reject L < 10 and L < 240; everything else runs
    assert d.rejected == 9 + sum(v < 240 for v in lengths)
    assert d.ran == d.checked - d.rejected


def test_resumed_walks_rerun_what_reasoned_under_changed_conditions() -> None:
    """A changed conv changes what is known downstream; re-inference re-runs the rules that read it
    and equals a fresh analysis (here: the conv's stride 5 -> 1 makes the Reshape's count fail)."""
    m = wav2vec2_groupnorm()
    a = run(m)
    conv = next(n for n in a.order if n.op_type == "Conv")
    changed = replace(conv, attrs={**conv.attrs, "strides": (1,)})
    b = reanalyze(a, {conv.index: changed})
    assert b is not None
    m2 = onnx.ModelProto()
    m2.CopyFrom(m)
    m2.graph.node[0].attribute[0].ints[:] = [1]
    fresh = run(m2)
    assert [str(r.cond) for r in b.requirements] == [str(r.cond) for r in fresh.requirements]
    assert [str(r.cond) for r in with_semantics(a, "ort").requirements] == [
        str(r.cond) for r in run(m, "ort").requirements
    ]


def mask_rows_by_batch() -> onnx.ModelProto:
    """HF BERT's dynamo export: the attention mask [B2, S] read at index pairs (b, s) for b < B (the
    ids' batch) and s < S, built as Concat(Unsqueeze(Expand(Range)), ...) on the last axis. Valid
    only where B <= B2: the pair's first component runs to B - 1, on an axis of size B2."""
    nodes = [
        *_length("ids", 0, "b"),
        *_length("ids", 1, "s"),
        _n("Range", ["zero", "b", "one"], ["rb"]),
        _n("Range", ["zero", "s", "one"], ["rs"]),
        _n("Unsqueeze", ["rb", "axes1"], ["rb1"]),  # [B, 1]
        _n("Unsqueeze", ["b", "axes0"], ["b1"]),
        _n("Unsqueeze", ["s", "axes0"], ["s1"]),
        _n("Concat", ["b1", "s1"], ["bs"], axis=0),
        _n("Expand", ["rb1", "bs"], ["eb"]),  # [B, S]: row index
        _n("Expand", ["rs", "bs"], ["es"]),  # [B, S]: column index
        _n("Unsqueeze", ["eb", "axes_last"], ["eb1"]),
        _n("Unsqueeze", ["es", "axes_last"], ["es1"]),
        _n("Concat", ["eb1", "es1"], ["pairs"], axis=-1),  # [B, S, 2]
        _n("GatherND", ["mask", "pairs"], ["out"]),
    ]
    inits = [
        const_init("ax0", 0),
        const_init("ax1", 1),
        const_init("zero", 0),
        const_init("one", 1),
        const_init("axes0", [0]),
        const_init("axes1", [1]),
        const_init("axes_last", [-1]),
    ]
    inputs = [("ids", ["B", "S"], onnx.TensorProto.INT64), ("mask", ["B2", "S"], onnx.TensorProto.FLOAT)]
    return make_model(nodes, inputs, ["out"], inits)


def test_index_pairs_are_checked_per_component() -> None:
    a = run(mask_rows_by_batch())
    assert a.complete, [n.message for n in a.notes]
    conds = {str(r.cond) for r in a.requirements if r.code == "GC009"}
    assert conds == {"B2 >= B"}, conds
    grid = [{"B": b, "B2": b2, "S": s} for b in (1, 2, 3) for b2 in (1, 2, 4) for s in (1, 3)]
    d = differential([(mask_rows_by_batch(), grid)])
    assert not d.mismatches, d.mismatches[:5]
    assert d.rejected == sum(g["B"] > g["B2"] for g in grid) and d.ran == d.checked - d.rejected


def test_piecewise_reshape_quotient_where_truncation_splits_the_size() -> None:
    """onnxruntime's pools truncate toward zero, so the CRNN's width after two pools is a min/max of
    floors; its Reshape(-1) is 32*(f - 1)*(M + 2) / (floor(W/4) + 1): 64*(f - 1) for W <= 3 and
    32*(f - 1) from W = 4 on, joined by indicators, equal to the quotient at every size."""
    from graphcheck.infer.ops.shape import _piecewise_quotient
    from graphcheck.symbolic.expr import emax

    H, W = S("H"), S("W")
    f = floordiv(H, 16)
    m = emax(0, floordiv(emax(0, floordiv(W, 2) - 1) - 1, 2))
    num, den = 64 * f + 32 * f * m - 32 * m - 64, floordiv(W, 4) + 1
    assert num.exact_div(den) is None
    q = _piecewise_quotient(num, den)
    assert q is not None
    sh, sw = H.as_sym(), W.as_sym()
    for h in (16, 32, 47, 48, 100):
        for w in range(1, 60):
            env = {sh: h, sw: w}
            n, d = num.evaluate(env), den.evaluate(env)
            assert n % d == 0 and q.evaluate(env) == n // d, (h, w)


def gather_loose_bounds_partly_inside() -> onnx.ModelProto:
    """Indices Range(0, L) + Range(0, L), known only to lie in [0, 2L - 2], gathered from L + 5
    rows: proven in range for L <= 6, undecided beyond (they are 0, 2, ..., 2L - 2 in truth, so
    onnxruntime fails from L = 7 on; the range alone cannot tell)."""
    nodes = [
        *_length("x", 0, "len"),
        _n("Range", ["zero", "len", "one"], ["r"]),
        _n("Add", ["r", "r"], ["idx"]),
        _n("Concat", ["x", "pad"], ["table"], axis=0),
        _n("Gather", ["table", "idx"], ["out"], axis=0),
    ]
    pad = const_init("pad", np.ones((5, 3)), np.float32)
    inits = [const_init("ax0", 0), const_init("zero", 0), const_init("one", 1), pad]
    return make_model(nodes, {"x": ["L", 3]}, ["out"], inits)


def reshape_entry_minus_one_at_two_sizes() -> onnx.ModelProto:
    """x[L, 4] reshaped to [floor(L/2) - 2, 4], the entry computed from the input's Shape with
    nothing upstream to bound L: -2 at L = 1 (invalid), -1 at L in {2, 3} (the Reshape would infer
    it: not followed, unknown there), 0 at L in {4, 5} (copies the input's L: valid), and from
    L = 6 on a count that no longer matches (invalid). The length is read with Shape(start=0,
    end=1): read with Shape -> Gather, onnxruntime's ReshapeFusion rewrites this Reshape into a copy
    of x's shape, ignoring the arithmetic (a runtime bug: with that optimizer disabled it agrees)."""
    nodes = [
        helper.make_node("Shape", ["x"], ["len1"], name="Shape_len", start=0, end=1),
        _n("Div", ["len1", "two"], ["half"]),
        _n("Sub", ["half", "two"], ["t1"]),
        _n("Concat", ["t1", "four"], ["target"], axis=0),
        _n("Reshape", ["x", "target"], ["out"]),
    ]
    inits = [const_init("two", [2]), const_init("four", [4])]
    return make_model(nodes, {"x": ["L", 4]}, ["out"], inits)


def test_nodes_followed_for_part_of_the_sizes_give_a_proven_part() -> None:
    import graphcheck

    r = graphcheck.check(gather_loose_bounds_partly_inside())
    assert r.valid.startswith("L <= 6   [proven; unknown for L >= 7, past Gather_out (Gather)")
    assert not r.complete and r.any_valid is True
    assert [r.accepts({"L": v}) for v in (1, 6, 7, 40)] == [True, True, None, None]
    assert [d.code for d in r.diagnostics] == ["GC110"]
    r2 = graphcheck.check(reshape_entry_minus_one_at_two_sizes())
    assert [r2.accepts({"L": v}) for v in range(1, 9)] == [False, None, None, True, True, False, False, False]
    assert r2.valid.startswith("L in {4, 5}   [proven; unknown for L in {2, 3}, past Reshape_out (Reshape)")
    assert differential_partial([(gather_loose_bounds_partly_inside(), [{"L": v} for v in range(1, 12)])]) == []
    # the Reshape against onnxruntime with its ReshapeFusion off (on, it silently copies x's shape)
    truth = _ort_runs(reshape_entry_minus_one_at_two_sizes(), range(1, 12), disabled=["ReshapeFusion"])
    assert truth == [False, True, True, True, True, False, False, False, False, False, False]
    assert _ort_runs(reshape_entry_minus_one_at_two_sizes(), range(1, 12)) == [True] * 11  # the runtime bug
    for v, ok in zip(range(1, 12), truth):
        assert r2.accepts({"L": v}) in (ok, None)


def test_findings_past_a_partly_followed_node_claim_no_failure_where_it_was_not_followed() -> None:
    """At L in {2, 3} the Reshape's entry is -1 (inferred: onnxruntime with ReshapeFusion off runs
    them, see above): the element count derived as if it were not -1 says nothing there. Its finding
    fails only L >= 6 and names {2, 3} as unknown; explain at L = 2 shows no shape past the node."""
    import graphcheck

    r = graphcheck.check(reshape_entry_minus_one_at_two_sizes())
    count = [d for d in r.diagnostics if d.what == "Reshape element count"]
    assert len(count) == 1
    assert count[0].fails_for == "L >= 6"
    assert "(unknown for L in {2, 3}, past Reshape_out (Reshape))" in count[0].message
    ev = r.at({"L": 2})
    assert ev.ok is None and ev.failures == []
    assert ev.not_followed is not None and ev.not_followed.node == "Reshape_out"
    assert ev.outputs == {"out": None}
    assert [n.outputs for n in ev.nodes if n.node == "Reshape_out"] == [(("out", None),)]
    ev6 = r.at({"L": 6})
    assert ev6.ok is False and ev6.outputs == {"out": (1, 4)}  # followed at 6: its shapes stand


def _ort_runs(m: onnx.ModelProto, lengths: range, disabled: list[str] | None = None) -> list[bool]:
    """Whether onnxruntime runs x[L, 4] at each L (a subprocess; optimizers may be switched off)."""
    import json
    import subprocess
    import sys
    import tempfile

    code = (
        "import json, sys, numpy as np, onnxruntime as ort\n"
        "so = ort.SessionOptions(); so.log_severity_level = 4\n"
        "s = ort.InferenceSession(sys.argv[1], so, providers=['CPUExecutionProvider'],"
        " disabled_optimizers=json.loads(sys.argv[2]))\n"
        "out = []\n"
        "for n in json.loads(sys.argv[3]):\n"
        "    try:\n"
        "        s.run(None, {'x': np.zeros((n, 4), np.float32)}); out.append(True)\n"
        "    except Exception:\n"
        "        out.append(False)\n"
        "print(json.dumps(out))\n"
    )
    with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
        f.write(m.SerializeToString())
        f.flush()
        args = [sys.executable, "-c", code, f.name, json.dumps(disabled or []), json.dumps(list(lengths))]
        res = subprocess.run(args, capture_output=True, text=True, timeout=120)
    return list(json.loads(res.stdout))


def differential_partial(cases: list[tuple[onnx.ModelProto, list[dict[str, int]]]]) -> list[str]:
    """Every definite answer agrees with onnxruntime; undecided sizes are not compared."""
    import graphcheck
    from tests.infer.ops._shapekit import input_shapes
    from tests.ortprobe import probe_many

    jobs = [(m, [input_shapes(m, e) for e in envs]) for m, envs in cases]
    bad = []
    for (m, envs), results in zip(cases, probe_many(jobs)):
        r = graphcheck.check(m)
        for e, res in zip(envs, results):
            ours = r.accepts(e)
            ort_ok = res.ok and all(all(n >= 1 for n in s) for s in res.shapes)
            if ours is not None and ours != ort_ok:
                bad.append(f"{e}: ours {ours}, onnxruntime {ort_ok} {res.error[:80]}")
    return bad

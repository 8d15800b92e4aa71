"""If, Loop and Scan bodies followed (graphcheck.infer.control, .loops, .cases, .modes), each
claim checked in onnxruntime at every size around its boundaries.

* an If on a condition of the sizes splits the analysis into cases, with per-case downstream
  (a Squeeze-or-Identity If changes the rank, and what follows is decided per case);
* an If on a boolean input is a mode: the valid set per value, ``accepts`` by the input's name;
* an If on data requires both branches;
* a Loop's trip count from a shape (and a ``while`` condition on a counter), its body's index
  reads bounded over every iteration, carried shapes that grow, scan outputs stacked;
* a Scan's scan inputs must agree in length; states keep their shapes.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

import graphcheck
from tests.infer.ops._mrc import init, make_model, weight
from tests.ortprobe import ProbeResult, probe_many

F, I64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def _vi(name: str, t: int = F, shape: list | None = None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, t, shape)


def _graph(nodes: list, name: str, outs: list[str], inputs: list | None = None, inits: list | None = None):
    return helper.make_graph(
        nodes, name, inputs or [], [_vi(o, F if o != "c_out" else BOOL) for o in outs], inits or []
    )


def _dim_of(src: str, axis: int, out: str, tag: str) -> list[onnx.NodeProto]:
    """``out`` = the scalar size of ``src``'s axis (Shape -> Gather)."""
    return [
        helper.make_node("Shape", [src], [f"{tag}_shape"]),
        helper.make_node("Gather", [f"{tag}_shape", f"{tag}_axis"], [out], axis=0),
    ]


def _ort(model: onnx.ModelProto, shapes: list[dict], fills: list[dict] | None = None) -> list[ProbeResult]:
    return probe_many([(model, shapes)], [fills] if fills is not None else None)[0]


# ------------------------------------------------------------------------------------ If on the sizes


def _parity_if() -> onnx.ModelProto:
    """x[N, 4, L] -> If(L % 2 == 0) {Conv k=5 -> mean | Conv k=3 -> mean} -> [N, 4]: L = 3 or L >= 5."""

    def branch(k: int, tag: str) -> onnx.GraphProto:
        return _graph(
            [
                helper.make_node("Conv", ["x", f"w{k}"], [f"{tag}_c"], name=f"conv{k}"),
                helper.make_node("ReduceMean", [f"{tag}_c", "ax2"], [f"{tag}_out"], keepdims=0),
            ],
            tag,
            [f"{tag}_out"],
        )

    nodes = [
        *_dim_of("x", 2, "L", "d"),
        helper.make_node("Mod", ["L", "two"], ["r"]),
        helper.make_node("Equal", ["r", "zero"], ["even"]),
        helper.make_node("If", ["even"], ["y"], name="parity", then_branch=branch(5, "t"), else_branch=branch(3, "e")),
    ]
    inits = [
        init("d_axis", 2, np.int64),
        init("two", 2, np.int64),
        init("zero", 0, np.int64),
        init("ax2", [2], np.int64),
        weight("w5", (4, 4, 5)),
        weight("w3", (4, 4, 3)),
    ]
    return make_model(nodes, {"x": ["N", 4, "L"]}, ["y"], inits)


def test_if_on_the_sizes_splits_into_cases() -> None:
    m = _parity_if()
    r = graphcheck.check(m)
    assert r.exact and r.valid == "L = 3 or L >= 5   (N: any >= 1)"
    assert len(r.analysis.cases) == 2
    fails = {d.node: d.fails_for for d in r.diagnostics if d.code == "GC001"}
    assert fails == {"then_branch of parity: conv5": "L in {2, 4}", "else_branch of parity: conv3": "L = 1"}
    sizes = list(range(1, 13)) + [101, 102]
    res = _ort(m, [{"x": (2, 4, L)} for L in sizes])
    for L, got in zip(sizes, res):
        assert r.accepts({"N": 2, "L": L}) is got.nonempty, L
        if got.ok:
            assert r.at({"N": 2, "L": L}).outputs == {"y": got.shapes[0]}
    ev = r.at({"N": 1, "L": 4})
    assert ev.ok is False and ev.context == "where L % 2 == 0"
    assert ev.first_failure is not None and ev.first_failure.node == "then_branch of parity: conv5"


def test_fixes_inside_a_branch_are_verified_and_run() -> None:
    """At L = 4 the even branch's 5-wide conv fails: the fixes change that conv inside its branch
    (verified by walking the changed model again in that case), and each, applied to the model,
    runs in onnxruntime at L = 4."""
    from onnx import numpy_helper

    m = _parity_if()
    r = graphcheck.check(m)
    fixes = r.fixes({"N": 1, "L": 4})
    layer = [f for f in fixes if f.node == "then_branch of parity: conv5"]
    assert {f.param for f in layer} == {"kernel_shape", "padding"}, fixes
    changed = []
    for f in layer:
        fixed = onnx.ModelProto()
        fixed.CopyFrom(m)
        branch = next(a.g for a in fixed.graph.node[-1].attribute if a.name == "then_branch")
        conv = next(n for n in branch.node if n.name == "conv5")
        del conv.attribute[:]
        for k, v in f.onnx_attrs.items():
            conv.attribute.append(helper.make_attribute(k, v))
        if f.weight_dims is not None:
            w = next(t for t in fixed.graph.initializer if t.name == "w5")
            w.CopyFrom(numpy_helper.from_array(np.ones(f.weight_dims, np.float32), "w5"))
        changed.append(fixed)
    res = probe_many([(x, [{"x": (1, 4, 4)}]) for x in changed])
    assert all(got[0].nonempty for got in res), [f.text for f in layer]


def _squeeze_if() -> onnx.ModelProto:
    """x[N, D] -> If(D == 1) {Squeeze axis 1 -> [N] | Identity -> [N, D]} -> MatMul(w[4, 3]):
    a vector needs N = 4, a matrix D = 4. Valid: (D = 1 and N = 4) or D = 4."""
    then = _graph([helper.make_node("Squeeze", ["x", "ax1"], ["t_out"])], "t", ["t_out"])
    other = _graph([helper.make_node("Identity", ["x"], ["e_out"])], "e", ["e_out"])
    nodes = [
        *_dim_of("x", 1, "D", "d"),
        helper.make_node("Equal", ["D", "one"], ["is1"]),
        helper.make_node("If", ["is1"], ["z"], name="maybe_squeeze", then_branch=then, else_branch=other),
        helper.make_node("MatMul", ["z", "w"], ["y"], name="dense"),
    ]
    inits = [init("d_axis", 1, np.int64), init("one", 1, np.int64), init("ax1", [1], np.int64), weight("w", (4, 3))]
    return make_model(nodes, {"x": ["N", "D"]}, ["y"], inits)


def test_if_changing_the_rank_is_followed_per_case() -> None:
    m = _squeeze_if()
    r = graphcheck.check(m)
    assert r.exact and r.valid == "D in {1, 4}; D >= 2 or N = 4"
    assert r.output_dims["y"] is None  # [3] where D = 1, [N, 3] elsewhere: no one rank
    grid = [(n, d) for n in range(1, 7) for d in range(1, 7)]
    res = _ort(m, [{"x": (n, d)} for n, d in grid])
    for (n, d), got in zip(grid, res):
        want = (d == 1 and n == 4) or d == 4
        assert got.nonempty is want, (n, d, got)
        assert r.accepts({"N": n, "D": d}) is want, (n, d)
        if want:
            assert r.at({"N": n, "D": d}).outputs["y"] == got.shapes[0]


# ------------------------------------------------------------------------------------ modes and data


def _flag_if() -> onnx.ModelProto:
    """ids[B, L], flag: bool -> If(flag) {Gather(t16, Range(0, L)) | Gather(t32, Range(0, L))}:
    with flag = true L <= 16, with flag = false L <= 32."""

    def branch(rows: int, tag: str) -> onnx.GraphProto:
        return _graph(
            [helper.make_node("Gather", [f"table{rows}", "pos"], [f"{tag}_out"], axis=0)], tag, [f"{tag}_out"]
        )

    nodes = [
        *_dim_of("ids", 1, "L", "d"),
        helper.make_node("Range", ["zero", "L", "one"], ["pos"]),
        helper.make_node(
            "If", ["flag"], ["y"], name="choose", then_branch=branch(16, "t"), else_branch=branch(32, "e")
        ),
    ]
    inits = [
        init("d_axis", 1, np.int64),
        init("zero", 0, np.int64),
        init("one", 1, np.int64),
        weight("table16", (16, 4)),
        weight("table32", (32, 4)),
    ]
    return make_model(nodes, [("ids", ["B", "L"], I64), ("flag", [], BOOL)], ["y"], inits)


def test_if_on_a_boolean_input_is_a_mode() -> None:
    m = _flag_if()
    r = graphcheck.check(m)
    assert r.exact
    assert r.valid == "with flag = true: L <= 16; with flag = false: L <= 32   (B: any >= 1)"
    assert r.mode_inputs == ["flag"]
    sizes = [1, 15, 16, 17, 31, 32, 33]
    res = _ort(m, [{"ids": (1, L), "flag": ()} for L in sizes] * 2, [{"flag": 1}] * 7 + [{"flag": 0}] * 7)
    for i, got in enumerate(res):
        flag, L = 1 - i // 7, sizes[i % 7]
        assert r.accepts({"B": 1, "L": L, "flag": flag}) is got.nonempty, (flag, L)
    assert r.accepts({"B": 1, "L": 20}) is False  # no mode given: every mode must accept
    assert r.accepts({"B": 1, "L": 16}) is True
    ev = r.at({"B": 1, "L": 20})
    assert ev.ok is False and ev.context == "with flag = true"
    d = next(d for d in r.diagnostics if d.code == "GC009")
    assert d.context == "with flag = true" and d.node == "then_branch of choose: Gather_0"


def test_if_on_data_requires_both_branches() -> None:
    then = _graph([helper.make_node("Conv", ["x", "w3"], ["t_out"])], "t", ["t_out"])
    other = _graph(
        [helper.make_node("Conv", ["x", "w5"], ["e_c"]), helper.make_node("Pad", ["e_c", "p"], ["e_out"])],
        "e",
        ["e_out"],
    )
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "fzero"], ["pos"]),
        helper.make_node("If", ["pos"], ["y"], name="on_data", then_branch=then, else_branch=other),
    ]
    inits = [
        init("fzero", 0.0),
        weight("w3", (2, 2, 3)),
        weight("w5", (2, 2, 5)),
        init("p", [0, 0, 1, 0, 0, 1], np.int64),
    ]
    m = make_model(nodes, {"x": [1, 2, "L"]}, ["y"], inits)
    r = graphcheck.check(m)
    assert r.exact and r.valid == "L >= 5"
    assert r.output_dims["y"] == ["1", "2", "L - 2"]  # both branches give L - 2 (the pad restores 2)
    assert any(d.code == "GC104" for d in r.diagnostics)
    res = _ort(m, [{"x": (1, 2, L)} for L in range(5, 9)])
    assert all(x.nonempty and x.shapes[0] == (1, 2, L - 2) for L, x in zip(range(5, 9), res))


# ---------------------------------------------------------------------------------------------- Loop


def _rnn_loop() -> onnx.ModelProto:
    """x[T, B, 8]: Loop over T (trip count from the shape), h = tanh(x[t] @ W + h @ U + pos[t]) with
    a 10-row table pos, scan output ys[T, B, 6], then Conv1d k=5 over time: 5 <= T <= 10."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["c_in"], ["c_out"]),
            helper.make_node("Gather", ["x", "t"], ["xt"], axis=0),
            helper.make_node("MatMul", ["xt", "W"], ["a"]),
            helper.make_node("MatMul", ["h", "U"], ["b"]),
            helper.make_node("Gather", ["pos", "t"], ["pt"], axis=0),
            helper.make_node("Add", ["a", "b"], ["ab"]),
            helper.make_node("Add", ["ab", "pt"], ["abp"]),
            helper.make_node("Tanh", ["abp"], ["h_out"]),
            helper.make_node("Identity", ["h_out"], ["y_t"]),
        ],
        "cell",
        [_vi("t", I64, []), _vi("c_in", BOOL, []), _vi("h", F, None)],
        [_vi("c_out", BOOL, []), _vi("h_out", F, None), _vi("y_t", F, None)],
    )
    nodes = [
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Gather", ["shp", "zero"], ["T"], axis=0),
        helper.make_node("Gather", ["shp", "one"], ["B"], axis=0),
        helper.make_node("Unsqueeze", ["B", "ax0"], ["B1"]),
        helper.make_node("Concat", ["B1", "six"], ["hshape"], axis=0),
        helper.make_node("ConstantOfShape", ["hshape"], ["h0"], value=helper.make_tensor("v", F, [1], [0.0])),
        helper.make_node("Loop", ["T", "", "h0"], ["h_last", "ys"], name="rnn", body=body),
        helper.make_node("Transpose", ["ys"], ["yt"], perm=[1, 2, 0]),
        helper.make_node("Conv", ["yt", "k"], ["y"], name="conv"),
    ]
    inits = [
        init("zero", 0, np.int64),
        init("one", 1, np.int64),
        init("ax0", [0], np.int64),
        init("six", [6], np.int64),
        weight("W", (8, 6)),
        weight("U", (6, 6)),
        weight("pos", (10, 6)),
        weight("k", (3, 6, 5)),
    ]
    return make_model(nodes, {"x": ["T", "B", 8]}, ["y", "h_last"], inits, opset=16)


def test_loop_over_the_time_steps() -> None:
    m = _rnn_loop()
    r = graphcheck.check(m)
    assert r.exact and r.valid == "5 <= T <= 10   (B: any >= 1)", r.valid
    assert r.output_dims == {"y": ["B", "3", "T - 4"], "h_last": ["B", "6"]}
    gather = next(d for d in r.diagnostics if d.code == "GC009")
    assert gather.node == "body of rnn: Gather_4" and gather.fails_for == "T >= 11"
    sizes = list(range(1, 13))
    res = _ort(m, [{"x": (T, 2, 8)} for T in sizes])
    for T, got in zip(sizes, res):
        assert r.accepts({"T": T, "B": 2}) is got.nonempty, (T, got)
        if got.ok and got.nonempty:
            assert r.at({"T": T, "B": 2}).outputs == {"y": got.shapes[0], "h_last": got.shapes[1]}


def _while_loop(grow: bool) -> onnx.ModelProto:
    """tf2onnx's ``while`` form: no trip count, the condition ``i < n`` computed before the loop
    and ``i + 1 < n`` in the body; x[n, D] read row by row. With ``grow`` the carried acc [1, D]
    gains a row per step (Concat): [1 + n, D] at the end."""
    nodes_body = [
        helper.make_node("Add", ["i", "one"], ["i_next"]),
        helper.make_node("Less", ["i_next", "n"], ["c_out"]),
        helper.make_node("Gather", ["x", "i"], ["row"], axis=0),
        helper.make_node("Unsqueeze", ["row", "ax0"], ["row1"]),
        helper.make_node("Concat", ["acc", "row1"], ["acc_next"], axis=0)
        if grow
        else helper.make_node("Add", ["acc", "row1"], ["acc_next"]),
        helper.make_node("Identity", ["n"], ["n_next"]),
    ]
    body = helper.make_graph(
        nodes_body,
        "step",
        [_vi("k", I64, []), _vi("c_in", BOOL, []), _vi("i", I64, []), _vi("acc", F, None), _vi("n", I64, [])],
        [_vi("c_out", BOOL, []), _vi("i_next", I64, []), _vi("acc_next", F, None), _vi("n_next", I64, [])],
    )
    nodes = [
        *_dim_of("x", 0, "n0", "d"),
        helper.make_node("Less", ["zero", "n0"], ["c0"]),
        helper.make_node(
            "Loop", ["", "c0", "zero", "acc0", "n0"], ["i_end", "acc_end", "n_end"], name="while", body=body
        ),
    ]
    inits = [
        init("d_axis", 0, np.int64),
        init("zero", 0, np.int64),
        init("one", 1, np.int64),
        init("ax0", [0], np.int64),
    ]
    inits.append(weight("acc0", (1, 3)))
    m = make_model(nodes, {"x": ["n", 3]}, ["acc_end", ("i_end", I64)], inits, opset=16)
    return m


def test_while_loop_runs_as_many_times_as_rows() -> None:
    for grow in (False, True):
        m = _while_loop(grow)
        r = graphcheck.check(m)
        assert r.exact, r.valid
        want = ["n + 1", "3"] if grow else ["1", "3"]
        assert r.output_dims["acc_end"] == want
        sizes = [1, 2, 3, 7]
        res = _ort(m, [{"x": (n, 3)} for n in sizes])
        for n, got in zip(sizes, res):
            assert got.nonempty and r.accepts({"n": n})
            assert r.at({"n": n}).outputs == {"acc_end": got.shapes[0], "i_end": got.shapes[1]}


# ---------------------------------------------------------------------------------------------- Scan


def test_scan_stacks_and_checks_lengths() -> None:
    body = helper.make_graph(
        [
            helper.make_node("Add", ["s", "e"], ["s1"]),
            helper.make_node("Mul", ["s1", "g"], ["out"]),
        ],
        "cumsum",
        [_vi("s", F, None), _vi("e", F, None), _vi("g", F, None)],
        [_vi("s1", F, None), _vi("out", F, None)],
    )
    scan = helper.make_node(
        "Scan", ["s0", "xs", "gs"], ["s_end", "ys"], body=body, num_scan_inputs=2, scan_input_axes=[0, 1], name="scan"
    )
    m = make_model([scan], {"s0": ["D"], "xs": ["T", "D"], "gs": ["D", "T2"]}, ["s_end", "ys"], opset=16)
    r = graphcheck.check(m)
    assert r.exact and r.valid == "T2 = T   (D: any >= 1)", r.valid
    assert r.output_dims["ys"] == ["T", "D"]
    cases = [(3, 4, 4), (3, 4, 5), (1, 2, 2), (2, 1, 3)]
    res = _ort(m, [{"s0": (d,), "xs": (t, d), "gs": (d, t2)} for d, t, t2 in cases])
    for (d, t, t2), got in zip(cases, res):
        assert r.accepts({"D": d, "T": t, "T2": t2}) is got.nonempty, (d, t, t2, got)
        if got.ok:
            assert r.at({"D": d, "T": t, "T2": t2}).outputs == {"s_end": got.shapes[0], "ys": got.shapes[1]}


# ------------------------------------------------------------------------------------------ sequences


def test_sequences_as_exporters_write_lists() -> None:
    """x[N, L, 4] split into single steps along L, the first and last read back, a list of two
    tensors stacked, then joined: the shapes as onnxruntime gives them, and a position past the
    end caught (SequenceAt at 3 needs L >= 4)."""
    nodes = [
        helper.make_node("SplitToSequence", ["x", "one"], ["steps"], axis=1),
        helper.make_node("SequenceAt", ["steps", "three"], ["fourth"]),
        helper.make_node("SequenceAt", ["steps", "minus1"], ["last"]),
        helper.make_node("SequenceConstruct", ["fourth", "last"], ["pair"]),
        helper.make_node("ConcatFromSequence", ["pair"], ["stacked"], axis=0, new_axis=1),
        helper.make_node("ConcatFromSequence", ["steps"], ["joined"], axis=1),
        helper.make_node("SequenceLength", ["steps"], ["count"]),
        helper.make_node("SplitToSequence", ["x", "sizes"], ["two"], axis=2),
        helper.make_node("SequenceAt", ["two", "one_i"], ["rest"]),
    ]
    inits = [
        init("one", 1, np.int64),
        init("three", 3, np.int64),
        init("minus1", -1, np.int64),
        init("sizes", [1, 3], np.int64),
        init("one_i", 1, np.int64),
    ]
    m = make_model(nodes, {"x": ["N", "L", 4]}, ["stacked", "joined", ("count", I64), "rest"], inits)
    r = graphcheck.check(m)
    assert r.exact and r.valid == "L >= 4   (N: any >= 1)", r.valid
    sizes = [(2, L) for L in (1, 3, 4, 5, 9)]
    res = _ort(m, [{"x": (n, L, 4)} for n, L in sizes])
    for (n, L), got in zip(sizes, res):
        assert r.accepts({"N": n, "L": L}) is got.nonempty, (L, got)
        if got.ok:
            assert r.at({"N": n, "L": L}).outputs == dict(zip(["stacked", "joined", "count", "rest"], got.shapes))

"""``report.annotate`` inside If/Loop/Scan bodies: which bodies are written and how (a loop body's
values as they are at every iteration, a nested If inside it, a branch never taken left alone with
why), checked against onnxruntime by exposing every body value's shape at every run of its body
(tests/annotate_probe.py's instrumentation); that the check catches a wrong dim. The zoo's
control-flow models are checked in tests/test_annotate_ort.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import graphcheck
from graphcheck.report.annotate import Body, ValueShape, plan, write
from tests.annotate_probe import body_declared, body_mismatches, body_shapes, expose_bodies, run_bodies
from tests.model.test_serde import _if_model

F, I64 = TensorProto.FLOAT, TensorProto.INT64


def _loop_model() -> onnx.ModelProto:
    """x[N, L]: a Loop over the L columns (trip count Shape(x)[1]) carrying a sum h[N] and the
    columns seen so far, acc[N, k] (one more at every iteration), its body an If on data
    (Relu or Neg of the column) stacked as a scan output."""

    def branch(name: str, op: str) -> onnx.GraphProto:
        return helper.make_graph(
            [helper.make_node(op, ["col"], [f"{name}_y"])],
            name,
            [],
            [helper.make_tensor_value_info(f"{name}_y", F, None)],
        )

    body = helper.make_graph(
        [
            helper.make_node("Gather", ["x", "i"], ["col"], axis=1),
            helper.make_node("Add", ["h_in", "col"], ["h_out"]),
            helper.make_node("Unsqueeze", ["col", "one"], ["colu"]),
            helper.make_node("Concat", ["acc_in", "colu"], ["acc_out"], axis=1),
            helper.make_node("ReduceSum", ["col"], ["s"], keepdims=0),
            helper.make_node("Greater", ["s", "zero"], ["c"]),
            helper.make_node("If", ["c"], ["y"], then_branch=branch("then", "Relu"), else_branch=branch("else", "Neg")),
            helper.make_node("Identity", ["cond"], ["cond_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", I64, []),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", F, None),
            helper.make_tensor_value_info("h_in", F, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", F, None),
            helper.make_tensor_value_info("h_out", F, None),
            helper.make_tensor_value_info("y", F, None),
        ],
        initializer=[
            numpy_helper.from_array(np.array([1], np.int64), "one"),
            numpy_helper.from_array(np.zeros((), np.float32), "zero"),
        ],
    )
    nodes = [
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Gather", ["shp", "ax1"], ["L"], axis=0),
        helper.make_node("Slice", ["x", "z1", "z1", "ax1v"], ["acc0"]),  # x[:, 0:0]: [N, 0]
        helper.make_node("ReduceSum", ["acc0", "ax1v"], ["h0"], keepdims=0),  # zeros [N]
        helper.make_node("Loop", ["L", ""] + ["acc0", "h0"], ["acc", "h", "ys"], body=body),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", F, ["N", "L"])],
        [
            helper.make_tensor_value_info("acc", F, None),
            helper.make_tensor_value_info("h", F, None),
            helper.make_tensor_value_info("ys", F, None),
        ],
        initializer=[
            numpy_helper.from_array(np.array(1, np.int64), "ax1"),
            numpy_helper.from_array(np.array([1], np.int64), "ax1v"),
            numpy_helper.from_array(np.array([0], np.int64), "z1"),
        ],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _check_bodies(path: Path, tmp: Path, sizes: list[dict[str, int]]) -> tuple[list, int, set]:
    """Every body value's written shape against onnxruntime's at every run of its body."""
    m = onnx.load(str(path))
    decl = body_declared(m)
    x = tmp / f"{path.stem}.x.onnx"
    ids = expose_bodies(path, x, {k for k, d in decl.items() if d is not None})
    probes = tuple(({"x": [s["N"], s["L"]]}, {}) for s in sizes)
    (runs,) = run_bodies([(x, probes)])
    bad: list = []
    checked = 0
    seen: set = set()
    for s, rows in zip(sizes, runs):
        assert rows is not None, s
        got = body_shapes(rows, ids)
        seen |= set(got)
        b, c = body_mismatches(decl, got, s)
        bad += b
        checked += c
    return bad, checked, seen


def test_loop_body_with_a_nested_if(tmp_path: Path) -> None:
    src = tmp_path / "loop.onnx"
    onnx.save(_loop_model(), src)
    r = graphcheck.check(src)
    out = tmp_path / "out.onnx"
    a = r.annotate(out)
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    p = a.plan
    assert p.shapes["acc"].dims == ("N", "L") and p.shapes["ys"].dims == ("L", "N")
    body = p.bodies[(4, "body", 0)]
    assert body.where == "body of Loop_4"
    assert {n: body.shapes[n].dims for n in ("col", "h_out", "colu", "y")} == {
        "col": ("N",),
        "h_out": ("N",),
        "colu": ("N", 1),
        "y": ("N",),
    }
    # the carried columns grow by one at every iteration: that axis is not one size, said so
    assert body.shapes["acc_out"].dims == ("N", None)
    assert "changes from one iteration of Loop_4 to the next" in body.shapes["acc_out"].why[0]
    assert body.inputs["acc_in"].dims == ("N", None) and body.inputs["h_in"].dims == ("N",)
    assert "i" not in body.inputs and "cond" not in body.inputs  # kept as the file declares them
    then = body.bodies[(6, "then_branch", 0)]
    assert then.where == "then_branch of body of Loop_4: If_6" and then.shapes["then_y"].dims == ("N",)
    assert body.bodies[(6, "else_branch", 0)].shapes["else_y"].dims == ("N",)
    assert [b.where for b in a.bodies] == [
        "body of Loop_4",
        "then_branch of body of Loop_4: If_6",
        "else_branch of body of Loop_4: If_6",
    ]
    bad, checked, seen = _check_bodies(out, tmp_path, [{"N": 2, "L": 5}, {"N": 3, "L": 1}, {"N": 1, "L": 7}])
    assert not bad and checked >= 80, (bad, checked)
    assert len(seen) == 14  # every value of the three bodies, inputs included, ran


def test_the_check_catches_a_wrong_dim(tmp_path: Path) -> None:
    """A dim made wrong by hand in a nested branch, and a rank in the loop body: both found."""
    src, out = tmp_path / "loop.onnx", tmp_path / "out.onnx"
    onnx.save(_loop_model(), src)
    graphcheck.check(src).annotate(out)
    m = onnx.load(str(out))
    loop = m.graph.node[4].attribute[0].g
    then = next(a.g for a in loop.node[6].attribute if a.name == "then_branch")
    then.output[0].type.tensor_type.shape.dim[0].dim_param = "L"  # then_y is [N], not [L]
    colu = next(vi for vi in loop.value_info if vi.name == "colu")
    colu.type.tensor_type.shape.dim.pop()  # colu is [N, 1], not [N]
    onnx.save(m, out)
    bad, _, _ = _check_bodies(out, tmp_path, [{"N": 2, "L": 5}])
    assert {k[1] for k, _, _ in bad} == {"then_y", "colu"}


def test_a_branch_never_taken_is_left_as_is(tmp_path: Path) -> None:
    """An If on a constant: the branch taken is written, the other left as the file has it, saying
    why (in the summary too)."""
    from graphcheck.render.annotate import annotate_dict, render_annotate

    m = _if_model()
    g = m.graph
    g.node[1].CopyFrom(helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array(True))))
    src = tmp_path / "const_if.onnx"
    onnx.save(m, src)
    a = graphcheck.check(src).annotate(tmp_path / "out.onnx")
    assert list(a.plan.bodies) == [(2, "then_branch", 0)]
    assert a.plan.not_followed == {"else_branch of If_2": "never taken: the If's condition is always true here"}
    text = render_annotate(a, listing=True)
    assert "1 body not followed, left as the file has it: else_branch of If_2: never taken" in text
    assert "[then_branch of If_2]" in text and "then_y  [L]" in text
    d = annotate_dict(a)
    assert d["bodies"][0]["values"]["then_y"]["dims"] == ["L"] and d["not_followed"] == a.plan.not_followed
    out = onnx.load(str(tmp_path / "out.onnx"))
    onnx.checker.check_model(out, full_check=True)
    els = next(x.g for x in out.graph.node[2].attribute if x.name == "else_branch")
    assert not els.output[0].type.tensor_type.HasField("shape") and not els.value_info


def test_a_body_plan_made_by_hand_is_written(tmp_path: Path) -> None:
    """The writer takes an edit per body (keyed by node position and attribute), whoever made it."""
    src = tmp_path / "if.onnx"
    onnx.save(_if_model(), src)  # x[L] -> ReduceSum -> Greater -> If(then: Relu(x), else: Neg(x))
    p = plan(graphcheck.check(src))
    assert set(p.bodies) == {(2, "then_branch", 0), (2, "else_branch", 0)}
    assert p.bodies[(2, "else_branch", 0)].shapes["else_y"].dims == ("L",) and p.shapes["y"].dims == ("L",)
    then = Body({"then_y": ValueShape("then_y", TensorProto.FLOAT, (7,))}, where="then_branch of If_2")
    a = write(p.__class__(**{**p.__dict__, "bodies": {(2, "then_branch", 0): then}}), src, tmp_path / "out.onnx")
    assert a.written.subgraphs[(2, "then_branch", 0)].outputs == ["then_y"]
    out = onnx.load(str(tmp_path / "out.onnx"))
    body = next(x.g for x in out.graph.node[2].attribute if x.name == "then_branch")
    assert body.output[0].type.tensor_type.shape.dim[0].dim_value == 7


def test_at_sizes_write_the_branch_taken_there(tmp_path: Path) -> None:
    """torch.cond on the parity of L (a case per side): at L = 6 the even branch, in integers; the
    other branch is not taken there, and says so."""
    src = Path(__file__).resolve().parents[2] / "fixtures" / "zoo" / "models" / "torch_cond_size.onnx"
    r = graphcheck.check(src, {"x:2": "L"})
    p = r.annotate(tmp_path / "all.onnx").plan
    assert p.bodies[(4, "then_branch", 0)].shapes["conv1d"].dims == (2, 4, "L - 4")  # from the case L % 2 == 0
    assert p.bodies[(4, "else_branch", 0)].shapes["conv1d_2"].dims == (2, 4, "L - 2")  # from the other
    at = r.annotate(tmp_path / "at.onnx", at={"L": 6}).plan
    assert list(at.bodies) == [(4, "then_branch", 0)] and at.bodies[(4, "then_branch", 0)].shapes["conv1d"].dims == (
        2,
        4,
        2,
    )
    assert at.not_followed == {
        "else_branch of node_cond__0": "not taken at the sizes given (taken where they are otherwise)"
    }


def test_two_control_nodes_of_one_name_are_not_written(tmp_path: Path) -> None:
    """The walk names a body's values after its node: two Ifs named alike cannot be told apart."""
    m = _if_model()
    twin = onnx.NodeProto()
    twin.CopyFrom(m.graph.node[2])
    twin.output[0] = "y2"
    for n in (m.graph.node[2], twin):
        n.name = "same"
    m.graph.node.append(twin)
    m.graph.output.append(helper.make_tensor_value_info("y2", F, None))
    src = tmp_path / "twins.onnx"
    onnx.save(m, src)
    p = graphcheck.check(src).annotate(tmp_path / "out.onnx").plan
    assert p.bodies == {} and len(p.not_followed) == 4
    assert p.not_followed["then_branch of same (node 3)"] == "not written: 2 control-flow nodes are named 'same'"

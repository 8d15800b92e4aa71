"""The writer: shapes spliced into a copy of the file at the wire level, everything else byte for
byte (weights, external data references), subgraph bodies editable."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from graphcheck.errors import ModelLoadError, UsageError
from graphcheck.model.serde import GraphEdit, TensorShape, write_annotated


def _model(rows: int = 4096) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.arange(rows * 3, dtype=np.float32).reshape(rows, 3), "w")
    nodes = [
        helper.make_node("Gather", ["w", "ids"], ["emb"], name="embed"),
        helper.make_node("Relu", ["emb"], ["act"], name="relu"),
        helper.make_node("ReduceMax", ["act"], ["y"], name="max", axes=[1, 2], keepdims=0),
    ]
    x = helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", "L"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, "g", [x], [y], initializer=[w])
    vi = helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["N", "old_name", 3])
    vi.doc_string = "the exporter's"
    vi.type.tensor_type.shape.dim[0].denotation = "DATA_BATCH"
    g.value_info.append(vi)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    m.metadata_props.add(key="graphcheck.old", value="stale")
    m.metadata_props.add(key="author", value="me")
    return m


SHAPES = {
    "emb": TensorShape(TensorProto.FLOAT, ("N", "L", 3)),
    "act": TensorShape(TensorProto.FLOAT, ("N", "L", None), "graphcheck: axis 2: why"),
    "y": TensorShape(TensorProto.FLOAT, ("N",)),
}


def _dims(vi: onnx.ValueInfoProto) -> list[int | str | None]:
    out: list[int | str | None] = []
    for d in vi.type.tensor_type.shape.dim:
        out.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or None))
    return out


def test_shapes_are_spliced_and_the_rest_kept(tmp_path: Path) -> None:
    src, out = tmp_path / "m.onnx", tmp_path / "out.onnx"
    onnx.save(_model(), src)
    w = write_annotated(src, out, GraphEdit(SHAPES), {"graphcheck.valid": "L >= 1"}, "graphcheck.")
    assert w.value_info == ["emb", "act"] and w.outputs == ["y"]
    m = onnx.load(out)
    onnx.checker.check_model(m, full_check=True)
    vis = {vi.name: vi for vi in m.graph.value_info}
    assert _dims(vis["emb"]) == ["N", "L", 3]  # rewritten in place: the exporter's extras kept
    assert vis["emb"].doc_string == "the exporter's"
    assert vis["emb"].type.tensor_type.shape.dim[0].denotation == "DATA_BATCH"
    assert _dims(vis["act"]) == ["N", "L", None] and vis["act"].doc_string == "graphcheck: axis 2: why"
    assert _dims(m.graph.output[0]) == ["N"]
    assert _dims(m.graph.input[0]) == ["N", "L"]
    assert {p.key: p.value for p in m.metadata_props} == {"author": "me", "graphcheck.valid": "L >= 1"}
    src_m = onnx.load(src)
    assert m.graph.initializer[0].SerializeToString() == src_m.graph.initializer[0].SerializeToString()
    assert [n.SerializeToString() for n in m.graph.node] == [n.SerializeToString() for n in src_m.graph.node]


def test_duplicate_entries_are_folded(tmp_path: Path) -> None:
    """A value listed twice in value_info, or a graph output listed there too (onnxruntime's tool
    writes both), ends with one entry: the one written."""
    m = _model()
    m.graph.value_info.append(helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["N", "stale", 3]))
    m.graph.value_info.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, ["made_up"]))
    src, out = tmp_path / "m.onnx", tmp_path / "out.onnx"
    onnx.save(m, src)
    write_annotated(src, out, GraphEdit(SHAPES))
    g = onnx.load(out).graph
    assert [vi.name for vi in g.value_info] == ["emb", "act"] and _dims(g.value_info[0]) == ["N", "L", 3]
    assert _dims(g.output[0]) == ["N"]


def test_nothing_to_write_gives_the_same_bytes(tmp_path: Path) -> None:
    src, out = tmp_path / "m.onnx", tmp_path / "out.onnx"
    onnx.save(_model(), src)
    write_annotated(src, out, GraphEdit({"not_a_value": SHAPES["y"]}))
    assert out.read_bytes() == src.read_bytes()


def test_bytes_source_and_writing_over_the_source(tmp_path: Path) -> None:
    src = tmp_path / "m.onnx"
    onnx.save(_model(), src)
    write_annotated(src.read_bytes(), tmp_path / "b.onnx", GraphEdit(SHAPES))
    write_annotated(src, src, GraphEdit(SHAPES))  # in place: written next to it, then moved over it
    assert src.read_bytes() == (tmp_path / "b.onnx").read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".graphcheck-")] == []


def test_external_data_references_are_kept_and_never_read(tmp_path: Path) -> None:
    src, out = tmp_path / "m.onnx", tmp_path / "out.onnx"
    onnx.save(_model(), src, save_as_external_data=True, location="w.bin", size_threshold=0)
    ref = {e.key: e.value for e in onnx.load(src, load_external_data=False).graph.initializer[0].external_data}
    os.rename(tmp_path / "w.bin", tmp_path / "w.bin.away")  # would fail if anything opened it
    w = write_annotated(src, out, GraphEdit(SHAPES))
    assert w.external == ["w.bin"] and w.produced == ["emb", "act", "y"]
    m = onnx.load(out, load_external_data=False)
    assert {e.key: e.value for e in m.graph.initializer[0].external_data} == ref
    os.rename(tmp_path / "w.bin.away", tmp_path / "w.bin")
    onnx.checker.check_model(str(out), full_check=True)


def _if_model() -> onnx.ModelProto:
    def branch(name: str, op: str) -> onnx.GraphProto:
        return helper.make_graph(
            [helper.make_node(op, ["x"], [f"{name}_y"])],
            name,
            [],
            [helper.make_tensor_value_info(f"{name}_y", 1, None)],
        )

    nodes = [
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["c"]),
        helper.make_node("If", ["c"], ["y"], then_branch=branch("then", "Relu"), else_branch=branch("else", "Neg")),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", 1, ["L"])],
        [helper.make_tensor_value_info("y", 1, None)],
        initializer=[numpy_helper.from_array(np.zeros((), np.float32), "zero")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_subgraph_bodies_can_be_edited(tmp_path: Path) -> None:
    """The extension point for If/Loop/Scan bodies: an edit per body, by node position and attribute."""
    src, out = tmp_path / "m.onnx", tmp_path / "out.onnx"
    onnx.save(_if_model(), src)
    body = GraphEdit({"then_y": TensorShape(1, ("L",))})
    edit = GraphEdit({"y": TensorShape(1, ("L",))}, subgraphs={(2, "then_branch", 0): body})
    w = write_annotated(src, out, edit)
    assert w.subgraphs[(2, "then_branch", 0)].outputs == ["then_y"] and w.outputs == ["y"]
    m = onnx.load(out)
    onnx.checker.check_model(m, full_check=True)
    then = next(a.g for a in m.graph.node[2].attribute if a.name == "then_branch")
    other = next(a.g for a in m.graph.node[2].attribute if a.name == "else_branch")
    assert _dims(then.output[0]) == ["L"]
    assert not other.output[0].type.tensor_type.HasField("shape")
    with pytest.raises(UsageError, match="no subgraph"):
        write_annotated(src, out, GraphEdit(subgraphs={(2, "body", 0): body}))
    with pytest.raises(UsageError, match="no node at position 7"):
        write_annotated(src, out, GraphEdit(subgraphs={(7, "then_branch", 0): body}))


@pytest.mark.parametrize("payload", [b"\x08\x07", b"\x3a\xff\xff\xff\xff\x0f", bytes(range(256))])
def test_corrupt_files_are_one_error(tmp_path: Path, payload: bytes) -> None:
    src = tmp_path / "bad.onnx"
    src.write_bytes(payload)
    with pytest.raises(ModelLoadError):
        write_annotated(src, tmp_path / "out.onnx", GraphEdit(SHAPES))
    assert not (tmp_path / "out.onnx").exists()

"""Loading: the wire-level reader agrees with onnx's parser, never decodes weights, and turns
corrupt or hostile files into one clear error."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from graphcheck.errors import ModelLoadError
from graphcheck.model.load import SMALL_TENSOR, from_proto, load


def _model(big: int = 1000) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((big, 1, 3), np.float32), "w")
    shape = numpy_helper.from_array(np.array([0, -1], np.int64), "shape")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3], name="conv"),
        helper.make_node("Reshape", ["c", "shape"], ["y"], name="flat"),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "L"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[w, shape],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="test")
    m.metadata_props.add(key="k", value="v")
    return m


def test_file_and_proto_routes_agree(tmp_path: Path) -> None:
    m = _model()
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    a, b = load(p), from_proto(m)
    assert a.inputs == b.inputs and a.outputs == b.outputs
    assert [(n.op_type, n.name, n.inputs, n.outputs, dict(n.attrs)) for n in a.nodes] == [
        (n.op_type, n.name, n.inputs, n.outputs, dict(n.attrs)) for n in b.nodes
    ]
    assert a.initializers == b.initializers
    assert a.opsets == b.opsets == {"": 17}
    assert a.metadata == {"k": "v"} and a.producer == "test"
    assert a.initializers["shape"].values == (0, -1)
    assert a.initializers["w"].values is None  # float weights are never decoded beyond a few elements
    assert a.initializers["w"].dims == (1000, 1, 3)


def test_large_weights_are_not_decoded(tmp_path: Path) -> None:
    m = _model(big=SMALL_TENSOR)  # 3 * SMALL_TENSOR float elements
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    g = load(p)
    assert g.initializers["w"].values is None


def test_external_data_is_never_read(tmp_path: Path) -> None:
    m = _model(big=5000)
    p = tmp_path / "m.onnx"
    onnx.save(m, p, save_as_external_data=True, all_tensors_to_one_file=True, location="w.bin", size_threshold=0)
    os.remove(tmp_path / "w.bin")  # would fail if anything tried to read it
    g = load(p)
    assert g.initializers["w"].dims == (5000, 1, 3)
    assert g.initializers["shape"].values is None  # external: value unknown, never read


@pytest.mark.parametrize(
    "payload, fragment",
    [
        (b"", "empty file"),
        (b"hello, this is not a model\n", "not a valid ONNX model"),
        (b"\x08\x07", "no graph"),  # a valid ModelProto with only ir_version
        (bytes(range(256)) * 4, "not a valid ONNX model"),
        (b"\x3a\xff\xff\xff\xff\x0f", "not a valid ONNX model"),  # graph field claiming 4 GB
    ],
)
def test_corrupt_files_give_one_clear_error(tmp_path: Path, payload: bytes, fragment: str) -> None:
    p = tmp_path / "bad.onnx"
    p.write_bytes(payload)
    with pytest.raises(ModelLoadError) as exc:
        load(p)
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value)


def test_truncated_file(tmp_path: Path) -> None:
    data = _model().SerializeToString()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 5):
        p = tmp_path / "t.onnx"
        p.write_bytes(data[:cut])
        with pytest.raises(ModelLoadError):
            load(p)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def test_hostile_nesting(tmp_path: Path) -> None:
    # If nodes whose then_branch nests 3000 deep, written at the wire level: refused with one
    # clear line (protobuf's depth limit), never a crash or a hang.
    graph = _ld(2, b"leaf")
    for _ in range(3000):
        attr = _ld(1, b"then_branch") + _varint(20 << 3) + _varint(5) + _ld(6, graph)
        node = _ld(1, b"c") + _ld(4, b"If") + _ld(5, attr)
        graph = _ld(1, node)
    model = _varint(1 << 3) + _varint(8) + _ld(7, graph) + _ld(8, _varint(2 << 3) + _varint(17))
    p = tmp_path / "deep.onnx"
    p.write_bytes(model)
    with pytest.raises(ModelLoadError) as exc:
        load(p)
    assert "not a valid ONNX model" in str(exc.value)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such file"):
        load(tmp_path / "nope.onnx")
    with pytest.raises(ModelLoadError, match="directory"):
        load(tmp_path)

"""The front ends without TensorFlow or PyTorch: light imports, one-line errors, size names."""

from __future__ import annotations

import subprocess
import sys

import onnx
import pytest
from onnx import TensorProto, helper

from graphcheck.errors import GraphcheckError
from graphcheck.frontends.contract import RANGE_KEY, dim_name, rename_input_dims


def test_importing_the_front_ends_imports_no_framework() -> None:
    code = (
        "import sys, graphcheck, graphcheck.keras, graphcheck.torch, graphcheck.jax\n"
        "heavy = [m for m in ('tensorflow', 'tf2onnx', 'keras', 'torch', 'onnxscript', 'jax', 'flax', 'jax2onnx')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_frameworks_are_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import graphcheck.keras
    import graphcheck.torch

    for mod in ("tensorflow", "tf2onnx", "keras"):
        monkeypatch.setitem(sys.modules, mod, None)  # what an interpreter without them sees
    with pytest.raises(GraphcheckError, match=r"pip install 'graphcheck\[keras\]'") as exc:
        graphcheck.keras.check(object())
    assert "\n" not in str(exc.value)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(GraphcheckError, match=r"pip install 'graphcheck\[torch\]'") as exc2:
        graphcheck.torch.check(object(), ())
    assert "\n" not in str(exc2.value)
    import graphcheck.jax

    monkeypatch.setitem(sys.modules, "jax2onnx", None)
    with pytest.raises(GraphcheckError, match=r"pip install 'graphcheck\[jax\]'") as exc3:
        graphcheck.jax.check(lambda x: x, ())
    assert "\n" not in str(exc3.value)


@pytest.mark.parametrize(
    "name, axis, rank, integer, channels_first, expected",
    [
        ("signal", 0, 3, False, False, "batch"),
        ("signal", 1, 3, False, False, "signal_len"),  # Keras (batch, steps, channels)
        ("x", 2, 3, False, True, "x_len"),  # PyTorch (batch, channels, length)
        ("image", 1, 4, False, False, "image_h"),
        ("image", 2, 4, False, False, "image_w"),
        ("x", 2, 4, False, True, "x_h"),
        ("x", 3, 4, False, True, "x_w"),
        ("tokens", 1, 2, True, False, "tokens_len"),  # token ids
        ("features", 1, 2, False, False, "features_1"),
        ("vol", 3, 5, False, False, "vol_3"),
        ("input.1", 1, 3, False, False, "input_1_len"),  # made a symbol name
    ],
)
def test_dim_names(name: str, axis: int, rank: int, integer: bool, channels_first: bool, expected: str) -> None:
    assert dim_name(name, axis, rank, integer, channels_first) == expected


def _model(inputs: list[tuple[str, list[object]]], ranges: str = "") -> onnx.ModelProto:
    vis = [helper.make_tensor_value_info(n, TensorProto.FLOAT, dims) for n, dims in inputs]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [inputs[0][1][0], 4])
    g = helper.make_graph([helper.make_node("Identity", [inputs[0][0]], ["y"])], "g", vis, [out])
    m = helper.make_model(g)
    if ranges:
        helper.set_model_props(m, {})
        m.graph.metadata_props.add(key=RANGE_KEY, value=ranges)
    return m


def _dims(m: onnx.ModelProto) -> list[list[object]]:
    return [[d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in m.graph.input]


def test_generated_names_are_renamed_everywhere_and_ties_kept() -> None:
    m = _model([("a", ["s0", 1, "s1"]), ("b", ["s0", "s1"])], "{s0: VR[1, int_oo], s1: VR[2, 64]}")
    torch_names = lambda n, a, r, i: dim_name(n, a, r, i, channels_first=True)  # noqa: E731
    mapping = rename_input_dims(m, torch_names, lambda p: p.startswith("s"))
    assert mapping == {"s0": "batch", "s1": "a_len"}
    assert _dims(m) == [["batch", 1, "a_len"], ["batch", "a_len"]]  # torch tied them: still tied
    assert [d.dim_param for d in m.graph.output[0].type.tensor_type.shape.dim][0] == "batch"
    assert m.graph.metadata_props[0].value == "{batch: VR[1, int_oo], a_len: VR[2, 64]}"


def test_user_names_stay_and_batches_tie_only_when_asked() -> None:
    m = _model([("a", ["unk__1", "length", 1]), ("b", ["unk__2", "unk__3", 1])])
    rename_input_dims(m, dim_name, lambda p: p.startswith("unk__"))
    assert _dims(m) == [["batch", "length", 1], ["b_batch", "b_len", 1]]
    keras_like = _model([("a", ["unk__1", "unk__4", 1]), ("b", ["unk__2", "unk__3", 1]), ("c", [None, 3])])
    rename_input_dims(keras_like, dim_name, lambda p: p.startswith("unk__"), tie_batch=True)
    assert _dims(keras_like) == [["batch", "a_len", 1], ["batch", "b_len", 1], ["batch", 3]]


@pytest.mark.parametrize(
    "node, known, expected",
    [
        ("/features/features.3/Conv", (), "features.3"),  # a Sequential's child: its scope is "features.3"
        ("/blocks/blocks.1/blocks.1.0/seq/seq.1/Conv", (), "blocks.1.0.seq.1"),  # nested containers
        ("/encoder/layer1/0/conv1/Conv", (), "encoder.layer1.0.conv1"),
        ("/shared_1/Conv", ("shared",), "shared"),  # a module called twice
        ("/Relu", (), ""),  # a top-level functional op
    ],
)
def test_legacy_torch_scopes_give_module_paths(node: str, known: tuple[str, ...], expected: str) -> None:
    from graphcheck.model.layers import LayerInfo, _torch_legacy_layer

    assert _torch_legacy_layer(node, {k: LayerInfo("Conv1d") for k in known}) == expected


def test_axis_names_in_the_frameworks_terms() -> None:
    from graphcheck.model.ir import Graph, Node
    from graphcheck.model.layers import FrameworkInfo, LayerInfo, LayerMap, layer_map

    def lmap(framework: str, kind: str, config: dict[str, object] | None = None) -> LayerMap:
        node = Node(0, "m_1/conv_1/convolution", "Conv", "", ("x",), ("y",), {}, {})
        graph = Graph("g", [], [], {}, [node], {"": 17}, producer="tf2onnx")
        info = FrameworkInfo(framework, {"conv": LayerInfo(kind, config or {})})
        return layer_map(graph, info)

    assert lmap("keras", "Conv1D").axis_label("m_1/conv_1/convolution", "width (axis 3)") == "length"
    assert lmap("keras", "Conv2D").axis_label("m_1/conv_1/convolution", "height (axis 2)") == "height"
    channels_first = lmap("keras", "Conv1D", {"data_format": "channels_first"})
    assert channels_first.axis_label("m_1/conv_1/convolution", "width (axis 3)") == "width (axis 3)"
    assert lmap("torch", "Conv1d").axis_label("m_1/conv_1/convolution", "length (axis 2)") == "length (axis 2)"

"""Framework layer names from exported files: tf2onnx scopes, torch legacy paths, dynamo metadata."""

from __future__ import annotations

from pathlib import Path

import graphcheck
from graphcheck.model.layers import FrameworkInfo, LayerInfo, layer_map
from graphcheck.model.load import load

FIX = Path(__file__).resolve().parents[2] / "fixtures"


def _names(path: str) -> list[tuple[str, str]]:
    return [(lay.name, lay.kind) for lay in layer_map(load(FIX / path)).layers if lay.name]


def test_tf2onnx_scopes_map_to_keras_layers() -> None:
    lm = layer_map(load(FIX / "toy.onnx"))
    assert lm.framework == "keras"
    names = [lay.name for lay in lm.layers if lay.name]
    assert names[:2] == ["conv_a", "conv_b"]
    conv_a = next(lay for lay in lm.layers if lay.name == "conv_a")
    # tf2onnx's Unsqueeze -> Reshape -> Conv -> Squeeze (+ bias) for one Conv1D: one layer
    assert len(conv_a.nodes) >= 3
    assert lm.of("toy_1/conv_a_1/convolution") is conv_a


def test_a_tflite_fused_op_is_named_by_its_first_scoped_tensor() -> None:
    """tf2onnx's TFLite path names an op fused from a conv and its activation by all their tensors."""
    from graphcheck.model.layers import _keras_layer

    fused = "conv_stack_1/conv_b_1/Relu;conv_stack_1/conv_b_1/convolution/Squeeze;conv_stack_1/conv_b_1/convolution"
    assert _keras_layer(fused, {}) == "conv_b"
    assert _keras_layer("Relu;m_1/conv_b_1/convolution", {}) == "conv_b"  # the first part has no scope
    assert _keras_layer("Relu;m_1/conv_b_1/convolution", {"conv_b": LayerInfo("Conv1D")}) == "conv_b"


def test_live_keras_info_names_the_class() -> None:
    info = FrameworkInfo("keras", {"conv_a": LayerInfo("Conv1D", {"kernel_size": (7,)}), "conv_b": LayerInfo("Conv1D")})
    lm = layer_map(load(FIX / "toy.onnx"), info)
    assert lm.of("toy_1/conv_a_1/convolution").kind == "Conv1D"  # type: ignore[union-attr]


def test_torch_legacy_paths() -> None:
    names = _names("unet.onnx")
    assert ("enc1.conv_a", "Conv") in names
    assert any(n.startswith("down") for n, _ in names)


def test_torch_dynamo_metadata() -> None:
    names = _names("torch_conv1d_dynamo.onnx")
    assert ("conv_in", "Conv1d") in names and ("pool", "MaxPool1d") in names and ("head", "Linear") in names
    names = _names("transformer_mha_dynamo.onnx")
    assert ("encoder.self_attn", "MultiheadAttention") in names and ("pos_emb", "Embedding") in names


def test_findings_carry_layer_names() -> None:
    rep = graphcheck.check(FIX / "torch_conv1d_dynamo.onnx")
    gc001 = [d for d in rep.diagnostics if d.code == "GC001"]
    assert [(d.layer, d.layer_type) for d in gc001][:2] == [("conv_in", "Conv1d"), ("conv_down", "Conv1d")]
    assert gc001[0].where == "conv_in (Conv1d) [node_conv1d]"

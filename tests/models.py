"""Small models built with onnx.helper for tests (conv stacks the README talks about)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv_stack(
    layers: list[dict],
    dims: list[object] | None = None,
    channels: int = 2,
    name: str = "toy",
    opset: int = 17,
) -> onnx.ModelProto:
    """x[N, C, L] through Conv layers; each dict: name, k, s (1), d (1), pads ([0, 0]), out (C)."""
    dims = dims if dims is not None else ["N", channels, "L"]
    nodes, inits = [], []
    x, cin = "signal", channels
    for spec in layers:
        n = spec["name"]
        k = spec["k"]
        cout = spec.get("out", channels)
        nspatial = len(dims) - 2
        w = numpy_helper.from_array(np.full((cout, cin) + (k,) * nspatial, 0.1, np.float32), f"{n}.weight")
        inits.append(w)
        attrs = {"strides": [spec.get("s", 1)] * nspatial, "dilations": [spec.get("d", 1)] * nspatial}
        if "auto_pad" in spec:
            attrs["auto_pad"] = spec["auto_pad"]
        else:
            attrs["pads"] = list(spec.get("pads", [0] * (2 * nspatial)))
        nodes.append(helper.make_node("Conv", [x, w.name], [f"{n}_out"], name=n, **attrs))
        x, cin = f"{n}_out", cout
    g = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("signal", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)],
        initializer=inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="graphcheck-tests")
    m.ir_version = 8
    return m


def toy() -> onnx.ModelProto:
    """conv_a (k=7) then conv_b (k=3, stride 2): valid lengths L >= 9."""
    return conv_stack([{"name": "conv_a", "k": 7}, {"name": "conv_b", "k": 3, "s": 2}])

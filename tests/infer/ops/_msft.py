"""Helpers for the onnxruntime contrib-op tests (com.microsoft, com.microsoft.nchwc): one-node
models with initializers, and grids of sizes."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
I32 = TensorProto.INT32
I64 = TensorProto.INT64
U8 = TensorProto.UINT8
I8 = TensorProto.INT8
MS = "com.microsoft"
NCHWC = "com.microsoft.nchwc"

Dims = Sequence[int | str]


def model(
    nodes: Sequence[onnx.NodeProto],
    ins: Sequence[tuple[str, Dims, int]],
    outs: Sequence[str | tuple[str, int]],
    inits: Sequence[onnx.TensorProto] = (),
    opset: int = 17,
) -> onnx.ModelProto:
    """A model of ``nodes`` with the default, com.microsoft and com.microsoft.nchwc domains."""
    vis = [helper.make_tensor_value_info(n, t, list(d)) for n, d, t in ins]
    # outputs named only (no type): onnxruntime takes the node's own output type
    ovs = [onnx.ValueInfoProto(name=o) if isinstance(o, str) else helper.make_tensor_value_info(*o, None) for o in outs]
    g = helper.make_graph(list(nodes), "g", vis, ovs, initializer=list(inits))
    ops = [helper.make_opsetid("", opset), helper.make_opsetid(MS, 1), helper.make_opsetid(NCHWC, 1)]
    m = helper.make_model(g, opset_imports=ops)
    m.ir_version = 8
    return m


def tensor(name: str, values: Any, dtype: Any = np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def grid(**axes: Iterable[int]) -> list[dict[str, int]]:
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*[list(v) for v in axes.values()])]


def trim(names: list[str]) -> list[str]:
    """Input names without trailing empty (absent optional) ones."""
    while names and not names[-1]:
        names.pop()
    return names

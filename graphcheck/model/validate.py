"""Attribute checks made when a model is loaded: a malformed window attribute is a one-line error.

The ONNX spec gives Conv, ConvTranspose and the pools their kernel, strides, dilations and pads;
a file whose values no runtime can take (a kernel of 0, a negative stride or pad, an ``auto_pad``
that is not one of the four, attributes of the wrong type or of lengths that disagree) is not a
model to analyse: :func:`check_attributes` names the node and the attribute, and loading stops
with :class:`graphcheck.errors.ModelLoadError` (the CLI's one line, exit 2). Legal values stay
legal however large (a stride of ``2**40`` is analysed exactly), and what the spec allows but
onnxruntime refuses (a pool's pads not smaller than its kernel) is a finding, not a load error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain

from graphcheck.errors import ModelLoadError
from graphcheck.model.ir import AttrValue, Graph, Node

__all__ = ["check_attributes", "WINDOW_OPS"]

# (domain, op) -> the window attributes it takes
_CONV = ("kernel_shape", "strides", "dilations", "pads", "auto_pad", "group")
_POOL = ("kernel_shape", "strides", "dilations", "pads", "auto_pad", "ceil_mode")
WINDOW_OPS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Conv"): _CONV,
    ("", "ConvInteger"): _CONV,
    ("", "QLinearConv"): _CONV,
    ("", "DeformConv"): ("kernel_shape", "strides", "dilations", "pads", "group"),
    ("com.microsoft", "FusedConv"): _CONV,
    ("", "ConvTranspose"): (*_CONV, "output_padding", "output_shape"),
    ("", "MaxPool"): (*_POOL, "storage_order"),
    ("", "AveragePool"): (*_POOL, "count_include_pad"),
    ("", "LpPool"): _POOL,
    ("", "MaxUnpool"): ("kernel_shape", "strides", "pads"),
}
_BODIES = {"If", "Loop", "Scan", "SequenceMap"}  # ops whose graph attributes hold nodes to check too
AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
_LISTS = ("kernel_shape", "strides", "dilations", "pads", "output_padding", "output_shape")
_MINIMUM = {"kernel_shape": 1, "strides": 1, "dilations": 1, "pads": 0, "output_padding": 0, "output_shape": 0}


def _show(values: tuple[int, ...]) -> str:
    if len(values) <= 8:
        return str(list(values))
    return "[" + ", ".join(map(str, values[:8])) + f", ... ({len(values)} values)]"


def _problem(node: Node, names: tuple[str, ...]) -> str | None:
    """What is wrong with the node's window attributes, or None."""
    lists: dict[str, tuple[int, ...]] = {}
    for key in names:
        v: AttrValue | None = node.attrs.get(key)
        if v is None:
            continue
        if key in _LISTS:
            if not isinstance(v, tuple) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
                return f"{key} must be a list of integers, got {v!r:.80}"
            low = _MINIMUM[key]
            bad = [x for x in v if x < low]
            if bad:
                return f"{key} must be >= {low}, got {_show(v)}"
            lists[key] = v
        elif key == "auto_pad":
            if not isinstance(v, str) or (v not in AUTO_PADS and v != ""):
                return f"auto_pad must be one of {', '.join(AUTO_PADS)}, got {v!r:.80}"
        elif not isinstance(v, int) or isinstance(v, bool):
            return f"{key} must be an integer, got {v!r:.80}"
        elif key == "group" and v < 1:
            return f"group must be >= 1, got {v}"
    n = len(lists["kernel_shape"]) if lists.get("kernel_shape") else None
    for key in ("strides", "dilations", "output_padding"):
        got = lists.get(key)
        if got and n is not None and len(got) != n:
            return f"{key} has {len(got)} values for a {n}-D kernel_shape {_show(lists['kernel_shape'])}"
        if got and n is None:
            n = len(got)
    pads = lists.get("pads")
    if pads and (len(pads) % 2 or (n is not None and len(pads) != 2 * n)):
        want = f"2 x {n} = {2 * n}" if n is not None else "an even number of"
        return f"pads has {len(pads)} values, needs {want} (a begin and an end per spatial axis)"
    return None


# attributes each common op has had in every version of it (onnx's schemas, intersected over opsets
# 1 to 23; tests/model/test_validate.py checks this against onnx.defs): a node holding only these
# needs no schema lookup, whose first call loads onnx's registry (about 10 ms of a cold check)
EVERY_OPSET: dict[str, frozenset[str]] = {
    "Conv": frozenset({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}),
    "ConvTranspose": frozenset(
        {"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides"}
    ),
    "MaxPool": frozenset({"auto_pad", "kernel_shape", "pads", "strides"}),
    "AveragePool": frozenset({"auto_pad", "kernel_shape", "pads", "strides"}),
    "Flatten": frozenset({"axis"}),
    "Gemm": frozenset({"alpha", "beta", "transA", "transB"}),
    "Concat": frozenset({"axis"}),
    "Transpose": frozenset({"perm"}),
    "Gather": frozenset({"axis"}),
    "Softmax": frozenset({"axis"}),
    "Cast": frozenset({"to"}),
    "LeakyRelu": frozenset({"alpha"}),
    "Constant": frozenset({"value"}),
}


def check_attributes(
    graph: Graph, source: str, schema: Callable[[str, int], frozenset[str] | None] | None = None
) -> None:
    """Raise ModelLoadError naming the first node whose window attributes no runtime can take, or
    (given ``schema``: an op and opset to the attribute names the spec defines, None when unknown)
    the first ONNX-domain node with an attribute its op does not have in the model's opset (dilations
    on an AveragePool before opset 19; onnx's checker and onnxruntime refuse such a model)."""
    every_node = graph.all_nodes() if any(n.op_type in _BODIES for n in graph.nodes) else graph.nodes
    if schema is not None:
        opset = graph.opset
        seen: set[tuple[str, tuple[str, ...]]] = set()  # (op, attribute names) already found legal
        for node in every_node:
            if node.domain or not node.attrs:
                continue
            key = (node.op_type, tuple(node.attrs))
            if key in seen:
                continue
            every = EVERY_OPSET.get(node.op_type)
            if every is not None and all(k in every for k in node.attrs):
                seen.add(key)  # attributes the op has had in every version: no schema needed
                continue
            known = schema(node.op_type, opset)
            if known is None:
                continue
            extra = sorted(k for k in node.attrs if k not in known)
            if not extra:
                seen.add(key)
            else:
                raise ModelLoadError(
                    f"{source}: node {node.name!r} ({node.op_type}): {node.op_type} has no attribute "
                    f"{extra[0]!r:.60} in opset {opset} (the spec's schema; onnxruntime refuses the model too)"
                )
    nodes: Iterable[Node] = chain(every_node, *(f.nodes for f in graph.functions.values()))
    legal: set[tuple[object, ...]] = set()  # window attributes already found legal (stacks repeat them)
    for node in nodes:
        names = WINDOW_OPS.get((node.domain, node.op_type))
        if names is None:
            continue
        try:
            values: tuple[object, ...] | None = (names, *(node.attrs.get(k) for k in names))
            if values in legal:
                continue
        except TypeError:  # a value that is not hashable (a tensor where a list belongs): checked below
            values = None
        problem = _problem(node, names)
        if problem is None and values is not None:
            legal.add(values)
        if problem is not None:
            raise ModelLoadError(f"{source}: node {node.name!r} ({node.op_type}): {problem}")

"""Framework layer names for ONNX nodes: Keras layers (tf2onnx) and PyTorch modules (torch.onnx).

Findings name the layer a user wrote, not only the ONNX node: ``toy_1/conv_a_1/convolution`` is
Keras layer ``conv_a``; ``/encoder/layer1/0/conv1/Conv`` is PyTorch module
``encoder.layer1.0.conv1``; the dynamo exporter records ``pkg.torch.onnx.name_scopes`` on each node.
The several ONNX nodes one layer becomes (tf2onnx's Unsqueeze -> Conv -> Squeeze for a Conv1D,
the Pad before a causal Conv) map to that one layer.

A frontend that holds the live model (``graphcheck.keras``, ``graphcheck.torch``) passes a
:class:`FrameworkInfo` with each layer's class and configuration; from a file alone the names
come from the node names and metadata.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from graphcheck.model.ir import Graph, Node

__all__ = ["FrameworkInfo", "LayerInfo", "Layer", "LayerMap", "layer_map", "detect_framework", "LAYER_KEY"]

# a node's layer as a front end recorded it in the node's metadata (graphcheck.jax: the Flax module path)
LAYER_KEY = "pkg.graphcheck.layer"


@dataclass(frozen=True)
class LayerInfo:
    """What the live model says about one layer: its class name and configuration."""

    kind: str  # "Conv1D", "Conv1d", "MaxPooling1D", ...
    config: Mapping[str, object] = field(default_factory=dict)  # kernel_size, strides/stride, padding, ...


@dataclass(frozen=True)
class FrameworkInfo:
    framework: str  # "keras", "torch" or "jax"
    layers: Mapping[str, LayerInfo] = field(default_factory=dict)  # by framework name ("conv_a", "enc.0.conv")
    model_name: str = ""


@dataclass(frozen=True)
class Layer:
    name: str  # framework name; "" when the node belongs to no layer (a top-level functional op)
    kind: str  # class name when known, else the main ONNX op when there is one, else ""
    framework: str  # "keras", "torch" or "onnx"
    nodes: tuple[str, ...]  # ONNX node names, in graph order

    @property
    def label(self) -> str:
        return f"{self.name} ({self.kind})" if self.kind else self.name


@dataclass
class LayerMap:
    framework: str
    layers: list[Layer]
    by_node: dict[str, Layer]
    info: FrameworkInfo | None = None
    # layers of a tf2onnx file that are 1-D windows run as 2-D ones: Unsqueeze -> Conv/pool with a
    # 1 x k kernel -> Squeeze (a Keras Conv1D, MaxPooling1D), whose "width (axis 3)" is a length
    one_d: frozenset[str] = frozenset()

    def of(self, node_name: str) -> Layer | None:
        return self.by_node.get(node_name)

    def axis_label(self, node_name: str, what: str) -> str:
        """A condition's axis as the layer's framework names it: for a channels-last Keras ``Conv1D``
        the ``width (axis 3)`` of tf2onnx's NCHW conv is its ``length``; in JAX/Flax every conv and
        pool axis is named without the ONNX (channels-first) axis number."""
        if self.framework == "jax":  # Flax is channels last throughout; jax2onnx transposes to NCW
            return _ONNX_AXIS.sub(lambda a: a.group(1), what)
        lay = self.of(node_name)
        if self.info is None and lay is not None and lay.name in self.one_d:  # a file: no configuration
            return _ONNX_AXIS.sub(lambda a: _CHANNELS_LAST[1].get((a.group(1), int(a.group(2))), a.group(0)), what)
        if lay is None or not lay.name or self.info is None or self.info.framework != "keras":
            return what
        layer = self.info.layers.get(lay.name)
        if layer is None or layer.config.get("data_format", "channels_last") != "channels_last":
            return what
        m = _KERAS_RANK.search(layer.kind)
        if m is None:
            return what
        names = _CHANNELS_LAST[int(m.group(1))]
        return _ONNX_AXIS.sub(lambda a: names.get((a.group(1), int(a.group(2))), a.group(0)), what)


_SUFFIX = re.compile(r"^(.*)_(\d+)$")
_KERAS_RANK = re.compile(r"([123])D(?:Transpose)?$")
_ONNX_AXIS = re.compile(r"\b(length|height|width|depth) \(axis (\d+)\)")
# (the name the ONNX rule gives, its NCHW axis) -> the Keras name, per spatial rank: tf2onnx runs a
# Conv1D as a 2-D conv over (N, C, 1, L), whose "width (axis 3)" is the layer's length. The ONNX
# axis number is dropped: the shapes shown are the graph's (channels first), the layer's are not
_CHANNELS_LAST: dict[int, dict[tuple[str, int], str]] = {
    1: {("width", 3): "length", ("length", 2): "length"},
    2: {("height", 2): "height", ("width", 3): "width"},
    3: {("depth", 2): "depth", ("height", 3): "height", ("width", 4): "width"},
}
_MAIN_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "Gemm", "MatMul", "Gather", "LSTM", "GRU")


def detect_framework(graph: Graph) -> str:
    if graph.producer.startswith("tf2onnx"):
        return "keras"
    if graph.producer.startswith("pytorch"):
        return "torch"
    if graph.producer.startswith("jax2onnx"):
        return "jax"
    return "onnx"


def _strip_suffix(seg: str) -> str:
    m = _SUFFIX.match(seg)
    return m.group(1) if m else seg


def _keras_layer(name: str, known: Mapping[str, LayerInfo]) -> str:
    if ";" in name:  # a TFLite op fused from several (conv, bias, relu) is named by all their tensors
        name = next((part for part in name.split(";") if "/" in part), name)
    segs = name.split("/")
    while segs and segs[0] in ("StatefulPartitionedCall", "PartitionedCall", "model"):
        segs = segs[1:]
    if len(segs) < 2:
        return ""
    if known:
        # the deepest scope that is a layer of the live model (tf2onnx adds "_1" to scopes)
        found = ""
        for seg in segs[:-1]:
            for cand in (seg, _strip_suffix(seg)):
                if cand in known:
                    found = cand
                    break
        return found
    # from the file alone: the scope below the model's, without the suffix tf2onnx adds
    suffixed = _SUFFIX.match(segs[0]) is not None
    return _strip_suffix(segs[1]) if suffixed else segs[1]


def _torch_legacy_layer(name: str, known: Mapping[str, LayerInfo]) -> str:
    """``/features/features.3/Conv`` -> ``features.3``; ``/enc/layer1/0/conv1/Conv`` -> ``enc.layer1.0.conv1``.

    The TorchScript exporter names a scope by the module's attribute name, except below a container
    (``Sequential``, ``ModuleList``), whose children are ``<container's scope>.<index>``: a segment
    that extends the one before it with ``.`` replaces it. A module called more than once gets
    ``_1``, ``_2`` appended to its scope.
    """
    if not name.startswith("/"):
        return ""
    segs = name[1:].split("/")[:-1]  # the last segment is the op
    if not segs:
        return ""
    parts: list[str] = []  # the dotted path, one entry per scope segment
    for seg in segs:
        if parts and seg.startswith(parts[-1] + "."):
            parts[-1] = seg  # a container's child: "features" -> "features.3"
        else:
            parts.append(seg)
    path = ".".join(parts)
    if known and path not in known:
        alt = ".".join(parts[:-1] + [_strip_suffix(parts[-1])])
        if alt in known:
            return alt
    return path


def _torch_dynamo_layer(node: Node) -> tuple[str, str] | None:
    scopes_txt = node.meta.get("pkg.torch.onnx.name_scopes")
    if scopes_txt is None:
        return None
    try:
        scopes = ast.literal_eval(scopes_txt)
        classes = ast.literal_eval(node.meta.get("pkg.torch.onnx.class_hierarchy", "[]"))
    except (ValueError, SyntaxError):
        return None
    mods = [s for s in scopes[1:-1] if s]  # drop the root module and the aten op
    if not mods:
        return "", ""
    kind = ""
    if len(classes) >= 2:
        kind = str(classes[len(scopes) - 2]).rsplit(".", 1)[-1]
    return str(mods[-1]), kind  # each scope is the module's full dotted path


BODY_NAME = "graphcheck.node"  # meta key: a control-flow body node's name in its own graph


def layer_map(graph: Graph, info: FrameworkInfo | None = None, walked: Sequence[Node] | None = None) -> LayerMap:
    """Framework layers of the ``walked`` nodes (default: the graph's; an analysis passes the nodes it walked,
    control-flow bodies included, whose layer comes from their name in their own graph)."""
    framework = info.framework if info is not None else detect_framework(graph)
    known: Mapping[str, LayerInfo] = info.layers if info is not None else {}
    names: dict[str, tuple[str, str]] = {}  # node -> (layer, kind)
    walked = graph.nodes if walked is None else walked
    for n in walked:
        if n.name in names:
            continue
        layer, kind = "", ""
        own = n.meta.get(BODY_NAME, n.name)
        recorded = n.meta.get(LAYER_KEY)
        if recorded is not None:
            layer = recorded
        elif framework == "keras":
            layer = _keras_layer(own, known)
        elif framework == "torch":
            dyn = _torch_dynamo_layer(n)
            if dyn is not None:
                layer, kind = dyn
            else:
                layer = _torch_legacy_layer(own, known)
        if layer and layer in known:
            kind = known[layer].kind
        names[n.name] = (layer, kind)
    groups: dict[str, list[Node]] = {}
    order: list[str] = []
    grouped: set[str] = set()
    for n in walked:
        if n.name in grouped:
            continue
        grouped.add(n.name)
        layer = names[n.name][0]
        key = layer or f"\x00{n.name}"  # ops outside any layer stand alone
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(n)
    layers: list[Layer] = []
    by_node: dict[str, Layer] = {}
    one_d: set[str] = set()
    for key in order:
        nodes = groups[key]
        layer_name = names[nodes[0].name][0]
        kind = next((names[n.name][1] for n in nodes if names[n.name][1]), "")
        if not kind:  # guessed from the ONNX ops, only when they leave no doubt
            mains = {n.op_type for n in nodes if n.op_type in _MAIN_OPS}
            ops = {n.op_type for n in nodes}
            kind = mains.pop() if len(mains) == 1 else ops.pop() if len(ops) == 1 else ""
        if framework == "keras" and layer_name and _tf2onnx_one_d(nodes):
            one_d.add(layer_name)
        lay = Layer(layer_name, kind, framework if layer_name else "onnx", tuple(n.name for n in nodes))
        layers.append(lay)
        for n in nodes:
            by_node[n.name] = lay
    return LayerMap(framework, layers, by_node, info, frozenset(one_d))


_WINDOW_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool")


def _tf2onnx_one_d(nodes: list[Node]) -> bool:
    """tf2onnx's 1-D window: an Unsqueeze, a 2-D Conv/pool whose kernel is 1 x k, a Squeeze."""
    ops = {n.op_type for n in nodes}
    if "Unsqueeze" not in ops or "Squeeze" not in ops:
        return False
    windows = [n for n in nodes if n.op_type in _WINDOW_OPS]
    if len(windows) != 1:
        return False
    k = windows[0].attrs.get("kernel_shape")
    return isinstance(k, tuple) and len(k) == 2 and k[0] == 1

"""The typed graph every later stage works on (built by :mod:`graphcheck.model.load`).

Nothing here touches onnx protobufs: attribute values are plain Python values,
initializers carry their shape and, when small, their values; weight bytes are never
part of the IR.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

DimSpec = int | str | None  # a fixed size, a named dim (dim_param), or an unnamed dynamic dim
Number = int | float | Fraction


@dataclass(frozen=True)
class TensorData:
    """A constant tensor: its element type, shape and (when small) its values, row-major."""

    elem_type: int
    dims: tuple[int, ...]
    values: tuple[Number, ...] | None  # None when large, external or undecodable
    name: str = ""

    @property
    def numel(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n


@dataclass(frozen=True)
class SubGraph:
    """A graph-valued attribute (If/Loop/Scan bodies): its interface, and its body as a graph of its
    own (initializers and nodes; names it does not define are read from the enclosing scopes).
    ``body`` takes no part in equality or hashing: attribute values are compared by interface."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    body: Graph | None = field(default=None, compare=False, repr=False)


AttrValue = int | float | str | bytes | TensorData | SubGraph | tuple


@dataclass(frozen=True)
class ValueInfo:
    name: str
    elem_type: int
    shape: tuple[DimSpec, ...] | None  # None: rank unknown
    kind: str = "tensor"  # "tensor", "sequence", "map", "optional", "unknown"


@dataclass(frozen=True, init=False)
class Node:
    index: int
    name: str
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, AttrValue]
    meta: Mapping[str, str] = field(default_factory=dict)  # exporter metadata kept (name scopes, classes)

    def __init__(
        self,
        index: int,
        name: str,
        op_type: str,
        domain: str,
        inputs: tuple[str, ...],
        outputs: tuple[str, ...],
        attrs: Mapping[str, AttrValue],
        meta: Mapping[str, str] | None = None,
    ) -> None:
        # (one per node of the graph: the fields written at once, not one object.__setattr__ each)
        self.__dict__.update(
            index=index,
            name=name,
            op_type=op_type,
            domain=domain,
            inputs=inputs,
            outputs=outputs,
            attrs=attrs,
            meta={} if meta is None else meta,
        )

    def attr(self, key: str, default: AttrValue | None = None) -> AttrValue | None:
        return self.attrs.get(key, default)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.op_type})"


_INPUTS = attrgetter("inputs")
_OUTPUTS = attrgetter("outputs")


@dataclass(frozen=True)
class Function:
    """A model-local function (FunctionProto), kept for inlining."""

    domain: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attr_names: tuple[str, ...]
    attr_defaults: Mapping[str, AttrValue]
    nodes: tuple[Node, ...]
    opsets: Mapping[str, int]
    attr_refs: Mapping[int, Mapping[str, str]] = field(default_factory=dict)  # node index -> {attr: ref}


@dataclass
class Graph:
    name: str
    inputs: list[ValueInfo]
    outputs: list[ValueInfo]
    initializers: dict[str, TensorData]
    nodes: list[Node]
    opsets: dict[str, int]
    value_info: dict[str, ValueInfo] = field(default_factory=dict)
    functions: dict[tuple[str, str], Function] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    producer: str = ""
    producer_version: str = ""
    ir_version: int = 0
    source: str = ""
    graph_metadata: dict[str, str] = field(default_factory=dict)  # GraphProto.metadata_props
    # all_nodes(), remembered with the node list it was made from (a graph is not changed in place
    # once loaded; dataclasses.replace makes a new one, which starts without it)
    _all: list[Node] | None = field(default=None, init=False, repr=False, compare=False)
    _all_of: list[Node] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def opset(self) -> int:
        return self.opsets.get("", self.opsets.get("ai.onnx", 0))

    def all_nodes(self) -> list[Node]:
        """The graph's nodes and, after each node holding subgraphs, theirs (depth first)."""
        if self._all is not None and len(self._all) >= len(self.nodes) and self._all_of is self.nodes:
            return self._all
        out: list[Node] = []
        stack: list[Node] = list(reversed(self.nodes))
        while stack:
            n = stack.pop()
            out.append(n)
            for body in reversed(subgraphs(n)):
                stack.extend(reversed(body.nodes))
        self._all, self._all_of = out, self.nodes
        return out

    def file_order_is_topological(self) -> bool:
        ins = list(map(_INPUTS, self.nodes))
        outs = list(map(_OUTPUTS, self.nodes))
        later: set[str] = set(chain.from_iterable(outs))
        produced: set[str] = {vi.name for vi in self.inputs} | set(self.initializers) | {""}
        has_all, add = produced.issuperset, produced.update
        for i, o in zip(ins, outs):
            if not has_all(i):  # (the usual case in one C call)
                for name in i:
                    if name not in produced and name in later:
                        return False
            add(o)
        return True

    def dag(self) -> nx.DiGraph:
        """Nodes (by index) with an edge from each producer to each consumer of its outputs."""
        import networkx as nx  # only when the file order is not topological: a check rarely needs it

        g = nx.DiGraph()
        g.add_nodes_from(n.index for n in self.nodes)
        producer: dict[str, int] = {}
        for n in self.nodes:
            for o in n.outputs:
                if o:
                    producer[o] = n.index
        for n in self.nodes:
            for i in n.inputs:
                p = producer.get(i)
                if p is not None and p != n.index:
                    g.add_edge(p, n.index)
        return g

    def topo_order(self) -> list[Node]:
        """Nodes in a topological order, ties broken by file order (stable, so reports are).

        ONNX requires nodes to be stored topologically sorted, so the file order is checked in
        one pass and used when valid; otherwise the networkx DAG is sorted.
        """
        if self.file_order_is_topological():
            return list(self.nodes)
        import networkx as nx

        g = self.dag()
        by_index = {n.index: n for n in self.nodes}
        try:
            order = list(nx.lexicographical_topological_sort(g))
        except nx.NetworkXUnfeasible:
            # A cycle is invalid ONNX; analyse in file order and let the missing inputs surface.
            order = [n.index for n in self.nodes]
        return [by_index[i] for i in order]


_GRAPH_OPS = frozenset({"If", "Loop", "Scan", "SequenceMap"})  # ONNX ops with graph attributes


def subgraphs(node: Node) -> list[Graph]:
    """The bodies of ``node``'s graph attributes (If's branches, a Loop's or Scan's body), in
    attribute order."""
    if not node.domain and node.op_type not in _GRAPH_OPS:
        return []  # no other ONNX op takes a graph (a contrib or custom op might)
    out: list[Graph] = []
    for v in node.attrs.values():
        if isinstance(v, SubGraph) and v.body is not None:
            out.append(v.body)
        elif isinstance(v, tuple):
            out.extend(x.body for x in v if isinstance(x, SubGraph) and x.body is not None)
    return out

"""Expanding calls of model-local functions (FunctionProto) into their bodies."""

from __future__ import annotations

from dataclasses import replace

from graphcheck.model.ir import AttrValue, Function, Graph, Node

MAX_DEPTH = 16


def inline_functions(graph: Graph) -> Graph:
    """A copy of ``graph`` in which every call of a local function is replaced by its body."""
    if not graph.functions or not any((n.domain, n.op_type) in graph.functions for n in graph.nodes):
        return graph
    nodes: list[Node] = []
    for n in graph.nodes:
        nodes.extend(_expand(n, graph, 0))
    nodes = [replace(n, index=i) for i, n in enumerate(nodes)]
    opsets = dict(graph.opsets)
    for f in graph.functions.values():
        for dom, ver in f.opsets.items():
            opsets.setdefault(dom, ver)
    return replace(graph, nodes=nodes, opsets=opsets)


def _expand(call: Node, graph: Graph, depth: int) -> list[Node]:
    fn = graph.functions.get((call.domain, call.op_type))
    if fn is None or depth > MAX_DEPTH:
        return [call]
    prefix = f"{call.name}/"
    rename: dict[str, str] = {}
    for formal, actual in zip(fn.inputs, call.inputs):
        rename[formal] = actual
    for formal in fn.inputs[len(call.inputs) :]:
        rename[formal] = ""
    for formal, actual in zip(fn.outputs, call.outputs):
        rename[formal] = actual
    out: list[Node] = []
    for i, n in enumerate(fn.nodes):
        attrs = dict(n.attrs)
        for key, ref in fn.attr_refs.get(i, {}).items():
            val: AttrValue | None = call.attrs.get(ref, fn.attr_defaults.get(ref))
            if val is not None:
                attrs[key] = val
        body = Node(
            index=0,
            name=prefix + n.name,
            op_type=n.op_type,
            domain=n.domain,
            inputs=tuple(rename.get(x, prefix + x) if x else "" for x in n.inputs),
            outputs=tuple(rename.get(x, prefix + x) if x else "" for x in n.outputs),
            attrs=attrs,
        )
        out.extend(_expand(body, graph, depth + 1))
    return out


__all__ = ["inline_functions", "Function"]

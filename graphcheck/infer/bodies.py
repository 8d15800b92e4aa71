"""Control-flow bodies laid out in the walk: what an expansion is, and a body renamed into a scope.

An expansion (:mod:`graphcheck.infer.control`, :mod:`graphcheck.infer.loops`) is what the walk
takes in place of a control node: the body's nodes, then the control node in the internal domain.
Each body's names are moved into a scope of their own (``If_0/then_branch/x``), so two branches or
two bodies never clash and outer names stay visible; the nodes are renamed ``then_branch of If_0:
/conv/Conv`` (their own name kept in ``meta``, for layer names).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from graphcheck.infer.facts import Fact, tensor_fact
from graphcheck.model.inline import inline_functions
from graphcheck.model.ir import AttrValue, Graph, Node, SubGraph, subgraphs
from graphcheck.model.layers import BODY_NAME
from graphcheck.symbolic.assume import Assumptions
from graphcheck.symbolic.cond import Cond

__all__ = ["ORIGINAL_NAME", "PATH", "Expansion", "Laid", "Scope", "Split", "body_path", "is_control", "lay_out"]

ORIGINAL_NAME = BODY_NAME  # meta key: a body node's name in its own graph
# meta key: where a body node is in the model, "i/attr/j[/attr2/k...]": node i of the main graph,
# its graph attribute attr, node j of that body (a change to the node goes back there: a fix)
PATH = "graphcheck.path"


class Split(Exception):
    """An If whose condition on the sizes the path so far does not decide: analyse both sides."""

    def __init__(self, cond: Cond, node: Node) -> None:
        super().__init__(f"{node.name}: {cond}")
        self.cond = cond
        self.node = node


@dataclass(frozen=True)
class Expansion:
    """What to walk in place of a control node: ``nodes`` (the body, then the control node in the
    internal domain), the facts of the values a body defines before its first node runs (its
    initializers, a loop body's inputs), notes about the choice made, and ``guard``: a condition
    on the sizes under which the body runs at all (a loop's ``trips >= 1``); what the body's nodes
    require is required only where it holds."""

    nodes: tuple[Node, ...]
    facts: Mapping[str, Fact] = field(default_factory=dict)
    notes: tuple[tuple[str, str], ...] = ()  # (code, message), given to the control node's step
    guard: Cond | None = None
    # where the expansion itself is followed (GC110 at the control node): (condition, what)
    covers: tuple[tuple[Cond, str], ...] = ()


@dataclass(frozen=True)
class Scope:
    """What an expansion may read of the walk: the facts so far, what the conditions upstream tell
    of the sizes, the path condition, fresh node indices, the model (its local functions) and a
    side walk (``probe``: runs nodes over scratch facts, keeping no condition; it returns the
    conditions of the parts followed for some sizes only, GC110, which the caller must carry over)."""

    facts: Mapping[str, Fact]
    known: Assumptions
    path: Sequence[Cond]
    next_index: Callable[[], int]
    model: Graph
    probe: Callable[[Sequence[Node], dict[str, Fact]], list[Cond]]
    cache: dict | None = None


_CONTROL = frozenset({"If", "Loop", "Scan"})


def is_control(node: Node) -> bool:
    return node.op_type in _CONTROL and not node.domain


# ------------------------------------------------------------------------------------ laying out a body


@dataclass(frozen=True)
class Laid:
    nodes: tuple[Node, ...]
    facts: dict[str, Fact]
    rename: dict[str, str]  # the body's own names -> their names in the walk


def body_path(node: Node, attr: str) -> str:
    """Where a body of ``node`` is in the model: ``"3/then_branch"`` (node 3 of the main graph),
    ``"3/then_branch/5/body"`` (node 5 of that branch), ... (see :data:`PATH`)."""
    return f"{node.meta.get(PATH, node.index)}/{attr}"


def lay_out(
    body: Graph, scope: str, label: str, next_index: Callable[[], int], functions: Graph, path: str = ""
) -> Laid:
    """``body``'s nodes with every name the body defines moved into ``scope`` (names it only reads
    stay: they come from the enclosing graphs), nested bodies' reads of those names renamed too."""
    if functions.functions:
        body = inline_functions(replace(body, functions=functions.functions))
    local: set[str] = set(body.initializers) | {vi.name for vi in body.inputs}
    for n in body.nodes:
        local.update(o for o in n.outputs if o)
    rename = {x: scope + x for x in local}
    facts = {rename[name]: tensor_fact(t) for name, t in body.initializers.items()}
    nodes: list[Node] = []
    get = rename.get
    for j, n in enumerate(body.nodes):
        attrs = n.attrs
        if subgraphs(n):
            attrs = {k: _rename_free(v, rename) for k, v in n.attrs.items()}
        meta = {**n.meta, ORIGINAL_NAME: n.meta.get(ORIGINAL_NAME, n.name)}
        if path:
            meta[PATH] = f"{path}/{j}"
        ins = tuple([get(x, x) for x in n.inputs])
        outs = tuple([get(x, x) for x in n.outputs])
        nodes.append(Node(next_index(), label + n.name, n.op_type, n.domain, ins, outs, attrs, meta))
    return Laid(tuple(nodes), facts, rename)


def _rename_free(v: AttrValue, rename: Mapping[str, str]) -> AttrValue:
    """An attribute value with the names its bodies read from outside (and that ``rename`` moves)
    renamed; names a body defines itself shadow the outer ones."""
    if isinstance(v, SubGraph) and v.body is not None:
        return replace(v, body=_rename_graph(v.body, rename))
    if isinstance(v, tuple) and any(isinstance(x, SubGraph) for x in v):
        return tuple(_rename_free(x, rename) for x in v)
    return v


def _rename_graph(g: Graph, rename: Mapping[str, str]) -> Graph:
    local: set[str] = set(g.initializers) | {vi.name for vi in g.inputs}
    for n in g.nodes:
        local.update(o for o in n.outputs if o)
    outer = {k: v for k, v in rename.items() if k not in local}
    if not outer:
        return g
    nodes = []
    for n in g.nodes:
        attrs = {k: _rename_free(v, outer) for k, v in n.attrs.items()} if subgraphs(n) else n.attrs
        nodes.append(replace(n, inputs=tuple(outer.get(x, x) for x in n.inputs), attrs=attrs))
    outputs = [replace(vi, name=outer.get(vi.name, vi.name)) for vi in g.outputs]
    return replace(g, nodes=nodes, outputs=outputs)

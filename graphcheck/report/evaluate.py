"""Concrete evaluation of an analysis at given sizes: every node's shapes and the first failure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from graphcheck.infer.engine import Analysis
from graphcheck.infer.facts import Fact, Requirement
from graphcheck.model.ir import Node
from graphcheck.model.layers import LayerMap
from graphcheck.symbolic.expr import Expr, Sym

Shape = tuple[int, ...]


@dataclass(frozen=True)
class NodeShapes:
    order: int
    node: str
    op: str
    outputs: tuple[tuple[str, Shape | None], ...]
    failed: tuple[Requirement, ...] = ()
    unknown: bool = False  # the analysis could not follow this node


@dataclass(frozen=True)
class LayerShapes:
    """One framework layer at the sizes asked: its output shape and whether it fails there."""

    index: int
    layer: str  # framework name, or the ONNX node for an op outside any layer
    kind: str  # the layer's class (Conv1D, Conv1d) or main ONNX op
    nodes: tuple[str, ...]
    outputs: tuple[tuple[str, Shape | None], ...]  # the layer's last node's outputs
    failed: tuple[Requirement, ...] = ()
    unknown: bool = False


@dataclass
class Evaluation:
    """The model at one assignment of sizes."""

    sizes: dict[str, int]
    ok: bool | None  # True: every condition holds and the analysis is complete; None: unknown
    failures: list[Requirement] = field(default_factory=list)
    nodes: list[NodeShapes] = field(default_factory=list)
    outputs: dict[str, Shape | None] = field(default_factory=dict)
    undecided: list[Requirement] = field(default_factory=list)
    defaulted: list[str] = field(default_factory=list)  # free sizes not given, set to 1 (they cannot matter)
    layers: list[LayerShapes] = field(default_factory=list)  # per framework layer (Keras/PyTorch models)
    not_followed: Requirement | None = None  # the node followed for other sizes only, that stops here (GC110)
    refused: str = ""  # why these sizes cannot be fed at all (a fixed dim contradicted, not a size)
    context: str = ""  # the mode or control-flow case evaluated (``with use_cache_branch = true``)

    def sizes_text(self) -> str:
        given = [f"{k}={v}" for k, v in self.sizes.items() if k not in self.defaulted]
        text = ", ".join(given) or "the declared shapes"
        if self.defaulted:
            text += f" ({', '.join(f'{k}=1' for k in self.defaulted)}, free)"
        if self.context:
            text += f" [{self.context}]"
        return text

    @property
    def first_failure(self) -> Requirement | None:
        return self.failures[0] if self.failures else None


def shape_at(fact: Fact, env: Mapping[Sym, int]) -> Shape | None:
    if fact.shape is None:
        return None
    out: list[int] = []
    for d in fact.shape:
        if d.has_opaque():
            return None
        out.append(d.evaluate(env))
    return tuple(out)


def value_at(e: Expr, env: Mapping[Sym, int]) -> int | None:
    return None if e.has_opaque() else e.evaluate(env)


def downstream(order: Sequence[Node], pos: int) -> set[int]:
    """The walk positions of the node at ``pos`` and of every node that reads what it computes."""
    if not 0 <= pos < len(order):
        return set()
    tainted = {o for o in order[pos].outputs if o}
    out = {pos}
    for p in range(pos + 1, len(order)):
        n = order[p]
        if any(i in tainted for i in n.inputs):
            out.add(p)
            tainted.update(o for o in n.outputs if o)
    return out


def verdict(analysis: Analysis, env: Mapping[Sym, int]) -> bool | None:
    """Whether the model accepts ``env``: False when a condition fails there, None when that is
    not decided (a condition on a value the analysis could not know, or an incomplete analysis),
    True otherwise. What :func:`evaluate` says in ``ok``, without evaluating every node's shapes."""
    undecided = False
    for r in analysis.requirements:  # in walk order
        if not r.decidable:
            undecided = True
        elif not r.cond.holds(env):
            if not r.covers:
                return False
            # outside the sizes a node was followed for: what comes after it does not hold here
            return None
    return None if undecided or not analysis.complete else True


def evaluate(analysis: Analysis, env: Mapping[Sym, int], names: Mapping[Sym, str] | None = None) -> Evaluation:
    """Evaluate every requirement and node output at ``env`` (a value for every input symbol)."""
    missing = [s.name for s in analysis.symbols if s not in env]
    if missing:
        raise KeyError(f"no size given for {', '.join(missing)}")
    failures: list[Requirement] = []
    undecided: list[Requirement] = []
    by_order: dict[int, list[Requirement]] = {}
    beyond = False  # past a node followed for other sizes only: nothing after it is decided here
    blind: set[int] = set()  # that node and what reads it: their shapes here are not known
    not_followed: Requirement | None = None
    for r in analysis.requirements:  # in walk order
        if not r.decidable or beyond:
            undecided.append(r)
            continue
        if not r.cond.holds(env):
            if r.covers:
                undecided.append(r)
                beyond = True
                blind = downstream(analysis.order, r.order)
                not_followed = r
                continue
            failures.append(r)
            by_order.setdefault(r.order, []).append(r)
    failures.sort(key=lambda r: r.order)
    incomplete_nodes = {n.order for n in analysis.notes if n.code in {"GC101", "GC102", "GC103", "GC901"}}
    nodes: list[NodeShapes] = []
    unknown_values: set[str] = set()
    for pos, node in enumerate(analysis.order):
        if pos in blind:
            unknown_values.update(node.outputs)
        outs = tuple(
            (o, None if pos in blind else shape_at(analysis.facts.get(o, Fact(None)), env)) for o in node.outputs if o
        )
        unknown = pos in incomplete_nodes or pos in blind
        nodes.append(NodeShapes(pos, node.name, node.op_type, outs, tuple(by_order.get(pos, ())), unknown))
    outputs = {
        vi.name: None if vi.name in unknown_values else shape_at(analysis.facts.get(vi.name, Fact(None)), env)
        for vi in analysis.graph.outputs
    }
    if failures:
        ok: bool | None = False
    elif undecided or not analysis.complete:
        ok = None
    else:
        ok = True
    sizes = {s.name: env[s] for s in analysis.symbols}
    return Evaluation(sizes, ok, failures, nodes, outputs, undecided, not_followed=not_followed)


def layer_rows(ev: Evaluation, layers: LayerMap) -> list[LayerShapes]:
    """Group the nodes' shapes by framework layer, like ``model.summary()`` at concrete sizes."""
    by_node = {n.node: n for n in ev.nodes}
    rows: list[LayerShapes] = []
    for lay in layers.layers:
        recs = [by_node[nm] for nm in lay.nodes if nm in by_node]
        if not recs:
            continue
        rows.append(
            LayerShapes(
                len(rows),
                lay.name or lay.nodes[0],
                lay.kind,
                lay.nodes,
                recs[-1].outputs,
                tuple(r for rec in recs for r in rec.failed),
                any(rec.unknown for rec in recs),
            )
        )
    return rows

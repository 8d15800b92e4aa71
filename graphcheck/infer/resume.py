"""Re-inference of a changed graph from an analysis already made (the fix search's engine).

A candidate fix changes one node's attributes (and perhaps its weight). :func:`reanalyze` walks
the changed graph from the first changed node on, re-running the rule of a node only when one of
its inputs' facts changed, and reusing the base analysis' steps, facts and conditions everywhere
else. :class:`Trials` answers the fix search's cheaper question, "does the changed model meet
every condition at these sizes?", for many candidates of one base: each walk stops at its first
failing condition, and walks that reach a state already decided (the same position with the
same changed facts still to be read) end with that answer at once.

Budgets: none is needed. A walk visits each node at most once and the outcome table grows by at
most one entry per node visited.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from graphcheck.infer.bodies import PATH
from graphcheck.infer.engine import (
    Analysis,
    Fresh,
    Split,
    Stopped,
    Walk,
    analyze,
    fusable_ranges,
    no_gc,
    run_step,
    shape_like,
    walk_once,
)
from graphcheck.infer.facts import Fact, Note, Requirement, tensor_fact
from graphcheck.model.ir import AttrValue, Graph, Node, SubGraph, TensorData
from graphcheck.symbolic.assume import Assumptions
from graphcheck.symbolic.cond import Cond
from graphcheck.symbolic.expr import Expr

__all__ = ["reanalyze", "with_semantics", "Trials"]

Stop = Callable[[Requirement | Note], bool]
_State = tuple[int, frozenset[tuple[str, Fact]], Assumptions | None]  # position, changed facts ahead, knowledge


@dataclass(frozen=True)
class _Index:
    """What a resumed walk looks up in the analysis it resumes (built once per analysis)."""

    position: dict[int, int]  # node index -> position in the walk
    consumers: dict[str, tuple[int, ...]]  # value name -> positions of the nodes reading it
    last_use: dict[str, int]  # value name -> the last position that reads it (fused Gathers included)
    cond_at: dict[Cond, int]  # each required condition -> its index in ``requirements``
    dim_at: dict[Expr, int]  # each size whose ">= 1" was checked (or trivially true) -> where first
    fusable: dict[int, Node]  # semantics "ort": Gather node index -> the Range fused into it
    req_orders: list[int]  # the position of each condition's node, in list (walk) order
    note_orders: list[int]
    last_assuming: int  # the last position whose rule reasoned under the conditions upstream (-1: none)

    def counts(self, k: int) -> tuple[int, int]:
        """How many conditions and notes the nodes before position ``k`` left."""
        return bisect.bisect_left(self.req_orders, k), bisect.bisect_left(self.note_orders, k)


def _index(a: Analysis) -> _Index:
    if isinstance(a.index_cache, _Index):
        return a.index_cache
    if len(a.steps) != len(a.order):
        raise ValueError("resuming needs an analysis made by graphcheck.infer.engine.analyze")
    consumers: dict[str, list[int]] = {}
    dim_at: dict[Expr, int] = {}
    for pos, (node, step) in enumerate(zip(a.order, a.steps)):
        for name in node.inputs:
            if name:
                consumers.setdefault(name, []).append(pos)
        for out_name, f in zip(node.outputs, step.outs):
            if out_name and f.shape is not None and f.value is None and not shape_like(f):
                for d in f.shape:
                    dim_at.setdefault(d, pos)
    fusable = fusable_ranges(a.graph, a.order) if a.semantics == "ort" else {}
    position = {n.index: pos for pos, n in enumerate(a.order)}
    last_use = {name: max(ps) for name, ps in consumers.items()}
    for gi, rng in fusable.items():  # a fused Gather reads its Range's inputs too
        for name in rng.inputs:
            if name:
                last_use[name] = max(last_use.get(name, -1), position[gi])
    idx = _Index(
        position,
        {k: tuple(v) for k, v in consumers.items()},
        last_use,
        {r.cond: i for i, r in enumerate(a.requirements)},
        dim_at,
        fusable,
        [r.order for r in a.requirements],
        [n.order for n in a.notes],
        max((pos for pos, st in enumerate(a.steps) if st.assumed is not None), default=-1),
    )
    a.index_cache = idx
    return idx


def _check_changes(base: Analysis, nodes: Mapping[int, Node]) -> None:
    position = _index(base).position
    for i, new in nodes.items():
        old = base.order[position[i]] if i in position else None
        if old is None or (old.op_type, old.domain, old.inputs, old.outputs) != (
            new.op_type,
            new.domain,
            new.inputs,
            new.outputs,
        ):
            raise ValueError(f"node {i} must keep its op, inputs and outputs")


def reanalyze(
    base: Analysis,
    nodes: Mapping[int, Node] | None = None,
    initializers: Mapping[str, TensorData] | None = None,
    *,
    stop: Stop | None = None,
) -> Analysis | None:
    """``base``'s analysis with some nodes (by index) and initializers replaced.

    The graph keeps its shape: each replacement has the op, inputs and outputs of the node it
    replaces (a candidate fix changes attributes and weights). Everything before the first
    changed node is reused as it was, and so is every later node whose inputs' facts came out
    unchanged. The result equals a fresh ``analyze`` of the changed graph, up to the numbering of
    opaque symbols.

    ``stop`` is asked about every condition and note from the first changed node on (in walk
    order): when it returns True the walk ends there and the result is None.
    """
    nodes, initializers = dict(nodes or {}), dict(initializers or {})
    _check_changes(base, nodes)
    if base.expanded:  # control-flow bodies: their facts were set by the walk, so walk again
        return _afresh(base, nodes, initializers, stop)
    result = no_gc(lambda: _resume(base, nodes, initializers, stop, Fresh(base.fresh_next), None))
    assert not isinstance(result, bool)
    return result


def _again(base: Analysis, graph: Graph, semantics: str) -> Analysis:
    """``graph`` walked as ``base`` was (its path condition and mode values): one walk when that
    path decides every If on the sizes again, else the whole analysis (its cases merged)."""
    if base.cases or base.variants:
        return analyze(graph, base.dims, semantics)
    try:
        return walk_once(graph, base.dims, semantics, base.path, dict(base.values))
    except Split:
        return analyze(graph, base.dims, semantics, values=dict(base.values) or None)


def _changed_graph(base: Analysis, nodes: Mapping[int, Node], initializers: Mapping[str, TensorData]) -> Graph:
    """The base's graph with the changed nodes put back: a node of the main graph by its index, a
    node of a control-flow body at its place in the body (its attributes changed, nothing else)."""
    inits = dict(base.graph.initializers)
    inits.update(initializers)
    top = {i: n for i, n in nodes.items() if PATH not in n.meta}
    graph_nodes = [top.get(n.index, n) for n in base.graph.nodes]
    for n in nodes.values():
        where = n.meta.get(PATH)
        if where is not None:
            parts = where.split("/")
            i = int(parts[0])
            graph_nodes[i] = _with_body_node(graph_nodes[i], parts[1:], n.attrs)
    return replace(base.graph, nodes=graph_nodes, initializers=inits)


def _with_body_node(node: Node, path: list[str], attrs: Mapping[str, AttrValue]) -> Node:
    """``node`` with the body node at ``path`` (attribute, index, attribute, index, ...) given
    ``attrs``."""
    attr, j = path[0], int(path[1])
    sg = node.attrs.get(attr)
    if not isinstance(sg, SubGraph) or sg.body is None or not 0 <= j < len(sg.body.nodes):
        return node
    body_nodes = list(sg.body.nodes)
    inner = body_nodes[j]
    body_nodes[j] = _with_body_node(inner, path[2:], attrs) if len(path) > 2 else replace(inner, attrs=attrs)
    new_sg = replace(sg, body=replace(sg.body, nodes=body_nodes))
    return replace(node, attrs={**node.attrs, attr: new_sg})


def _afresh(
    base: Analysis,
    nodes: Mapping[int, Node],
    initializers: Mapping[str, TensorData],
    stop: Stop | None,
    semantics: str | None = None,
) -> Analysis | None:
    """The changed graph analysed from scratch (an analysis whose walk laid out control-flow
    bodies: an If may take another branch, a loop run another number of times). ``stop`` is asked
    of every condition and note: None when one stops it."""
    a = _again(base, _changed_graph(base, nodes, initializers), semantics or base.semantics)
    items: list[Requirement | Note] = [*a.requirements, *a.notes]
    if stop is not None and any(stop(x) for x in items):
        return None
    return a


def with_semantics(base: Analysis, semantics: str) -> Analysis:
    """``base``'s analysis under other semantics ("spec" or "ort"), re-running only what can differ.

    A rule's result can depend on the semantics only if it asked for them (``OpContext.semantics``
    records the question in the node's step), or if it is a Gather that onnxruntime fuses with its
    Range (those see the Range's inputs in "ort"). Those nodes are re-run, and so is what depends on
    a fact that came out different; every other step is the same in both semantics, since a rule is
    a function of its input facts. The result equals ``analyze(graph, dims, semantics)`` up to the
    numbering of opaque symbols.
    """
    if semantics == base.semantics:
        return base
    if base.expanded or base.variants or base.cases:
        return _again(base, base.graph, semantics)
    fusable = fusable_ranges(base.graph, base.order) if semantics == "ort" else {}
    forced = {pos for pos, step in enumerate(base.steps) if step.reads_semantics}
    idx = _index(base)
    forced |= {idx.position[gi] for gi in fusable if gi in idx.position}
    result = no_gc(
        lambda: _resume(base, {}, {}, None, Fresh(base.fresh_next), None, semantics, fusable, frozenset(forced))
    )
    assert isinstance(result, Analysis)
    return result


class Trials:
    """Candidate changes of one base analysis, each asked: does every condition and note from the
    change on pass ``fails``? (The fix search asks it at the sizes the user gave.)

    The answer from a position on depends only on which facts differ from the base's there and
    are still to be read, so it is remembered for that state: a later candidate that reaches the
    same state (a kernel shortened by one in either of two 'same'-padded layers makes the same
    change downstream) gets the answer without walking the rest. Opaque symbols are numbered
    across all candidates, so the facts of two candidates never share a name by accident.
    """

    def __init__(self, base: Analysis, fails: Stop) -> None:
        self.base = base
        self.fails = fails
        self.fresh = Fresh(base.fresh_next)
        self.outcomes: dict[_State, bool] = {}

    def passes(self, nodes: Mapping[int, Node], initializers: Mapping[str, TensorData] | None = None) -> bool:
        """True when the changed graph meets no failing condition or note from the change on."""
        nodes_, inits = dict(nodes), dict(initializers or {})
        _check_changes(self.base, nodes_)
        if self.base.expanded:
            return _afresh(self.base, nodes_, inits, self.fails) is not None
        return no_gc(lambda: _resume(self.base, nodes_, inits, self.fails, self.fresh, self.outcomes)) is True

    def position(self, node_index: int) -> int | None:
        """Where the node with this index is in the base's walk."""
        if self.base.expanded:  # walked afresh for every candidate: no index of its steps is kept
            return next((p for p, n in enumerate(self.base.order) if n.index == node_index), None)
        return _index(self.base).position.get(node_index)


def _resume(
    base: Analysis,
    nodes: dict[int, Node],
    initializers: dict[str, TensorData],
    stop: Stop | None,
    fresh: Fresh,
    outcomes: dict[_State, bool] | None,
    semantics: str | None = None,
    fusable: dict[int, Node] | None = None,
    forced: frozenset[int] = frozenset(),
) -> Analysis | bool | None:
    """The walk of the changed graph: its analysis, or None when ``stop`` ended it. With
    ``outcomes`` only the verdict is wanted: True when it would pass (no analysis is built when a
    known state answers), False or None when it stops. ``semantics`` (with its ``fusable``
    Gathers) walks under other semantics than the base's, re-running the ``forced`` positions."""
    idx = _index(base)
    if semantics is None:
        semantics, fusable = base.semantics, idx.fusable
    assert fusable is not None
    graph = base.graph  # its opsets are all a rule reads of it; the changed graph is built at the end
    order = base.order
    facts = dict(base.facts)
    changed: dict[str, Fact] = {}  # values whose fact differs from base's, with the new fact
    live: dict[str, Fact] = {}  # those of them still to be read
    expiry: dict[int, list[str]] = {}  # position -> changed values read there for the last time

    def change(name: str, f: Fact, pos: int) -> None:
        changed[name] = f
        last = idx.last_use.get(name, -1)
        if last >= pos:
            live[name] = f
            expiry.setdefault(last, []).append(name)

    for name, t in initializers.items():
        facts[name] = tensor_fact(t)
        change(name, facts[name], 0)
    starts = [idx.position[i] for i in nodes] + [p for name in changed for p in idx.consumers.get(name, ())]
    starts += forced
    first = min(starts, default=len(order))
    settled = max((idx.position[i] for i in nodes), default=-1)  # past it, the changed facts say it all
    fused_inputs = {gi: set(r.inputs) for gi, r in fusable.items()}
    walk = Walk(facts, stop, base, first, idx.cond_at, idx.dim_at, idx.counts(first), base.cond_cache)
    path: list[_State] = []

    def settle(verdict: bool) -> bool:
        if outcomes is not None:
            for key in path:
                outcomes[key] = verdict
        return verdict

    try:
        for pos in range(first, len(order)):
            for name in expiry.pop(pos - 1, ()):
                live.pop(name, None)
            if outcomes is not None and pos > settled:
                # what is known of the sizes is part of the state only while a rule ahead reads it
                key = (pos, frozenset(live.items()), walk.now if pos <= idx.last_assuming else None)
                known = outcomes.get(key)
                if known is not None:
                    return settle(known)
                path.append(key)
            node = order[pos]
            if nodes:
                node = nodes.get(node.index, node)
            assumed = base.steps[pos].assumed
            dirty = (
                pos in forced
                or (assumed is not None and assumed != walk.now)
                or node.index in nodes
                or any(i in changed for i in node.inputs)
                or bool(fused_inputs and fused_inputs.get(node.index, set()) & changed.keys())
            )
            if dirty:
                step = run_step(
                    graph, node, pos, facts, semantics, fresh, fusable.get(node.index), walk.now, walk.cond_cache
                )
                for name, f, g in zip(node.outputs, step.outs, base.steps[pos].outs):
                    if name and f != g:
                        change(name, f, pos + 1)
            else:
                step = base.steps[pos]
            walk.commit(node, pos, step)
    except Stopped:
        settle(False)
        return None
    if outcomes is not None:
        return settle(True)
    if nodes or initializers:
        inits = dict(graph.initializers)
        inits.update(initializers)
        graph = replace(graph, nodes=[nodes.get(n.index, n) for n in graph.nodes], initializers=inits)
        order = [nodes.get(n.index, n) for n in order]
    return replace(
        base,
        graph=graph,
        facts=facts,
        requirements=walk.requirements,
        notes=walk.notes,
        order=order,
        steps=walk.steps,
        semantics=semantics,
        fresh_next=fresh.next,
        index_cache=None,
        known=walk.known,
    )

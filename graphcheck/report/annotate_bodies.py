"""``graphcheck annotate`` inside the bodies of If, Loop and Scan: the values of every body the
analysis followed, nested bodies included.

The walk lays a body out in place of its control node, its names moved into a scope
(:mod:`graphcheck.infer.bodies`): an If branch's value ``x`` of node ``N`` is ``N/then_branch/x``
in the walk, a Loop or Scan body's ``N/body/x``, and a nested control node is named ``then_branch
of N: M`` there (so its body's values are ``then_branch of N: M/body/x``). Here each value of the
file's bodies is found under that name in every walk that followed its body (the modes an If on
``use_cache_branch`` splits the model into, the cases an If on the sizes does; one walk
otherwise), and written under the rules of the main graph: a dim every such walk agrees on (up to
the sizes a case's path pins), over the inputs' dim names, settled under what the walk knows of the
sizes; unset, saying why, where the walks differ, where the size changes from one iteration of a
loop to the next, or past a node followed for part of the sizes only.

A loop body's values are what holds at every iteration (the walk's facts there are). Its inputs:
the carried values (Loop) and the states and scan slices (Scan) are written too; the iteration
number and the condition of a Loop keep the file's declared types (scalars by the spec;
onnxruntime feeds them at the rank the file declares, so a rewritten rank would change what runs).

A body no walk followed (a branch never taken, a node whose bodies could not be laid out) is left
as the file has it; :attr:`graphcheck.report.annotate.Plan.not_followed` says which and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from graphcheck.infer.analysis import Analysis
from graphcheck.infer.facts import Fact
from graphcheck.infer.ops.control import INTERNAL
from graphcheck.model.ir import Graph, Node, SubGraph, ValueInfo
from graphcheck.report.shaper import Body, BodyKey, Dim, Shaper, ValueShape
from graphcheck.symbolic.expr import Expr, Sym

__all__ = ["WalkView", "plan_bodies", "CONTROL_ATTRS"]

CONTROL_ATTRS = {"If": ("then_branch", "else_branch"), "Loop": ("body",), "Scan": ("body",)}


@dataclass(frozen=True)
class WalkView:
    """One walk of the analysis as the bodies' plan reads it: what it is, how its facts are written
    (``shaper``: what it knows of the sizes), the sizes its path pins, where each value is made,
    which control nodes it laid out (walk name -> position of the control node's end, the
    attributes whose bodies it walked), and where it stops being claimed (GC110)."""

    label: str
    analysis: Analysis
    pins: Mapping[Sym, Expr]
    shaper: Shaper
    stop: int | None = None
    stop_why: str = ""
    pos: dict[str, int] = field(default_factory=dict)
    ends: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)
    plain: dict[str, int] = field(default_factory=dict)  # control nodes walked by their plain rule (not laid out)

    @classmethod
    def of(
        cls, label: str, a: Analysis, pins: Mapping[Sym, Expr], shaper: Shaper, stop: int | None, why: str
    ) -> WalkView:
        w = cls(label, a, pins, shaper, stop, why)
        for i, n in enumerate(a.order):
            for o in n.outputs:
                if o:
                    w.pos[o] = i
            if n.domain == INTERNAL and n.op_type in CONTROL_ATTRS:
                taken = str(n.attrs.get("branches", "")) if n.op_type == "If" else "body"
                w.ends[n.name] = (i, frozenset(x for x in taken.split(",") if x))
            elif not n.domain and n.op_type in CONTROL_ATTRS:
                w.plain[n.name] = i
        return w

    def past(self, top: str, name: str) -> bool:
        """Is ``name`` (a walk name inside the bodies of top-level control node ``top``) past where
        this walk is claimed? A body is, as a whole, when its control node ends there: a part of a
        loop body followed for some sizes only makes its number of iterations so."""
        if self.stop is None:
            return False
        end = self.ends.get(top)
        return (end is not None and end[0] >= self.stop) or self.pos.get(name, -1) >= self.stop


def plan_bodies(
    graph: Graph, walks: Sequence[WalkView], elsewhere: Sequence[WalkView] = ()
) -> tuple[dict[BodyKey, Body], dict[str, str]]:
    """The plan of every body of ``graph``'s control nodes that some walk followed (nested ones
    inside), and the bodies none followed: where -> why. ``elsewhere``: the walks left out because
    their path fails at the sizes given (``at``)."""
    skipped: dict[str, str] = {}
    bodies = _bodies(graph.nodes, "", {}, None, walks, skipped)
    for where in skipped:
        attr, _, name = where.partition(" of ")
        if any(attr in w.ends.get(name, (0, frozenset()))[1] for w in elsewhere):
            skipped[where] = "not taken at the sizes given (taken where they are otherwise)"
    return bodies, skipped


def _bodies(
    nodes: Sequence[Node],
    label: str,
    outer: Mapping[str, str],
    top: str | None,
    walks: Sequence[WalkView],
    skipped: dict[str, str],
) -> dict[BodyKey, Body]:
    """The bodies of the control nodes among ``nodes`` (one graph's, in file order): ``label`` is
    what the walk put before their names (``then_branch of N: ``), ``outer`` the walk names of the
    values the enclosing bodies define, ``top`` the walk name of the outermost control node."""
    out: dict[BodyKey, Body] = {}
    named: dict[str, int] = {}
    for node in nodes:
        if not node.domain and node.op_type in CONTROL_ATTRS:
            named[node.name] = named.get(node.name, 0) + 1
    for p, node in enumerate(nodes):
        attrs = CONTROL_ATTRS.get(node.op_type) if not node.domain else None
        if attrs is None:
            continue
        name = label + node.name
        for attr in attrs:
            sg = node.attrs.get(attr)
            if not isinstance(sg, SubGraph) or sg.body is None:
                continue
            where = f"{attr} of {name}"
            if named[node.name] > 1:  # the walk names a body's values after its node: two are one
                skipped[f"{where} (node {p})"] = (
                    f"not written: {named[node.name]} control-flow nodes are named {node.name!r}"
                )
                continue
            followed = [w for w in walks if attr in w.ends.get(name, (0, frozenset()))[1]]
            if not followed:
                skipped[where] = _why_not(node, name, attr, walks)
                continue
            out[(p, attr, 0)] = _body(node, sg, attr, name, where, outer, top or name, followed, skipped)
    return out


def _why_not(node: Node, name: str, attr: str, walks: Sequence[WalkView]) -> str:
    """Why no walk followed body ``attr`` of control node ``name``."""
    for w in walks:
        pos = w.plain.get(name)
        if pos is not None and pos < len(w.analysis.steps) and w.analysis.steps[pos].notes:
            n = w.analysis.steps[pos].notes[0]
            return f"not followed ({n.code}): {n.message}"
    taken = {b for w in walks if name in w.ends for b in w.ends[name][1]}
    if node.op_type == "If" and taken:
        if len(walks) > 1:
            return "never taken: the If's condition selects the other branch in every mode and case analysed"
        return f"never taken: the If's condition is always {'true' if attr == 'else_branch' else 'false'} here"
    return "not followed by any walk of the analysis"


def _body(
    node: Node,
    sg: SubGraph,
    attr: str,
    name: str,
    where: str,
    outer: Mapping[str, str],
    top: str,
    walks: Sequence[WalkView],
    skipped: dict[str, str],
) -> Body:
    assert sg.body is not None
    g = sg.body
    scope = f"{name}/{attr}/"
    local: set[str] = set(g.initializers) | {vi.name for vi in g.inputs}
    for n in g.nodes:
        local.update(o for o in n.outputs if o)
    inner = {**outer, **{x: scope + x for x in local}}
    declared: dict[str, ValueInfo] = {**g.value_info, **{vi.name: vi for vi in g.outputs}}
    names = list(dict.fromkeys([o for n in g.nodes for o in n.outputs if o] + [vi.name for vi in g.outputs]))
    shapes: dict[str, ValueShape] = {}
    unknown: dict[str, str] = {}
    for v in names:
        vi = declared.get(v)
        shape, why = _combined(v, inner.get(v, v), top, walks, vi.elem_type if vi is not None else 0)
        if shape is not None:
            shapes[v] = shape
        else:
            unknown[v] = why
    # a Loop's carried values (not its iteration number and condition), a Scan's states and slices
    inputs: dict[str, ValueShape] = {}
    for vi in g.inputs[2:] if node.op_type == "Loop" else g.inputs:
        shape, why = _combined(vi.name, inner[vi.name], top, walks, vi.elem_type)
        if shape is not None and vi.shape is not None and len(vi.shape) != len(shape.dims):
            why = f"declared with rank {len(vi.shape)}, but it has rank {len(shape.dims)}: left as is"
            shape = None
        if shape is not None:
            inputs[vi.name] = shape
        else:
            unknown[vi.name] = why
    nested = _bodies(g.nodes, f"{attr} of {name}: ", inner, top, walks, skipped)
    return Body(shapes, nested, inputs, unknown, where)


def _combined(local: str, name: str, top: str, walks: Sequence[WalkView], elem: int) -> tuple[ValueShape | None, str]:
    """Value ``local`` (walk name ``name``) as written from every walk that computed it: each dim
    the one they agree on; None (and why) when its rank is not known in one of them or differs."""
    seen: list[tuple[WalkView, Fact]] = []
    for w in walks:
        f = w.analysis.facts.get(name)
        if f is not None:
            seen.append((w, f))
    if not seen:
        return None, "not computed by the walk that followed this body"
    for w, f in seen:
        if f.shape is None:
            return None, _why_unknown(w, name)
    ranks = {len(f.shape or ()) for _, f in seen}
    if len(ranks) > 1:
        return None, "rank unknown: it differs by mode or control-flow case"
    first_w, first = seen[0]
    assert first.shape is not None
    elem = first.dtype or elem
    past = next((w for w, _ in seen if w.past(top, name)), None)
    if past is not None:
        why_all = tuple(f"axis {i}: {past.stop_why}" for i in range(len(first.shape)))
        return ValueShape(local, elem, (None,) * len(first.shape), why_all), ""
    dims: list[Dim] = []
    why: list[str] = []
    for axis in range(len(first.shape)):
        settled = [(w, w.shaper.settle(f.shape[axis])) for w, f in seen if f.shape is not None]
        d, w_text = _agreed(settled)
        dims.append(d)
        if w_text:
            why.append(f"axis {axis}: {w_text}")
    return ValueShape(local, elem, tuple(dims), tuple(why)), ""


def _agreed(settled: list[tuple[WalkView, Expr]]) -> tuple[Dim, str]:
    """A dim every walk agrees on: one walk's expression that equals every other's under that
    walk's pinned sizes (``C*L`` is ``L`` where ``C = 1``), written by that walk; or unset, saying
    how they differ."""
    first_w, first = settled[0]
    if all(e == first for _, e in settled):
        return first_w.shaper.text(first)
    for w, e in settled:
        if all(e.subs(x.pins) == d.subs(x.pins) for x, d in settled):
            return w.shaper.text(e)
    alts = "; ".join(f"{e} with {w.label}" for w, e in settled)
    return None, f"differs by mode or control-flow case ({alts})"


def _why_unknown(w: WalkView, name: str) -> str:
    """Why a body value's rank is not known in walk ``w``: its own node's note, else the first
    node of the walk not followed."""
    a = w.analysis
    pos = w.pos.get(name)
    if pos is not None and pos < len(a.steps) and a.steps[pos].notes:
        n = a.steps[pos].notes[0]
        return f"rank unknown: {n.node} ({n.op}), {n.code}: {n.message}"
    if pos is None:
        return "rank unknown at some iteration: a value the loop carries whose rank graphcheck does not follow"
    first = next((n for n in sorted(a.notes, key=lambda n: n.order) if n.order <= pos), None)
    return "rank unknown" if first is None else f"rank unknown, past {first.node} ({first.op}): {first.message}"

"""``graphcheck annotate``: every value's exact shape, written back into the model.

:func:`plan` turns a finished report into what the writer (:mod:`graphcheck.model.serde`) puts in
the file: for every value of the main graph whose rank is known, its shape, each dim

* an integer where graphcheck proves one (or, with ``at``, at those sizes);
* otherwise the exact expression graphcheck prints, over the inputs' own dim names, in the grammar
  of :mod:`graphcheck.symbolic.dimtext` (an evaluator ships with it);
* a ``data_<what>_<n>`` name for a size decided by the data (NonZero, NonMaxSuppression, Unique,
  ...), described in ``metadata_props`` (``graphcheck.data.<name>``), never a guess;
* or unset (an empty dim), the reason in the value's ``doc_string``: a size graphcheck could not
  follow, a value past a node followed for part of the sizes only (GC110), a dim over an input
  axis that has no name.

Each shape is the one the walk derived under the conditions upstream of it, read under every
condition of the model (so a min/max that the valid set settles is written settled): within the
valid set every written dim is true; sizes that differ by case are written as an expression that
holds in each case (a broadcast of ``n`` against ``m`` is ``max(n, m)``; against the constant
``64`` it is ``64``, since ``n`` must then be 1 or 64), never merged as if equal.

The graph's inputs keep their dims, unless ``--dim`` changed them (``N=1`` fixes N; ``x:1=L``
names an axis, or makes a fixed one symbolic): then the inputs are written as analysed, so every
name in the file is an input's dim name. The model's ``metadata_props`` get the valid set, whether
it is exact, the findings' codes, graphcheck's version and the grammar (``graphcheck.*``, replaced
on a second run).

The bodies of If, Loop and Scan that the analysis followed get the same (:mod:`graphcheck.report.
annotate_bodies`): :attr:`Plan.bodies` holds a :class:`Body` per body, keyed by the node's position
in its graph and the attribute, nested bodies inside it, which :func:`write` puts into that body
(:attr:`graphcheck.model.serde.GraphEdit.subgraphs`). A body value gets the dims every walk that
computed it agrees on (a branch taken in one mode only is written from that mode's walk); a loop
body's value what holds at every iteration. A body no walk followed (a branch never taken) is left
as the file has it, in :attr:`Plan.not_followed` with why.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from graphcheck.errors import UsageError
from graphcheck.infer.engine import Analysis
from graphcheck.infer.facts import Fact
from graphcheck.model.ir import Graph
from graphcheck.model.serde import GraphEdit, TensorShape, Written, write_annotated
from graphcheck.report.annotate_bodies import WalkView, plan_bodies
from graphcheck.report.report import Report
from graphcheck.report.shaper import Body, BodyKey, Dim, Opaque, Shaper, ValueShape, opaque_sizes
from graphcheck.symbolic.assume import NOTHING, Assumptions
from graphcheck.symbolic.cond import Cond, Eq
from graphcheck.symbolic.expr import Expr, Sym, const
from graphcheck.version import __version__

__all__ = [
    "ValueShape",
    "Body",
    "Plan",
    "Shaper",
    "Annotated",
    "BodyWritten",
    "plan",
    "annotate",
    "write",
    "GRAMMAR",
    "METADATA_PREFIX",
]

METADATA_PREFIX = "graphcheck."
GRAMMAR = (
    "graphcheck dims 1: integers; the inputs' dim names; + - * (and a^k); floor(a / b); ceil(a / b); a % b; "
    "min(a, b, ...); max(a, b, ...); data_* names: sizes decided by the data (graphcheck.data.*); "
    "an empty dim: not known (the value's doc_string says why); evaluator: graphcheck.symbolic.dimtext.evaluate"
)


@dataclass(frozen=True)
class Plan:
    """What is written: shapes of values (node outputs and graph outputs), rewritten inputs, data-dependent
    names, values left alone (rank unknown, with why) and the metadata.

    ``bodies``: the values of subgraph bodies, by node position and attribute (see
    :class:`graphcheck.model.serde.GraphEdit`); ``not_followed``: the bodies no walk of the
    analysis followed (a branch never taken), left as the file has them: where -> why."""

    shapes: dict[str, ValueShape]
    inputs: dict[str, ValueShape]
    unknown: dict[str, str]
    data: dict[str, str]
    metadata: dict[str, str]
    at: dict[str, int] = field(default_factory=dict)
    bodies: dict[BodyKey, Body] = field(default_factory=dict)
    not_followed: dict[str, str] = field(default_factory=dict)

    def edit(self) -> GraphEdit:
        inputs = {n: _tensor_shape(v) for n, v in self.inputs.items()}
        return _edit(Body(self.shapes, self.bodies), inputs)


def _tensor_shape(v: ValueShape) -> TensorShape:
    return TensorShape(v.elem_type, v.dims, "; ".join(f"graphcheck: {w}" for w in v.why))


def _edit(body: Body, inputs: Mapping[str, TensorShape] | None = None) -> GraphEdit:
    subs = {k: _edit(b) for k, b in body.bodies.items()}
    ins = dict(inputs) if inputs is not None else {n: _tensor_shape(v) for n, v in body.inputs.items()}
    return GraphEdit({n: _tensor_shape(v) for n, v in body.shapes.items()}, ins, subs)


@dataclass(frozen=True)
class BodyWritten:
    """What one body got (see :attr:`Annotated.bodies`): where it is, its key path from the main
    graph, the values written (node outputs in file order, declared outputs, then inputs) and
    the values left as the file has them, with why."""

    where: str
    path: tuple[BodyKey, ...]
    values: list[ValueShape]
    left: dict[str, str]


@dataclass(frozen=True)
class Annotated:
    """The result of :func:`annotate`: the plan, what the file got, and how long writing took."""

    source: str
    out: str
    plan: Plan
    written: Written
    seconds: float  # writing the file (the analysis not included)

    @property
    def values(self) -> list[ValueShape]:
        """The values written, node outputs in file order, then graph outputs."""
        names = self.written.value_info + [o for o in self.written.outputs if o not in self.written.value_info]
        return [self.plan.shapes[n] for n in names]

    @property
    def bodies(self) -> list[BodyWritten]:
        """The bodies written into, depth first in file order (nested ones after their parent)."""
        out: list[BodyWritten] = []

        def walk(bodies: Mapping[BodyKey, Body], written: Mapping[BodyKey, Written], path: tuple) -> None:
            for key, b in bodies.items():
                w = written.get(key)
                if w is None:
                    continue
                names = w.value_info + [o for o in w.outputs if o not in w.value_info]
                values = [b.shapes[n] for n in names] + [b.inputs[n] for n in w.inputs if n not in names]
                mine = set(w.produced) | set(w.outputs)
                left = {n: why for n, why in b.unknown.items() if n in mine}
                out.append(BodyWritten(b.where, (*path, key), values, left))
                walk(b.bodies, w.subgraphs, (*path, key))

        walk(self.plan.bodies, self.written.subgraphs, ())
        return out

    @property
    def all_values(self) -> list[ValueShape]:
        """Every value written: the main graph's, then each body's."""
        return self.values + [v for b in self.bodies for v in b.values]

    @property
    def all_left(self) -> int:
        """How many values of the main graph and the bodies are left as the file has them."""
        return len(self.left) + sum(len(b.left) for b in self.bodies)

    @property
    def full(self) -> int:
        """Values with a full shape, in the main graph and the bodies."""
        return sum(v.full for v in self.all_values)

    @property
    def left(self) -> dict[str, str]:
        """The graph's values whose rank graphcheck does not know, left as the file has them, with why."""
        mine = set(self.written.produced) | set(self.written.outputs)
        return {n: w for n, w in self.plan.unknown.items() if n in mine}

    @property
    def moved_away_from_weights(self) -> bool:
        """The model keeps its weights in external files and was written to another folder: the
        relative paths it refers to them by no longer lead to them."""
        if not self.written.external or self.source.startswith("<"):
            return False
        here = os.path.dirname(os.path.abspath(self.source))
        return here != os.path.dirname(os.path.abspath(self.out))


# ---------------------------------------------------------------------------


def _input_changes(graph: Graph, analysis: Analysis) -> dict[str, tuple[Dim, ...]]:
    """Inputs whose dims the analysis took otherwise than declared (``--dim``), as analysed; an axis
    left unnamed stays unnamed."""
    out: dict[str, tuple[Dim, ...]] = {}
    for vi in graph.inputs:
        shape = analysis.input_shapes.get(vi.name)
        if vi.shape is None or shape is None:
            continue
        dims: list[Dim] = []
        changed = False
        for axis, (spec, e) in enumerate(zip(vi.shape, shape)):
            if e.is_const:
                d: Dim = e.value
            else:
                s = e.as_sym()
                d = None if s is None or s.name == f"{vi.name}:{axis}" else s.name
            dims.append(d)
            declared = spec if isinstance(spec, int) and spec >= 0 else (spec or None)
            changed = changed or declared != d
        if changed:
            out[vi.name] = tuple(dims)
    return out


def _unnamed(graph: Graph, analysis: Analysis) -> dict[Sym, str]:
    """Input symbols that are an axis without a name (``x:1``): no dim may be written over them."""
    out: dict[Sym, str] = {}
    for vi in graph.inputs:
        shape = analysis.input_shapes.get(vi.name)
        if shape is None:
            continue
        for axis, e in enumerate(shape):
            s = e.as_sym()
            if s is not None and s.name == f"{vi.name}:{axis}":
                out[s] = f"input {vi.name!r} axis {axis} has no name (name it with --dim {vi.name}:{axis}=NAME)"
    return out


def _known_for(analysis: Analysis, before: int | None) -> Assumptions:
    """What the model's conditions say of the sizes (those upstream of walk position ``before``)."""
    known = NOTHING
    for p, a in analysis.known:
        if before is not None and p > before:
            break
        known = a
    return known


def _at_env(report: Report, at: Mapping[str, int]) -> dict[Sym, int]:
    """The sizes given (a size left out that no condition mentions stays symbolic: it is not 1 for
    every caller); refused when the model fails there."""
    ev = report.at(at)
    if ev.ok is False:
        r = ev.first_failure
        why = ev.refused or ("" if r is None else f"at {r.node} ({r.op}) {r.what}; `graphcheck explain` shows why")
        raise AnnotateRefused(f"the model fails at {ev.sizes_text()}: {why}")
    raw, _, defaulted = report.sizes_env(at)
    return {s: v for s, v in raw.items() if s.name not in defaulted}


def _why_unknown(report: Report, pos: int | None) -> str:
    """Why a value's rank is not known: its own node's note, else the first node not followed."""
    analysis = report.analysis
    if pos is not None and pos < len(analysis.steps) and analysis.steps[pos].notes:
        n = analysis.steps[pos].notes[0]
        return f"rank unknown: {n.node} ({n.op}), {n.code}: {n.message}"
    first = report.first_unknown
    return "rank unknown" if first is None else f"rank unknown, past {first.node} ({first.op}): {first.message}"


def plan(report: Report, at: Mapping[str, int] | None = None) -> Plan:
    """What ``graphcheck annotate`` writes for ``report``'s model (at ``at``: integers at those sizes;
    for a model with modes, ``at`` may name a mode's input: the shapes are then that mode's)."""
    if at and report.modes and any(k in report.mode_inputs for k in at):
        picked, rest, labels = report._split_modes(at)
        if len(picked) != 1:
            raise UsageError(f"no single mode of {', '.join(report.mode_inputs)} is {dict(at)}")
        p = plan(picked[0], rest)
        modes = {k: v for k, v in at.items() if k in report.mode_inputs}
        p.metadata["graphcheck.at"] = ",".join(f"{k}={v}" for k, v in {**modes, **rest}.items())
        p.metadata["graphcheck.mode"] = labels[0]
        return p
    analysis = report.analysis
    graph = analysis.graph
    given = _at_env(report, at) if at else {}
    env = {s: const(v) for s, v in given.items()} or None
    renamed = _input_changes(graph, analysis)
    unnamed = _unnamed(graph, analysis)
    inputs_names = {s.name for s in analysis.symbols if s not in unnamed}
    taken = set(inputs_names)
    opaque = opaque_sizes(analysis, taken)
    walks = _all_walks(report)
    for _, w, _, _ in walks:
        if w is not analysis:  # a mode's or a case's walk: the sizes decided by the data in its bodies
            opaque.add(w, taken)
    allowed = frozenset(inputs_names) | frozenset(opaque.data)
    # past a node followed for part of the sizes only, where those left are not known to fail,
    # nothing is claimed (the walk reasoned under the part it followed from there on)
    stop: int | None = None
    stop_why = ""
    if report.uncovered:
        r, left = report.uncovered[0]
        stop = r.order
        stop_why = f"past {r.node} ({r.op}), which graphcheck followed for part of the sizes only (not for {left})"
    known = NOTHING if report.solution.is_empty() else _known_for(analysis, stop)
    shaper = Shaper(known, env, opaque, unnamed, allowed)
    mine = {o for node in graph.nodes for o in node.outputs if o}  # the main graph's (not the bodies')
    produced: dict[str, int] = {}
    for i, node in enumerate(analysis.order):
        for o in node.outputs:
            if o and o in mine:
                produced[o] = i
    names_out = list(produced) + [vi.name for vi in graph.outputs if vi.name not in produced]
    shapes: dict[str, ValueShape] = {}
    unknown: dict[str, str] = {}
    others = _other_walks(report)
    for name in names_out:
        f: Fact | None = analysis.facts.get(name)
        pos = produced.get(name)
        if f is None or f.shape is None:
            unknown[name] = _why_unknown(report, pos)
            continue
        elem = f.dtype or (graph.value_info[name].elem_type if name in graph.value_info else 0)
        if stop is not None and pos is not None and pos >= stop:
            why_all = tuple(f"axis {i}: {stop_why}" for i in range(len(f.shape)))
            shapes[name] = ValueShape(name, elem, (None,) * len(f.shape), why_all)
            continue
        written: ValueShape | None = shaper.shape(name, f, elem)
        if others and written is not None:
            written = _in_every_walk(written, name, f, others, shaper)
        if written is None:
            unknown[name] = "rank unknown: it differs by mode or control-flow case (an If chose a Squeeze or not)"
            continue
        shapes[name] = written
    inputs = {v.name: ValueShape(v.name, v.elem_type, renamed[v.name]) for v in graph.inputs if v.name in renamed}
    at_sizes = {s.name: v for s, v in given.items()}
    bodies, skipped = _plan_bodies(report, graph, walks, env, given, opaque, unnamed, allowed)
    metadata = _metadata(report, at_sizes, opaque.data)
    return Plan(shapes, inputs, unknown, opaque.data, metadata, at_sizes, bodies, skipped)


def _plan_bodies(
    report: Report,
    graph: Graph,
    walks: list[_WalkOf],
    env: Mapping[Sym, Expr] | None,
    given: Mapping[Sym, int],
    opaque: Opaque,
    unnamed: Mapping[Sym, str],
    allowed: frozenset[str],
) -> tuple[dict[BodyKey, Body], dict[str, str]]:
    """The bodies' plan (:mod:`graphcheck.report.annotate_bodies`), each walk written under what it
    knows of the sizes; with ``at``, the walks whose path fails at those sizes are left out (their
    branches are not taken there)."""
    if not any(n.op_type in ("If", "Loop", "Scan") and not n.domain for n in graph.nodes):
        return {}, {}
    if graph.functions:  # calls inlined: the nodes' positions are no longer the file's
        return {}, {"every body": "not written in a model with local functions (not supported yet)"}
    uncovered = report.uncovered
    stops = {r.node for r, _ in uncovered}
    why = ""
    if uncovered:
        r, left = uncovered[0]
        why = f"past {r.node} ({r.op}), which graphcheck followed for part of the sizes only (not for {left})"
    none_valid = report.solution.is_empty()
    views: list[WalkView] = []
    elsewhere: list[WalkView] = []
    for label, a, pins, path in walks:
        out = bool(given) and any(c.symbols() <= given.keys() and not c.holds(given) for c in path)
        stop = next((i for i, n in enumerate(a.order) if n.name in stops), None) if stops else None
        known = NOTHING if none_valid else _known_for(a, stop)
        if known.empty:
            known = NOTHING
        shaper = Shaper(known, env, opaque, unnamed, allowed)
        # a case whose path fails at the sizes given: its branches are not taken there
        (elsewhere if out else views).append(WalkView.of(label, a, pins, shaper, stop, why))
    return plan_bodies(graph, views, elsewhere)


_WalkOf = tuple[str, Analysis, dict[Sym, Expr], tuple[Cond, ...]]  # label, walk, pinned sizes, path
Walk = tuple[str, Analysis, dict[Sym, Expr]]  # what it is, its analysis, the sizes its path pins


def _all_walks(report: Report) -> list[_WalkOf]:
    """Every walk of the analysis: each mode's (an If on ``use_cache_branch``) and each control-flow
    case's (an If on the sizes), or the one walk."""
    a = report.analysis
    walks: list[_WalkOf] = []
    for v in a.variants:
        if v.analysis.cases:
            for c in v.analysis.cases:
                walks.append((f"{v.label}, " + " and ".join(map(str, c.path)), c.analysis, _pins(c.path), c.path))
        else:
            walks.append((v.label, v.analysis, {}, ()))
    if not a.variants:
        walks.extend((" and ".join(str(x) for x in c.path), c.analysis, _pins(c.path), c.path) for c in a.cases)
    return walks or [("", a, {}, ())]


def _other_walks(report: Report) -> list[Walk]:
    """The walks besides the report's own whose facts a written dim must hold in too: every mode's
    (an If on ``use_cache_branch``) and every control-flow case's (an If on the sizes)."""
    walks = [(label, a, pins) for label, a, pins, _ in _all_walks(report)]
    return walks if len(walks) > 1 else []


def _pins(path: tuple[Cond, ...]) -> dict[Sym, Expr]:
    """The sizes a path condition fixes (``C = 1``)."""
    out: dict[Sym, Expr] = {}
    for c in path:
        if isinstance(c, Eq) and len(c.expr.symbols()) == 1:
            (x,) = c.expr.symbols()
            lin = c.expr.as_linear(x)
            if lin is not None and lin[0] in (1, -1):
                out[x] = const(-lin[1] * lin[0])
    return out


def _in_every_walk(shape: ValueShape, name: str, f: Fact, walks: list[Walk], shaper: Shaper) -> ValueShape | None:
    """``shape`` with each dim written as an expression that holds in every walk (one walk's
    expression that equals every other's under that walk's pinned sizes: ``C*L`` is ``L`` where
    ``C = 1``), or unset saying how they differ; None when the rank differs."""
    assert f.shape is not None
    seen = [(label, g.shape, pins) for label, w, pins in walks if (g := w.facts.get(name)) is not None and g.shape]
    if any(len(sh) != len(f.shape) for _, sh, _ in seen):
        return None
    dims = list(shape.dims)
    why = list(shape.why)
    for axis in range(len(f.shape)):
        exprs = [(label, sh[axis], pins) for label, sh, pins in seen]
        if all(e == f.shape[axis] for _, e, _ in exprs):
            continue
        pick = next((e for _, e, _ in exprs if all(e.subs(pins) == d.subs(pins) for _, d, pins in exprs)), None)
        if pick is not None:
            dims[axis], w = shaper.dim(pick)
            if w:
                why.append(f"axis {axis}: {w}")
            continue
        dims[axis] = None
        alts = "; ".join(f"{e} with {label}" for label, e, _ in exprs)
        why.append(f"axis {axis}: differs by mode or control-flow case ({alts})")
    return ValueShape(shape.name, shape.elem_type, tuple(dims), tuple(why))


def _metadata(report: Report, at: Mapping[str, int], data: Mapping[str, str]) -> dict[str, str]:
    codes = sorted({d.code for d in report.diagnostics})
    md = {
        "graphcheck.version": __version__,
        "graphcheck.valid": report.valid,
        "graphcheck.exact": "true" if report.exact else "false",
        "graphcheck.findings": ",".join(codes),
        "graphcheck.grammar": GRAMMAR,
    }
    if report.analysis.dims:
        md["graphcheck.dims"] = ",".join(f"{k}={v}" for k, v in report.analysis.dims.items())
    if at:
        md["graphcheck.at"] = ",".join(f"{k}={v}" for k, v in at.items())
    for name, what in data.items():
        md[f"graphcheck.data.{name}"] = what
    return md


class AnnotateRefused(UsageError):
    """``--at`` names sizes the model does not accept: nothing is written."""


def annotate(
    report: Report,
    out: str | os.PathLike[str],
    at: Mapping[str, int] | None = None,
    source: str | os.PathLike[str] | bytes | None = None,
) -> Annotated:
    """Write ``report``'s model to ``out`` with every value's shape (see the module's docstring).

    ``source`` is the model file (or its bytes); by default the file the report was made from.
    """
    src = source if source is not None else report.analysis.graph.source
    if isinstance(src, str) and src.startswith("<") and not os.path.exists(src):
        raise UsageError("the report was made from bytes or a ModelProto: pass the model (source=...) to annotate")
    return write(plan(report, at), src, out)


def write(p: Plan, source: str | os.PathLike[str] | bytes, out: str | os.PathLike[str]) -> Annotated:
    """Write ``source`` to ``out`` as ``p`` says (its bodies too)."""
    t0 = time.perf_counter()
    written = write_annotated(source, out, p.edit(), p.metadata, METADATA_PREFIX)
    seconds = time.perf_counter() - t0
    name = source if isinstance(source, str) else os.fspath(source) if isinstance(source, os.PathLike) else "<bytes>"
    return Annotated(name, os.fspath(out), p, written, seconds)

"""Symbolic shape inference: a topological walk applying each op's rule.

The walk has two halves per node. :func:`_step` applies the node's rule to its input facts (a
pure function of them, but for fresh opaque symbols) and records a :class:`Step`: the output
facts and exactly what the rule asked. :meth:`_Walk.commit` then does the bookkeeping that
depends on the order of the walk: it drops conditions already required upstream and adds the
"every output size >= 1" checks. Keeping the steps makes the walk resumable:
:mod:`graphcheck.infer.resume` replaces some nodes (a candidate fix), re-runs the rules of the
changed nodes and of what depends on them, and reuses every other step, fact and condition.
"""

from __future__ import annotations

import bisect
import gc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple, TypeVar

import graphcheck.infer.ops  # noqa: F401  (registers every rule)
from graphcheck.errors import TooComplex, UsageError
from graphcheck.infer.bounds import propagate as propagate_bounds
from graphcheck.infer.facts import UNKNOWN, Fact, Note, Requirement, tensor_fact
from graphcheck.infer.inputs import input_sizes, parse_dims
from graphcheck.infer.ops._shapeutil import simplify
from graphcheck.infer.registry import Invalid, OpContext, Propagate, Unsupported, done, lookup, running
from graphcheck.model.inline import inline_functions
from graphcheck.model.ir import Graph, Node, TensorData
from graphcheck.symbolic.assume import NOTHING, Assumptions
from graphcheck.symbolic.cond import FALSE, TRUE, AllOf, AnyOf, Cond, ge
from graphcheck.symbolic.expr import Expr, Sym, sym
from graphcheck.symbolic.intset import IntSet

__all__ = ["Analysis", "Step", "analyze", "parse_dims"]

INCOMPLETE_CODES = {"GC101", "GC102", "GC103", "GC901"}
T = TypeVar("T")


class Step(NamedTuple):
    """One node's rule applied: its output facts and what it asked, before deduplication.

    (Immutable like the other records; a named tuple because one is made per node on the hot path,
    and a frozen dataclass' ``__init__`` costs several times as much.)"""

    outs: tuple[Fact, ...]  # one per node output (UNKNOWN where the rule gave none)
    requirements: tuple[Requirement, ...]
    notes: tuple[Note, ...]
    dim_code: str  # the code and fix hint of this node's "every output size >= 1" checks
    dim_fix: str
    reads_semantics: bool = False  # the result may differ between "spec" and "ort"
    assumed: Assumptions | None = None  # what was known of the sizes, when the rule asked it


@dataclass
class Analysis:
    graph: Graph
    symbols: tuple[Sym, ...]
    addresses: dict[str, Expr]  # "input:axis" -> its size (symbol or constant)
    input_shapes: dict[str, tuple[Expr, ...] | None]
    facts: dict[str, Fact]
    requirements: list[Requirement]
    notes: list[Note]
    order: list[Node]
    semantics: str = "spec"
    fixed: dict[Sym, int] = field(default_factory=dict)  # symbols the user fixed with --dim NAME=V
    user_symbols: tuple[Sym, ...] = ()  # symbols the user made from fixed dims (--dim input:axis=NAME)
    dims: dict[str, int | str] = field(default_factory=dict)  # the user's --dim settings
    steps: list[Step] = field(default_factory=list, repr=False)  # per position in ``order``
    fresh_next: int = 0  # the next number for a fresh opaque symbol (a resumed walk starts there)
    index_cache: object = field(default=None, repr=False, compare=False)  # graphcheck.infer.resume's index
    # what was known of the sizes along the walk: (first position it held at, the knowledge), in order
    known: list[tuple[int, Assumptions]] = field(default_factory=lambda: [(0, NOTHING)], repr=False)
    cond_cache: dict[Cond, IntSet] = field(default_factory=dict, repr=False, compare=False)  # one-size solutions
    aliases: dict[str, str] = field(default_factory=dict)  # an exporter's name for a size (unk__68) -> the symbol's

    @property
    def complete(self) -> bool:
        return not any(n.code in INCOMPLETE_CODES for n in self.notes)

    def symbol(self, key: str) -> Sym:
        """A symbol by name or by ``input:axis`` address."""
        key = self.aliases.get(key, key)
        for s in self.symbols:
            if s.name == key:
                return s
        e = self.addresses.get(key)
        if e is not None:
            found = e.as_sym()
            if found is not None:
                return found
            raise UsageError(f"{key} is fixed at {e} in this model; make it symbolic with --dim {key}=NAME")
        raise UsageError(f"unknown dimension {key!r}; known: {', '.join(self.known_keys())}")

    def known_keys(self) -> list[str]:
        names = {s.name for s in self.symbols}
        return [s.name for s in self.symbols] + [a for a in (*self.addresses, *self.aliases) if a not in names]


def shape_like(f: Fact) -> bool:
    """A 0-D/1-D int32/int64 tensor: a shape, axes or index list rather than data."""
    return f.dtype in (6, 7) and f.shape is not None and len(f.shape) <= 1


def fusable_ranges(graph: Graph, order: Sequence[Node]) -> dict[int, Node]:
    """Gather nodes whose indices come from a Range consumed by nothing else (and not a graph
    output): onnxruntime's GatherToSliceFusion rewrites each pair into a Slice. Keyed by the Gather
    node's index, the value is the Range node."""
    uses: dict[str, int] = {}
    for node in order:
        for name in node.inputs:
            if name:
                uses[name] = uses.get(name, 0) + 1
    outputs = {vi.name for vi in graph.outputs}
    ranges = {n.outputs[0]: n for n in order if n.op_type == "Range" and not n.domain and n.outputs and n.outputs[0]}
    out: dict[int, Node] = {}
    for node in order:
        if node.op_type != "Gather" or node.domain or len(node.inputs) < 2:
            continue
        idx = node.inputs[1]
        r = ranges.get(idx)
        if r is not None and uses.get(idx) == 1 and idx not in outputs:
            out[node.index] = r
    return out


def run_step(
    graph: Graph,
    node: Node,
    pos: int,
    facts: Mapping[str, Fact],
    semantics: str,
    fresh: Callable[[str], Expr],
    fused: Node | None,
    known: Assumptions = NOTHING,
    cond_cache: dict[Cond, IntSet] | None = None,
) -> Step:
    """Apply ``node``'s rule to the facts of its inputs (``known``: what the conditions upstream
    tell of the sizes; the rule may reason under it, and the step records when it did)."""
    if node.op_type == "Constant" and not node.inputs and len(node.outputs) == 1 and not node.domain:
        t = node.attrs.get("value")
        if isinstance(t, TensorData) and len(node.attrs) == 1:  # what the Constant rule does, without its context
            return _new_step(Step, ((tensor_fact(t),), (), (), "GC002", "", False, None))
    get = facts.get
    ins: list[Fact | None] = [get(name) if name else None for name in node.inputs]
    missing: list[Note] = []
    if _has_none(ins):  # an optional input left out (""), or a name nothing produces
        for i, name in enumerate(node.inputs):
            if name and ins[i] is None:
                ins[i] = UNKNOWN
                missing.append(
                    Note("GC102", node.name, node.op_type, pos, f"input {name!r} is produced by nothing in the graph")
                )
    reread = False
    if known.sets:
        for i, f in enumerate(ins):
            if f is not None and f.__dict__.get("_plain") is not True:  # (see under)
                g = under(f, known)
                if g is not f:
                    ins[i] = g
                    reread = True
    domain = node.domain
    node_opset = graph.opsets.get(domain, graph.opset) if domain else graph.opset
    fn = lookup(domain, node.op_type, node_opset)
    ctx = OpContext(node, ins, node_opset, pos, semantics, fresh, None, None, "GC002", "", None, False, known, False,
                    cond_cache)  # fmt: skip
    if fused is not None:
        ctx.fused_range = [facts.get(n) if n else None for n in fused.inputs]
    outs: list[Fact] = []
    if fn is None:
        where = f"{domain}::" if domain else ""
        ctx.note("GC101", f"no rule for op {where}{node.op_type} (opset {node_opset}); its outputs are unknown")
    else:
        token = running(ctx)
        try:
            outs = list(fn(ctx))
        except Propagate:
            outs = []
        except Unsupported as exc:
            ctx.note("GC102", str(exc))
            outs = []
        except Invalid as exc:
            ctx.require(FALSE, "GC010", str(exc))
            outs = []
        except TooComplex as exc:  # a budget ran out (README, "Budgets and bounds"): unknown, never a guess
            ctx.note("GC102", _over_budget("sizes", exc))
            outs = []
        except Exception as exc:  # a bug in a rule must not take the analysis down
            ctx.note("GC901", f"internal error in the {node.op_type} rule: {type(exc).__name__}: {exc}")
            outs = []
        finally:
            done(token)
    if (
        outs
        and outs[0].bounds is None
        and outs[0].value is None  # (else there is nothing to propagate)
        and any(f is not None and (f.bounds is not None or f.value is not None) for f in ins)
    ):
        try:
            outs = propagate_bounds(node, ins, outs)
        except TooComplex as exc:  # without their bounds the outputs would claim too much: unknown
            ctx.note("GC102", _over_budget("values", exc))
            outs = []
    n = len(node.outputs)
    full = tuple(outs) if len(outs) == n else tuple(outs[i] if i < len(outs) else UNKNOWN for i in range(n))
    notes = tuple(missing + ctx.notes) if missing or ctx.notes else ()
    reads = ctx.semantics_read or fused is not None
    assumed = known if ctx.known_read or reread else None
    reqs = tuple(ctx.requirements) if ctx.requirements else ()
    return _new_step(Step, (full, reqs, notes, ctx.dim_code, ctx.dim_fix, reads, assumed))


_new_step = tuple.__new__  # (a Step without the named tuple's __new__ frame: one is made per node)


def _has_none(items: list[Fact | None]) -> bool:
    for f in items:  # (by identity: ``None in items`` would call each Fact's __eq__)
        if f is None:
            return True
    return False


def _over_budget(what: str, exc: Exception) -> str:
    text = str(exc)
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"the {what} computed here exceed graphcheck's budget ({text}); its outputs are unknown"


def _any_minmax(items: Sequence[object]) -> bool:
    for x in items:
        if isinstance(x, Expr) and x.has_minmax():
            return True
    return False


def under(f: Fact, known: Assumptions) -> Fact:
    """``f`` with its min/max read under what is known of the sizes (``max(floor((L - 240)/160),
    min(0, ...))`` is ``floor((L - 240)/160)`` once ``L >= 400`` is required): sizes computed early
    in the walk, before the conditions that settle them were met, are settled where they are used.
    The same object when nothing changes."""
    plain = f.__dict__.get("_plain")  # (remembered on the fact: most have no min/max, and are read often)
    if plain is None:
        plain = not (
            (f.shape is not None and _any_minmax(f.shape))
            or (f.value is not None and _any_minmax(f.value))
            or (f.bounds is not None and (f.bounds[0].has_minmax() or f.bounds[1].has_minmax()))
        )
        f.__dict__["_plain"] = plain
    if plain:
        return f
    shape = f.shape
    if shape is not None and _any_minmax(shape):
        shape = tuple(simplify(d, known) if d.has_minmax() else d for d in shape)
        if shape == f.shape:
            shape = f.shape
    value = f.value
    if value is not None and _any_minmax(value):
        value = tuple(simplify(v, known) if isinstance(v, Expr) and v.has_minmax() else v for v in value)
        if value == f.value:
            value = f.value
    bounds = f.bounds
    if bounds is not None and (bounds[0].has_minmax() or bounds[1].has_minmax()):
        bounds = (simplify(bounds[0], known), simplify(bounds[1], known))
        if bounds == f.bounds:
            bounds = f.bounds
    if shape is f.shape and value is f.value and bounds is f.bounds:
        return f
    return replace(f, shape=shape, value=value, bounds=bounds)


class Stopped(Exception):
    """A resumed walk met a condition or note its caller asked to stop at."""


_NEVER = 1 << 62


class Walk:
    """The order-dependent bookkeeping of a walk: facts, deduplicated conditions, notes.

    A resumed walk starts at position ``k`` of a base analysis: its lists begin as the base's up
    to ``k``, and what the base had seen before ``k`` is looked up in the base's index rather
    than copied.
    """

    def __init__(
        self,
        facts: dict[str, Fact],
        stop: Callable[[Requirement | Note], bool] | None = None,
        base: Analysis | None = None,
        k: int = 0,
        base_conds: Mapping[Cond, int] | None = None,
        base_dims: Mapping[Expr, int] | None = None,
        counts: tuple[int, int] | None = None,
        cond_cache: dict[Cond, IntSet] | None = None,
    ) -> None:
        self.facts = facts
        self.cond_cache: dict[Cond, IntSet] = {} if cond_cache is None else cond_cache
        self.stop = stop
        self.seen: set[Cond] = set()
        self.checked_dims: set[Expr] = set()  # sizes whose ">= 1" is already required or trivially true
        self.base_conds: Mapping[Cond, int] = base_conds or {}  # base's conditions -> index in its list
        self.base_dims: Mapping[Expr, int] = base_dims or {}  # base's checked sizes -> position checked
        if base is None:
            self.requirements: list[Requirement] = []
            self.notes: list[Note] = []
            self.steps: list[Step] = []
            self.cond_limit = self.dim_limit = 0
            self.known: list[tuple[int, Assumptions]] = [(0, NOTHING)]
        else:
            # how many of base's conditions and notes come before position k (both lists are in
            # walk order, each item carrying its node's position), unless the caller knows
            if counts is None:
                counts = (
                    bisect.bisect_left([r.order for r in base.requirements], k),
                    bisect.bisect_left([n.order for n in base.notes], k),
                )
            n_req, n_notes = counts
            self.requirements = base.requirements[:n_req]
            self.notes = base.notes[:n_notes]
            self.steps = base.steps[:k]
            self.cond_limit, self.dim_limit = n_req, k
            self.known = [(p, a) for p, a in base.known if p <= k]
        self.now: Assumptions = self.known[-1][1]  # what the conditions so far tell of the sizes

    def _known(self, r: Requirement) -> Requirement | None:
        """``r`` with what the conditions so far decide taken out: None when it always holds there."""
        now = self.now
        if not r.decidable or not (now.sets or isinstance(r.cond, AnyOf | AllOf)):
            return r  # an atom with nothing known: nothing a few bounds would decide
        cond = now.simplify(r.cond, self.cond_cache)
        if cond == TRUE:
            return None
        return r if cond == r.cond else replace(r, cond=cond)

    def commit(self, node: Node, pos: int, step: Step) -> None:
        self.steps.append(step)
        seen, base_conds, cond_limit = self.seen, self.base_conds, self.cond_limit
        kept: list[Requirement] = []
        for r0 in step.requirements:
            if r0.covers:  # the sizes a node is followed for: never merged with a condition
                r = self._known(r0)
                if r is not None:
                    kept.append(r)
                continue
            if r0.cond in seen:
                continue
            r = self._known(r0)
            if r is None or r.cond in seen or (base_conds and base_conds.get(r.cond, _NEVER) < cond_limit):
                continue
            seen.add(r.cond)
            kept.append(r)
        checked, base_dims, dim_limit = self.checked_dims, self.base_dims, self.dim_limit
        for i, out_name in enumerate(node.outputs):
            if not out_name:
                continue
            f = step.outs[i]
            self.facts[out_name] = f
            if f.shape is None or f.value is not None or shape_like(f):
                continue  # computed shape/index tensors may legitimately be empty
            if checked.issuperset(f.shape):
                continue  # (the usual case: every size already checked, in one call)
            for axis, d in enumerate(f.shape):
                if d in checked or (base_dims and base_dims.get(d, _NEVER) < dim_limit):
                    continue
                checked.add(d)
                if d.positive_trivially() or d.has_opaque():
                    continue
                cond = ge(d, 1)
                if cond in seen or (base_conds and base_conds.get(cond, _NEVER) < cond_limit):
                    continue
                seen.add(cond)
                if cond == TRUE or (self.now.sets and self.now.always(cond, self.cond_cache)):
                    continue
                kept.append(
                    Requirement(cond, step.dim_code, node.name, node.op_type, pos, f"output {i} axis {axis}", "", d,
                                step.dim_fix)
                )  # fmt: skip
        if self.stop is not None:
            items: list[Requirement | Note] = [*kept, *step.notes]
            if any(self.stop(item) for item in items):
                raise Stopped()
        if kept:
            self.requirements.extend(kept)
            now = self.now
            for r in kept:
                if r.decidable:
                    now = now.narrowed(r.cond, self.cond_cache)
            if now is not self.now:
                self.now = now
                self.known.append((pos + 1, now))
        if step.notes:
            self.notes.extend(step.notes)


class Fresh:
    """Fresh opaque symbols ``?hint#n``, numbered on from ``start`` (a resumed walk starts where
    its base ended, so a new symbol never meets an old one of the same name)."""

    def __init__(self, start: int) -> None:
        self.next = start

    def __call__(self, hint: str) -> Expr:
        n, self.next = self.next, self.next + 1
        return sym(f"?{hint}#{n}", "opaque", hint)


def no_gc(fn: Callable[[], T]) -> T:
    """The cyclic garbage collector paused: the walk allocates many small acyclic objects, and
    collecting them repeatedly made the cost grow faster than the node count."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return fn()
    finally:
        if paused:
            gc.enable()


def analyze(
    graph: Graph,
    dims: Mapping[str, int | str] | None = None,
    semantics: str = "spec",
    progress: Callable[[int, int], None] | None = None,
) -> Analysis:
    """Run every op rule over the graph and collect the conditions on input sizes.

    ``progress(done, total)`` is called every 500 nodes and at the end, for long graphs.
    """
    return no_gc(lambda: _analyze(graph, dims, semantics, progress))


def _analyze(
    graph: Graph,
    dims: Mapping[str, int | str] | None,
    semantics: str,
    progress: Callable[[int, int], None] | None,
    sort: bool = False,
) -> Analysis:
    """The walk, in file order unless ``sort``: ONNX stores nodes topologically sorted, and a node
    reading a value no node before it wrote has a GC102 note, at which the order is checked (in
    one pass) and the walk made again in a topological order if the file's is not one."""
    given, given_dims = graph, dims
    dims = dict(dims or {})
    graph = inline_functions(graph)
    sizes = input_sizes(graph, dims)
    facts: dict[str, Fact] = {}
    for name, t in graph.initializers.items():
        facts[name] = tensor_fact(t)
    for vi in graph.inputs:
        facts[vi.name] = Fact(sizes.shapes[vi.name], vi.elem_type)
    fresh = Fresh(0)
    walk = Walk(facts)
    order = graph.topo_order() if sort else list(graph.nodes)
    fusable = fusable_ranges(graph, order) if semantics == "ort" else {}
    total = len(order)
    for pos, node in enumerate(order):
        if progress is not None and pos % 500 == 0 and pos:
            progress(pos, total)
        step = run_step(graph, node, pos, facts, semantics, fresh, fusable.get(node.index), walk.now, walk.cond_cache)
        if not sort and step.notes and any(n.code == "GC102" for n in step.notes):
            sort = True  # (checked once)
            if not graph.file_order_is_topological():
                return _analyze(given, given_dims, semantics, progress, sort=True)
        walk.commit(node, pos, step)
    if progress is not None:
        progress(total, total)
    return Analysis(
        graph,
        sizes.symbols,
        sizes.addresses,
        sizes.shapes,
        facts,
        walk.requirements,
        walk.notes,
        order,
        semantics,
        sizes.fixed,
        sizes.user_made,
        dims,
        walk.steps,
        fresh.next,
        known=walk.known,
        cond_cache=walk.cond_cache,
        aliases=sizes.aliases,
    )

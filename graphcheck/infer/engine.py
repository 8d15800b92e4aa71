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
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

import graphcheck.infer.ops  # noqa: F401  (registers every rule)
from graphcheck.errors import TooComplex, UsageError
from graphcheck.infer.analysis import INCOMPLETE_CODES, Analysis, Case, Step, Variant
from graphcheck.infer.bounds import propagate as propagate_bounds
from graphcheck.infer.cases import merge as merge_cases
from graphcheck.infer.control import Scope, Split, expand, is_control
from graphcheck.infer.facts import UNKNOWN, Fact, Note, Requirement, tensor_fact
from graphcheck.infer.inputs import input_sizes, parse_dims
from graphcheck.infer.modes import assignments, find_modes
from graphcheck.infer.ops._shapeutil import simplify
from graphcheck.infer.ops.control import INTERNAL
from graphcheck.infer.registry import (
    Invalid,
    OpContext,
    Propagate,
    Unsupported,
    done,
    lookup,
    running,
    why_no_rule,
)
from graphcheck.model.inline import inline_functions
from graphcheck.model.ir import Graph, Node, TensorData
from graphcheck.symbolic.assume import NOTHING, Assumptions
from graphcheck.symbolic.cond import FALSE, TRUE, AllOf, AnyOf, Cond, all_of, ge, implies, negate
from graphcheck.symbolic.expr import Expr, const, sym
from graphcheck.symbolic.intset import IntSet

__all__ = ["Analysis", "Case", "INCOMPLETE_CODES", "Split", "Step", "analyze", "parse_dims", "walk_once"]

T = TypeVar("T")


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
        why = why_no_rule(domain, node.op_type)
        why = f": {why}" if why else ""
        ctx.note("GC101", f"no rule for op {where}{node.op_type} (opset {node_opset}){why}; its outputs are unknown")
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

    def commit(self, node: Node, pos: int, step: Step, guard: Cond = TRUE) -> None:
        """Record ``step`` at ``pos``; under ``guard`` (a loop body's ``trips >= 1``) its conditions
        are required only where the guard holds."""
        self.steps.append(step)
        seen, base_conds, cond_limit = self.seen, self.base_conds, self.cond_limit
        kept: list[Requirement] = []
        requirements = step.requirements
        if guard is not TRUE:
            requirements = tuple(replace(r, cond=implies(guard, r.cond)) for r in requirements)
        for r0 in requirements:
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
                cond = ge(d, 1) if guard is TRUE else implies(guard, ge(d, 1))
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


CASES_LIMIT = 16  # control-flow cases (sides of Ifs on the sizes) analysed per model; past it, GC110


def analyze(
    graph: Graph,
    dims: Mapping[str, int | str] | None = None,
    semantics: str = "spec",
    progress: Callable[[int, int], None] | None = None,
    values: Mapping[str, int] | None = None,
) -> Analysis:
    """Run every op rule over the graph and collect the conditions on input sizes.

    ``progress(done, total)`` is called every 500 nodes and at the end, for long graphs.
    ``values`` gives the value of graph inputs that are not sizes (a mode such as
    ``use_cache_branch``, a sample rate): Ifs on them take the branch chosen. An If on a condition
    of the sizes splits the analysis into cases (at most ``CASES_LIMIT``), merged by
    :func:`graphcheck.infer.cases.merge`.
    """
    return no_gc(lambda: _analyze_modes(graph, dims, semantics, progress, values))


def _analyze_modes(
    graph: Graph,
    dims: Mapping[str, int | str] | None,
    semantics: str,
    progress: Callable[[int, int], None] | None,
    values: Mapping[str, int] | None,
) -> Analysis:
    combos: list[dict[str, int | None]] = []
    modes = []
    if values is None and any(is_control(n) for n in graph.nodes) and any(n.op_type == "If" for n in graph.all_nodes()):
        modes = find_modes(graph)
        combos = assignments(modes)
    if not combos:
        return _analyze_cases(graph, dims, semantics, progress, values)
    boolean = {m.input for m in modes if m.is_bool}
    stand_in = {m.input: m.other for m in modes if m.other is not None}
    variants = []
    for i, combo in enumerate(combos):
        given = {k: v if v is not None else stand_in[k] for k, v in combo.items() if v is not None or k in stand_in}
        a = _analyze_cases(graph, dims, semantics, progress if i == 0 else None, given)
        label = ", ".join(_mode_text(k, v, k in boolean) for k, v in combo.items())
        variants.append(Variant(tuple(combo.items()), a, label))
    # the first mode's walk stands for the model where one walk is asked for (its graph, inputs, symbols)
    return replace(variants[0].analysis, variants=tuple(variants))


def _mode_text(name: str, v: int | None, boolean: bool) -> str:
    if v is None:
        return f"{name} = any other value"
    return f"{name} = {('true' if v else 'false') if boolean else v}"


def _analyze_cases(
    graph: Graph,
    dims: Mapping[str, int | str] | None,
    semantics: str,
    progress: Callable[[int, int], None] | None,
    values: Mapping[str, int] | None,
) -> Analysis:
    done_cases: list[Case] = []
    dropped: list[tuple[tuple[Cond, ...], str]] = []
    pending: list[tuple[Cond, ...]] = [()]
    while pending:
        path = pending.pop(0)
        try:
            a = _analyze(graph, dims, semantics, progress if not done_cases else None, path, values)
        except Split as split:
            if len(done_cases) + len(pending) + 2 > CASES_LIMIT:
                dropped.append((path, f"{split.node.name} ({split.node.op_type}) on {split.cond}"))
                continue
            pending[0:0] = [(*path, split.cond), (*path, negate(split.cond))]
            continue
        done_cases.append(Case(path, a))
    if len(done_cases) == 1 and not done_cases[0].path and not dropped:
        return done_cases[0].analysis
    return merge_cases(done_cases, dropped, CASES_LIMIT)


def _analyze(
    graph: Graph,
    dims: Mapping[str, int | str] | None,
    semantics: str,
    progress: Callable[[int, int], None] | None,
    path: tuple[Cond, ...] = (),
    values: Mapping[str, int] | None = None,
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
        if values and vi.name in values:
            facts[vi.name] = valued(facts[vi.name], values[vi.name])
    fresh = Fresh(0)
    walk = Walk(facts)
    if path:
        now = walk.now
        for c in path:
            now = now.narrowed(c, walk.cond_cache)
        walk.now = now
        walk.known = [(0, now)]
    order = graph.topo_order() if sort else list(graph.nodes)
    fusable = fusable_ranges(graph, order) if semantics == "ort" else {}
    indices = itertools.count(max((n.index for n in graph.nodes), default=-1) + 1)
    later_notes: dict[int, tuple[tuple[str, str], ...]] = {}  # control node index -> notes of its expansion
    later_covers: dict[int, tuple[tuple[Cond, str], ...]] = {}  # ... and where it is followed (GC110)
    guards: list[tuple[int, Cond]] = []  # (end position, condition): a loop body runs only where it holds

    def probe(nodes: Sequence[Node], scratch: dict[str, Fact]) -> list[Cond]:
        """Walk ``nodes`` over ``scratch`` only (a loop body's side walk): no condition is kept, but
        for those of the parts followed for some sizes only (GC110), returned."""
        partial: list[Cond] = []
        for n in nodes:
            if is_control(n) or n.domain == INTERNAL:  # nested control flow: not followed on the side
                scratch.update((o, UNKNOWN) for o in n.outputs if o)
                continue
            st = run_step(graph, n, pos, scratch, semantics, fresh, None, walk.now, walk.cond_cache)
            scratch.update((o, f) for o, f in zip(n.outputs, st.outs) if o)
            partial.extend(r.cond for r in st.requirements if r.covers)
        return partial

    pos = 0
    expanded = False
    if not any(is_control(n) for n in order):  # the usual case: the plain walk, without its bookkeeping
        fused, now_of = fusable.get, walk
        for pos, node in enumerate(order):
            if progress is not None and pos % 500 == 0 and pos:
                progress(pos, len(order))
            step = run_step(graph, node, pos, facts, semantics, fresh, fused(node.index), now_of.now, walk.cond_cache)
            if not sort and step.notes and any(n.code == "GC102" for n in step.notes):
                sort = True  # (checked once)
                if not graph.file_order_is_topological():
                    return _analyze(given, given_dims, semantics, progress, path, values, sort=True)
            walk.commit(node, pos, step)
        pos = len(order)
    while pos < len(order):
        node = order[pos]
        if progress is not None and pos % 500 == 0 and pos:
            progress(pos, len(order))
        if is_control(node):
            scope = Scope(facts, walk.now, path, lambda: next(indices), graph, probe, walk.cond_cache)
            expansion = expand(node, scope)
            if expansion is not None:
                expanded = True
                grown = len(expansion.nodes) - 1
                order[pos : pos + 1] = expansion.nodes
                guards = [(end + grown if end > pos else end, c) for end, c in guards]
                if expansion.guard is not None:
                    guards.append((pos + grown, expansion.guard))
                facts.update(expansion.facts)
                if expansion.notes:
                    later_notes[expansion.nodes[-1].index] = expansion.notes
                if expansion.covers:
                    later_covers[expansion.nodes[-1].index] = expansion.covers
                continue
        step = run_step(graph, node, pos, facts, semantics, fresh, fusable.get(node.index), walk.now, walk.cond_cache)
        extra = later_notes.get(node.index)
        if extra:
            notes = tuple(Note(code, node.name, node.op_type, pos, msg) for code, msg in extra)
            step = step._replace(notes=notes + step.notes)
        partial = later_covers.get(node.index)
        if partial:
            covers = tuple(
                Requirement(c, "GC110", node.name, node.op_type, pos, what, covers=True) for c, what in partial
            )
            step = step._replace(requirements=covers + step.requirements)
        if not sort and step.notes and any(n.code == "GC102" for n in step.notes):
            sort = True  # (checked once)
            if not graph.file_order_is_topological():
                return _analyze(given, given_dims, semantics, progress, path, values, sort=True)
        if guards:
            guards = [(end, c) for end, c in guards if pos < end]
        walk.commit(node, pos, step, all_of(c for _, c in guards) if guards else TRUE)
        pos += 1
    if progress is not None:
        progress(len(order), len(order))
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
        expanded=expanded,
        path=path,
        values=tuple(sorted((values or {}).items())),
        aliases=sizes.aliases,
    )


def walk_once(
    graph: Graph,
    dims: Mapping[str, int | str] | None,
    semantics: str,
    path: tuple[Cond, ...] = (),
    values: Mapping[str, int] | None = None,
) -> Analysis:
    """One walk of the model under a path condition and mode values (an analysis' ``path`` and
    ``values``: the same walk again, under other semantics or with a node changed). Raises
    :class:`graphcheck.infer.control.Split` when an If on the sizes is not decided on that path."""
    return no_gc(lambda: _analyze(graph, dims, semantics, None, path, values))


def valued(f: Fact, v: int) -> Fact:
    """A graph input's fact with every element set to ``v`` (a mode the caller chose)."""
    shape = f.shape if f.shape is not None else ()
    n = 1
    for d in shape:
        if not d.is_const:
            raise UsageError(f"an input given a value must have a fixed shape, not {[str(x) for x in shape]}")
        n *= d.value
    if n > 4096:
        raise UsageError(f"an input given a value must be small, not {n} elements")
    return replace(f, shape=shape, value=(const(v),) * n)

"""Symbolic shape inference: a topological walk applying each op's rule."""

from __future__ import annotations

import gc
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from graphcheck.bounds import propagate as propagate_bounds
from graphcheck.cond import FALSE, Cond, ge
from graphcheck.errors import UsageError
from graphcheck.expr import Expr, Sym, const, sym
from graphcheck.facts import UNKNOWN, Fact, Note, Requirement, Val
from graphcheck.inline import inline_functions
from graphcheck.ir import Graph, Node, TensorData
from graphcheck.registry import Invalid, OpContext, Propagate, Unsupported, _ensure_loaded, lookup

__all__ = ["Analysis", "analyze", "parse_dims", "tensor_fact"]

INCOMPLETE_CODES = {"GC101", "GC102", "GC103", "GC901"}


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

    @property
    def complete(self) -> bool:
        return not any(n.code in INCOMPLETE_CODES for n in self.notes)

    def symbol(self, key: str) -> Sym:
        """A symbol by name or by ``input:axis`` address."""
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
        return [s.name for s in self.symbols] + [a for a in self.addresses if a not in {s.name for s in self.symbols}]


def tensor_fact(t: TensorData) -> Fact:
    shape = tuple(const(d) for d in t.dims)
    values: tuple[Val, ...] | None = None
    if t.values is not None:
        if all(isinstance(v, int) for v in t.values):
            values = tuple(const(int(v)) for v in t.values)
        else:
            try:
                values = tuple(Fraction(v) for v in t.values)
            except (ValueError, OverflowError):  # nan / inf
                values = None
    return Fact(shape, t.elem_type, values)


_ADDR = re.compile(r"^(?P<input>.+):(?P<axis>-?\d+)$")


def _shape_like(f: Fact) -> bool:
    """A 0-D/1-D int32/int64 tensor: a shape, axes or index list rather than data."""
    return f.dtype in (6, 7) and f.shape is not None and len(f.shape) <= 1


def parse_dims(items: list[str]) -> dict[str, int | str]:
    """``["signal:1=L", "N=1"]`` -> ``{"signal:1": "L", "N": 1}`` (CLI --dim / --at syntax)."""
    out: dict[str, int | str] = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"expected NAME=VALUE or INPUT:AXIS=VALUE, got {item!r}")
        key, _, val = item.rpartition("=")
        key, val = key.strip(), val.strip()
        if not key or not val:
            raise UsageError(f"expected NAME=VALUE or INPUT:AXIS=VALUE, got {item!r}")
        if re.fullmatch(r"-?\d+", val):
            out[key] = int(val)
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", val):
            out[key] = val
        else:
            raise UsageError(f"{item!r}: the value must be an integer or a symbol name")
    return out


def _input_symbols(
    graph: Graph, dims: Mapping[str, int | str]
) -> tuple[dict[str, tuple[Expr, ...] | None], dict[str, Expr], list[Sym], dict[Sym, int], list[Sym]]:
    used: set[str] = set()
    user_made: list[Sym] = []
    shapes: dict[str, tuple[Expr, ...] | None] = {}
    addresses: dict[str, Expr] = {}
    order: list[Sym] = []
    fixed: dict[Sym, int] = {}

    def named(name: str) -> Expr:
        if name in dims:
            used.add(name)
            v = dims[name]
            if isinstance(v, int):
                e = sym(name)
                s = e.as_sym()
                assert s is not None
                fixed[s] = v
                return const(v)
            name = v
        e = sym(name)
        s = e.as_sym()
        assert s is not None
        if s not in order:
            order.append(s)
        return e

    for vi in graph.inputs:
        if vi.shape is None:
            shapes[vi.name] = None
            continue
        dims_out: list[Expr] = []
        for axis, spec in enumerate(vi.shape):
            addr = f"{vi.name}:{axis}"
            if addr in dims:
                used.add(addr)
                v = dims[addr]
                e = const(v) if isinstance(v, int) else named(v)
                s_ = e.as_sym()
                if s_ is not None and isinstance(spec, int) and s_ not in user_made:
                    user_made.append(s_)
            elif isinstance(spec, int) and spec >= 0:
                e = const(spec)
            elif isinstance(spec, str):
                e = named(spec)
            else:
                e = named(addr)
            dims_out.append(e)
            addresses[addr] = e
        shapes[vi.name] = tuple(dims_out)
    unknown = [k for k in dims if k not in used]
    if unknown:
        known = [s.name for s in order] + list(addresses)
        raise UsageError(f"unknown dimension {unknown[0]!r}; this model has: {', '.join(dict.fromkeys(known))}")
    return shapes, addresses, order, fixed, user_made


def _fusable_ranges(graph: Graph, order: Sequence[Node]) -> dict[int, Node]:
    """Gather nodes whose indices come from a Range consumed by nothing else (and not a graph
    output): onnxruntime's GatherToSliceFusion rewrites each pair into a Slice. Keyed by the Gather
    node's id, the value is the Range node."""
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
            out[id(node)] = r
    return out


def analyze(
    graph: Graph,
    dims: Mapping[str, int | str] | None = None,
    semantics: str = "spec",
    progress: Callable[[int, int], None] | None = None,
) -> Analysis:
    """Run every op rule over the graph and collect the conditions on input sizes.

    ``progress(done, total)`` is called every 500 nodes and at the end, for long graphs.
    The cyclic garbage collector is paused meanwhile: the walk allocates many small acyclic
    objects, and collecting them repeatedly made the cost grow faster than the node count.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _analyze(graph, dims, semantics, progress)
    finally:
        if paused:
            gc.enable()


def _analyze(
    graph: Graph,
    dims: Mapping[str, int | str] | None,
    semantics: str,
    progress: Callable[[int, int], None] | None,
) -> Analysis:
    _ensure_loaded()
    dims = dict(dims or {})
    graph = inline_functions(graph)
    shapes, addresses, symbols, fixed, user_made = _input_symbols(graph, dims)
    facts: dict[str, Fact] = {}
    for name, t in graph.initializers.items():
        facts[name] = tensor_fact(t)
    for vi in graph.inputs:
        facts[vi.name] = Fact(shapes[vi.name], vi.elem_type)
    counter = itertools.count()

    def fresh(hint: str) -> Expr:
        return sym(f"?{hint}#{next(counter)}", "opaque", hint)

    requirements: list[Requirement] = []
    notes: list[Note] = []
    seen: set[Cond] = set()
    checked_dims: set[Expr] = set()  # sizes whose ">= 1" is already required or trivially true
    order = graph.topo_order()
    opset = graph.opset
    fusable = _fusable_ranges(graph, order) if semantics == "ort" else {}
    total = len(order)
    for pos, node in enumerate(order):
        if progress is not None and pos % 500 == 0 and pos:
            progress(pos, total)
        ins: list[Fact | None] = []
        for name in node.inputs:
            if not name:
                ins.append(None)
            elif name in facts:
                ins.append(facts[name])
            else:
                ins.append(UNKNOWN)
                notes.append(
                    Note("GC102", node.name, node.op_type, pos, f"input {name!r} is produced by nothing in the graph")
                )
        domain = node.domain
        node_opset = graph.opsets.get(domain, opset) if domain else opset
        fn = lookup(domain, node.op_type, node_opset)
        ctx = OpContext(node, ins, node_opset, pos, semantics, fresh)
        if id(node) in fusable:
            ctx.fused_range = [facts.get(n) if n else None for n in fusable[id(node)].inputs]
        outs: list[Fact] = []
        if fn is None:
            where = f"{domain}::" if domain else ""
            ctx.note("GC101", f"no rule for op {where}{node.op_type} (opset {node_opset}); its outputs are unknown")
        else:
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
            except Exception as exc:  # a bug in a rule must not take the analysis down
                ctx.note("GC901", f"internal error in the {node.op_type} rule: {type(exc).__name__}: {exc}")
                outs = []
        if outs and any(f is not None and (f.bounds is not None or f.value is not None) for f in ins):
            outs = propagate_bounds(node, ins, outs)
        if ctx.requirements:
            kept = [r for r in ctx.requirements if r.cond not in seen]
            seen.update(r.cond for r in kept)
            ctx.requirements = kept
        for i, out_name in enumerate(node.outputs):
            if not out_name:
                continue
            f = outs[i] if i < len(outs) else UNKNOWN
            facts[out_name] = f
            if f.shape is None or f.value is not None or _shape_like(f):
                continue  # computed shape/index tensors may legitimately be empty
            for axis, d in enumerate(f.shape):
                if d in checked_dims:
                    continue
                checked_dims.add(d)
                if d.positive_trivially() or d.has_opaque():
                    continue
                cond = ge(d, 1)
                if cond in seen:
                    continue
                seen.add(cond)
                ctx.require(cond, ctx.dim_code, f"output {i} axis {axis}", value=d, fix=ctx.dim_fix)
        if ctx.requirements:
            requirements.extend(ctx.requirements)
        if ctx.notes:
            notes.extend(ctx.notes)
    if progress is not None:
        progress(total, total)
    return Analysis(
        graph,
        tuple(symbols),
        addresses,
        shapes,
        facts,
        requirements,
        notes,
        order,
        semantics,
        fixed,
        tuple(user_made),
        dims,
    )

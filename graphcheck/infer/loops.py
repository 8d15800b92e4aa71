"""Loop and Scan bodies in the walk: the number of iterations, and a body walked once for all.

A body is walked once, with what is true at every iteration: values the body passes through
unchanged keep their facts, an integer that grows by a constant each time (a counter, the index
tf2onnx's RNN loops read the time steps with) is known by its range over the iterations, a
tensor whose shape changes is given fresh sizes on the axes that change. What the body requires
must then hold at every iteration. To know which values are which, the body is first walked on
the side (:attr:`Scope.probe`) with its inputs as unknowns and its outputs compared with them.

The number of iterations of a Loop is its trip count ``M``, cut short by the loop condition when
the body computes one that fails after a number of steps that is an expression of the sizes
(``counter < n``, ``i + 1 < L``: tf2onnx's ``while`` loops); a condition on data makes it a fresh
unknown (GC104). A Scan runs once per element along its scan axis; every scan input must have the
same length there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from graphcheck.infer.bodies import Expansion, Scope, body_path, lay_out
from graphcheck.infer.facts import UNKNOWN, Fact
from graphcheck.infer.ops._shapeutil import simplify
from graphcheck.infer.ops.control import INTERNAL
from graphcheck.infer.ops.elementwise import element_truth
from graphcheck.model.ir import Node, SubGraph
from graphcheck.symbolic.cond import FALSE, TRUE, AllOf, AnyOf, Cond, Eq, Ge, ge
from graphcheck.symbolic.expr import Expr, Sym, const, emax, emin, floordiv, sym

__all__ = ["expand_loop", "expand_scan"]

INT64, BOOL = 7, 9


@dataclass(frozen=True)
class _Carried:
    """What the probe walk found of one loop-carried value."""

    kind: str  # "same": the fact passes through; "step": an integer growing by ``step``; "shape": a
    # tensor whose shape keeps (values dropped); "grow": a shape changing by ``growth`` per axis; "lost"
    step: int = 0
    growth: tuple[int | None, ...] = ()


# --------------------------------------------------------------------------------------------- Loop


def expand_loop(node: Node, scope: Scope) -> Expansion | None:
    sg = node.attrs.get("body")
    if not isinstance(sg, SubGraph) or sg.body is None:
        return None
    n_carried = len(node.inputs) - 2
    if n_carried < 0 or len(sg.inputs) != 2 + n_carried or len(sg.outputs) < 1 + n_carried:
        return None
    n_scan = len(sg.outputs) - 1 - n_carried
    if len(node.outputs) > n_carried + n_scan:
        return None
    laid = lay_out(
        sg.body, f"{node.name}/body/", f"body of {node.name}: ", scope.next_index, scope.model, body_path(node, "body")
    )
    ins = [laid.rename.get(x, x) for x in sg.inputs]
    outs = [laid.rename.get(x, x) for x in sg.outputs]
    inits = [scope.facts.get(x, UNKNOWN) if x else UNKNOWN for x in node.inputs[2:]]

    # the side walk: iteration k and every carried integer an unknown of its own
    k = sym(f"?{node.name}#k", "opaque")
    unknowns: list[Sym | None] = []
    probe: dict[str, Fact] = dict(laid.facts)
    probe[ins[0]] = Fact((), INT64, (k,))
    probe[ins[1]] = Fact((), BOOL)
    for i, f in enumerate(inits):
        v = _scalar_int(f)
        if v is not None:
            u = sym(f"?{node.name}#v{i}", "opaque")
            unknowns.append(u.as_sym())
            probe[ins[2 + i]] = Fact(f.shape, f.dtype, (u,) * len(f.value or ()))
        else:
            unknowns.append(None)
            probe[ins[2 + i]] = f if f.shape is None else Fact(f.shape, f.dtype)
    scratch = dict(scope.facts)
    scratch.update(probe)
    partial = scope.probe(laid.nodes, scratch)
    carried = [
        _classify(scratch.get(outs[1 + i], UNKNOWN), probe[ins[2 + i]], inits[i], unknowns[i]) for i in range(n_carried)
    ]

    notes: list[tuple[str, str]] = []
    trips = _trip_count(node, scope, scratch.get(outs[0], UNKNOWN), k, inits, unknowns, carried)
    if trips is None:
        trips = sym(f"?{node.name}#trips", "opaque", "trips")
        notes.append(("GC104", "Loop: the number of iterations depends on data"))
    else:
        trips = simplify(trips, scope.known)

    # the walk itself: every carried value as it is at every iteration
    facts: dict[str, Fact] = dict(laid.facts)
    last = trips - 1
    facts[ins[0]] = Fact((), INT64, bounds=(const(0), last))
    facts[ins[1]] = Fact((), BOOL)
    for i, (c, f) in enumerate(zip(carried, inits)):
        facts[ins[2 + i]] = _at_every_iteration(c, f, last, node, i)
    trips_name = f"{node.name}/trips"
    facts[trips_name] = Fact((), INT64, (trips,))
    kinds = ",".join(_kind_text(c) for c in carried)
    end = Node(
        node.index,
        node.name,
        "Loop",
        INTERNAL,
        (trips_name, *(node.inputs[2:]), *outs[1:]),
        node.outputs,
        {"carried": n_carried, "kinds": kinds},
        node.meta,
    )
    guard = None if trips.positive_trivially() or scope.known.always(ge(trips, 1), scope.cache) else ge(trips, 1)
    covers = _at_every_step(partial, k, last, unknowns, carried, inits)
    return Expansion((*laid.nodes, end), facts, tuple(notes), guard, covers)


def _at_every_step(
    partial: Sequence[Cond],
    k: Expr,
    last: Expr,
    unknowns: Sequence[Sym | None],
    carried: Sequence[_Carried],
    inits: Sequence[Fact],
) -> tuple[tuple[Cond, str], ...]:
    """The side walk's partly followed parts (a float comparison of the counter, exact only below
    2**24) as conditions on the sizes: at the first and the last iteration (they bound a counter
    linear in the step from both sides), the counters replaced by their values there."""
    out: list[tuple[Cond, str]] = []
    ks = k.as_sym()
    for c in partial:
        for step_k in (const(0), last):
            env: dict[Sym, Expr] = {} if ks is None else {ks: step_k}
            for u, kind, f in zip(unknowns, carried, inits):
                a = _scalar_int(f)
                if u is None or a is None:
                    continue
                env[u] = a + step_k * kind.step if kind.kind == "step" else a
            at = c.subs(env)
            if at.has_opaque():  # it reads what the loop does not follow by value: no claim past here
                return ((FALSE, "a part of the loop body followed for some sizes only, on values not known"),)
            if at != TRUE:
                out.append((at, "the loop body at every iteration (a part followed for some sizes only)"))
    return tuple(dict.fromkeys(out))


def _scalar_int(f: Fact) -> Expr | None:
    """The value of a one-element integer tensor, when known."""
    if f.dtype not in (6, 7) or f.value is None or len(f.value) != 1:
        return None
    vals = f.int_values()
    return None if vals is None else vals[0]


def _classify(out: Fact, probed_in: Fact, init: Fact, unknown: Sym | None) -> _Carried:
    if unknown is not None:
        v = _scalar_int(out)
        if v is not None and out.shape == probed_in.shape:
            d = v - Expr._atom(unknown)
            if d.is_const:
                return _Carried("step", d.value) if d.value else _Carried("same")
        return _Carried("shape") if out.shape == probed_in.shape and out.shape is not None else _Carried("lost")
    if out == probed_in and probed_in == init:
        return _Carried("same")
    if out.shape is None or probed_in.shape is None or len(out.shape) != len(probed_in.shape):
        return _Carried("lost")
    if out.shape == probed_in.shape:
        return _Carried("shape")
    growth: list[int | None] = []
    for a, b in zip(probed_in.shape, out.shape):
        d = b - a
        growth.append(d.value if d.is_const else None)
    return _Carried("grow", growth=tuple(growth))


def _kind_text(c: _Carried) -> str:
    if c.kind == "step":
        return f"step:{c.step}"
    if c.kind == "grow":
        return "grow:" + ":".join("?" if g is None else str(g) for g in c.growth)
    return c.kind


def _at_every_iteration(c: _Carried, init: Fact, last: Expr, node: Node, i: int) -> Fact:
    if c.kind == "same":
        return init
    if c.kind == "step":
        a = _scalar_int(init)
        assert a is not None
        lo, hi = (a, a + last * c.step) if c.step > 0 else (a + last * c.step, a)
        return Fact(init.shape, init.dtype, bounds=(lo, hi))
    if c.kind == "shape":
        return Fact(init.shape, init.dtype)
    if c.kind == "grow" and init.shape is not None:
        dims = tuple(
            d if g == 0 else sym(f"?{node.name}#c{i}.{axis}", "opaque", "loop")
            for axis, (d, g) in enumerate(zip(init.shape, c.growth))
        )
        return Fact(dims, init.dtype)
    return UNKNOWN


def _trip_count(
    node: Node,
    scope: Scope,
    cond_out: Fact,
    k: Expr,
    inits: Sequence[Fact],
    unknowns: Sequence[Sym | None],
    carried: Sequence[_Carried],
) -> Expr | None:
    """The number of iterations as an expression of the sizes, or None (it depends on data)."""
    m: Expr | None = None
    if node.inputs[0]:
        m = _scalar_int(scope.facts.get(node.inputs[0], UNKNOWN))
        if m is None:
            return None
        m = emax(m, 0)
    if not (len(node.inputs) > 1 and node.inputs[1]):
        return m  # no condition input: M iterations (the body's condition output is ignored)
    first = element_truth(scope.facts.get(node.inputs[1], UNKNOWN))
    after = element_truth(cond_out)
    if first is None or after is None:
        return None
    # the condition before iteration j + 1, written with iteration j's values: k -> j, v -> a + step*j
    env: dict[Sym, Expr] = {}
    ks = k.as_sym()
    assert ks is not None
    for u, c, f in zip(unknowns, carried, inits):
        if u is None:
            continue
        a = _scalar_int(f)
        if a is None:
            return None
        if c.kind == "step":
            env[u] = a + k * c.step
        elif c.kind == "same":
            env[u] = a
    before_next = after.subs(env)  # in terms of k (the iteration just run) and the sizes
    if any(s.opaque and s != ks for s in before_next.symbols()):
        return None
    # iteration j runs when j < M and the condition before it held: first (j = 0), then before_next
    # at j - 1. With the condition before iteration j as cond(j) = before_next[k -> j - 1]:
    cond_j = before_next.subs({ks: k - 1})
    try:
        bound = _first_failure(cond_j, ks, scope)  # the first j >= 0 at which cond(j) fails (None: never)
    except _NotMonotone:
        return None
    if bound is None:
        return m if scope.known.always(first, scope.cache) and not cond_j.symbols() - {ks} - _sizes(cond_j) else None
    if first != cond_j.subs({ks: const(0)}):
        # iteration 0 runs when ``first`` holds, whatever cond(0) says; then while cond(j) holds
        runs = const(1) if first == TRUE or scope.known.always(first, scope.cache) else indicator(first)
        if runs is None:
            return None
        bound = runs * emax(bound, 1)
    return bound if m is None else emin(m, bound)


def _sizes(c: Cond) -> set[Sym]:
    return {s for s in c.symbols() if not s.opaque}


def indicator(c: Cond) -> Expr | None:
    """1 where ``c`` holds and 0 elsewhere, as an integer expression (None for forms not written)."""
    if c == TRUE:
        return const(1)
    if isinstance(c, Ge):  # e >= 0  <=>  e + 1 >= 1
        return emin(1, emax(0, c.expr + 1))
    if isinstance(c, Eq):
        return 1 - emin(1, emax(c.expr, -c.expr))
    if isinstance(c, AllOf):
        out = const(1)
        for x in c.items:
            ind = indicator(x)
            if ind is None:
                return None
            out = out * ind
        return out
    if isinstance(c, AnyOf):
        parts = [indicator(x) for x in c.items]
        if any(p is None for p in parts):
            return None
        return emax(*[p for p in parts if p is not None])
    return const(0) if c == FALSE else None


def _first_failure(c: Cond, k: Sym, scope: Scope) -> Expr | None:
    """For a condition that holds for ``0 <= k < U`` and fails from ``U`` on (each part a bound
    ``a*k + b >= 0`` with ``a < 0``, or free of ``k``: then the same at every step): ``U``. None
    when no part mentions ``k``; :class:`_NotMonotone` when one does in another form."""
    parts = c.items if isinstance(c, AllOf) else (c,)
    bounds: list[Expr] = []
    steady: list[Cond] = []
    for p in parts:
        if k not in p.symbols():
            if not scope.known.always(p, scope.cache):
                steady.append(p)
            continue
        if not isinstance(p, Ge):
            raise _NotMonotone()
        lin = _linear(p.expr, k)
        if lin is None or lin[0] >= 0:
            raise _NotMonotone()
        a, b = lin
        bounds.append(emax(floordiv(b, -a) + 1, 0))  # a*k + b >= 0  <=>  k <= floor(b / -a)
    if not bounds:
        return None
    out = emin(*bounds) if len(bounds) > 1 else bounds[0]
    for p in steady:  # a part the steps do not change: where it fails, no iteration runs at all
        ind = indicator(p)
        if ind is None:
            raise _NotMonotone()
        out = out * ind
    return out


class _NotMonotone(Exception):
    pass


def _linear(e: Expr, k: Sym) -> tuple[int, Expr] | None:
    a = 0
    rest = const(0)
    for mono, coef in e.terms:
        if mono == (k,):
            a = coef
        elif any(k in x.symbols() for x in mono):
            return None
        else:
            term = const(coef)
            for x in mono:
                term = term * Expr._atom(x)
            rest = rest + term
    return a, rest


# --------------------------------------------------------------------------------------------- Scan


def expand_scan(node: Node, scope: Scope) -> Expansion | None:
    """Scan (opset 9+): the body once per element along each scan input's axis; the states keep
    their shapes (checked on a side walk first), the scan outputs stack the body's along theirs."""
    sg = node.attrs.get("body")
    n_scan = node.attrs.get("num_scan_inputs")
    if not isinstance(sg, SubGraph) or sg.body is None or not isinstance(n_scan, int) or scope.model.opset < 9:
        return None
    n_states = len(node.inputs) - n_scan
    n_out_scan = len(sg.outputs) - n_states
    if n_states < 0 or n_scan < 1 or len(sg.inputs) != n_states + n_scan or n_out_scan < 0:
        return None
    in_axes = _axes(node, "scan_input_axes", n_scan)
    out_axes = _axes(node, "scan_output_axes", n_out_scan)
    if in_axes is None or out_axes is None:
        return None
    states = [scope.facts.get(x, UNKNOWN) for x in node.inputs[:n_states]]
    seqs = [scope.facts.get(x, UNKNOWN) for x in node.inputs[n_states:]]
    laid = lay_out(
        sg.body, f"{node.name}/body/", f"body of {node.name}: ", scope.next_index, scope.model, body_path(node, "body")
    )
    ins = [laid.rename.get(x, x) for x in sg.inputs]
    outs = [laid.rename.get(x, x) for x in sg.outputs]
    facts: dict[str, Fact] = dict(laid.facts)
    lengths: list[Expr] = []
    for j, (f, a) in enumerate(zip(seqs, in_axes)):
        if f.shape is None:
            return None
        r = len(f.shape)
        axis = a + r if a < 0 else a
        if not 0 <= axis < r:
            return None
        lengths.append(f.shape[axis])
        facts[ins[n_states + j]] = Fact(f.shape[:axis] + f.shape[axis + 1 :], f.dtype)
    trips = lengths[0]
    for i, f in enumerate(states):
        facts[ins[i]] = f if f.shape is None else Fact(f.shape, f.dtype)
    scratch = dict(scope.facts)
    scratch.update(facts)
    partial = scope.probe(laid.nodes, scratch)
    kinds = []
    for i, f in enumerate(states):
        out = scratch.get(outs[i], UNKNOWN)
        same = out.shape is not None and out.shape == f.shape
        if not same and f.shape is not None and out.shape is not None and len(out.shape) == len(f.shape):
            dims = tuple(
                d if d == e else sym(f"?{node.name}#s{i}.{k}", "opaque", "scan")
                for k, (d, e) in enumerate(zip(f.shape, out.shape))
            )
            facts[ins[i]] = Fact(dims, f.dtype)
        elif not same:
            facts[ins[i]] = UNKNOWN
        kinds.append("shape" if same else "lost")
    trips_name = f"{node.name}/trips"
    facts[trips_name] = Fact((), INT64, (trips,))
    end = Node(
        node.index,
        node.name,
        "Scan",
        INTERNAL,
        (trips_name, *node.inputs[:n_states], *outs),
        node.outputs,
        {
            "states": n_states,
            "kinds": ",".join(kinds),
            "lengths": len(lengths),
            "output_axes": tuple(out_axes),
        },
        node.meta,
    )
    facts[f"{node.name}/lengths"] = Fact((const(len(lengths)),), INT64, tuple(lengths))
    end = replace(end, inputs=(*end.inputs, f"{node.name}/lengths"))
    guard = None if trips.positive_trivially() or scope.known.always(ge(trips, 1), scope.cache) else ge(trips, 1)
    covers = tuple((c, "the scan body (a part followed for some sizes only)") for c in partial if not c.has_opaque())
    if len(covers) < len(partial):
        covers = ((FALSE, "a part of the scan body followed for some sizes only, on values not known"),)
    return Expansion((*laid.nodes, end), facts, (), guard, covers)


def _axes(node: Node, key: str, n: int) -> list[int] | None:
    v = node.attrs.get(key)
    if v is None:
        return [0] * n
    if not isinstance(v, tuple) or len(v) != n or not all(isinstance(x, int) for x in v):
        return None
    return list(v)

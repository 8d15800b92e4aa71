"""Control flow and optionals: If, Loop, Scan, SequenceMap, Optional, OptionalHasElement,
OptionalGetElement.

The engine lays out the bodies of If/Loop/Scan in the walk (:mod:`graphcheck.infer.control`) and
then runs the control node again in the internal domain (``INTERNAL``): the rules here give its
outputs from what its body computed. A control node the engine could not lay out (a malformed
one) keeps the plain rule: outputs unknown, GC103. Optional values carry no shape (GC103 where one
is made or read), nor does SequenceMap's body; ``OptionalHasElement`` always returns a scalar.
Sequences are followed by :mod:`graphcheck.infer.ops.sequence`.
"""

from __future__ import annotations

from graphcheck.infer.facts import UNKNOWN, Fact
from graphcheck.infer.ops._common import lazy
from graphcheck.infer.registry import Invalid, OpContext, rule
from graphcheck.symbolic.cond import eq
from graphcheck.symbolic.expr import Expr, const

INT64 = 7
BOOL = 9
INTERNAL = "graphcheck.internal"  # the domain of a control node once its body has been laid out


@rule("If", "Loop", "Scan")
def control_flow(ctx: OpContext) -> list[Fact]:
    ctx.note("GC103", f"{ctx.node.op_type}: control flow: its bodies could not be laid out; outputs unknown")
    return []


@rule("If", domain=INTERNAL)
def if_outputs(ctx: OpContext) -> list[Fact]:
    """An If after its branch (inputs: the branch's outputs) or both branches (inputs: the then
    branch's outputs, then the else branch's): the outputs they agree on. Where both branches ran
    (a condition on data) and their shapes differ, a differing size is a fresh unknown (GC104), a
    differing rank leaves the output unknown (GC103)."""
    n = len(ctx.node.outputs)
    ins = [f if f is not None else UNKNOWN for f in ctx.inputs]
    if len(ins) == n:
        return ins
    if len(ins) != 2 * n:
        raise Invalid(f"If: the branches give {len(ins)} outputs for {n}")
    out: list[Fact] = []
    for i, (a, b) in enumerate(zip(ins[:n], ins[n:])):
        out.append(_either(ctx, i, a, b))
    return out


@rule("Loop", domain=INTERNAL)
def loop_outputs(ctx: OpContext) -> list[Fact]:
    """A Loop after its body (:mod:`graphcheck.infer.loops`). Inputs: the number of iterations, the
    initial carried values, the body's carried outputs, the body's scan outputs. ``kinds`` says
    per carried value how it changes (``same``, ``step:C``, ``shape``, ``grow:G:...``, ``lost``)."""
    n = ctx.attr_int("carried", 0)
    kinds = ctx.attr_str("kinds", "").split(",") if n else []
    trips = ctx.ints(0, "the number of iterations")[0]
    inits = [ctx.inputs[1 + i] or UNKNOWN for i in range(n)]
    lasts = [ctx.inputs[1 + n + i] or UNKNOWN for i in range(n)]
    scans = [f or UNKNOWN for f in ctx.inputs[1 + 2 * n :]]
    out: list[Fact] = []
    for kind, init, last in zip(kinds, inits, lasts):
        out.append(_final(kind, init, last, trips))
    for f in scans:
        out.append(UNKNOWN if f.shape is None else Fact((trips, *f.shape), f.dtype))
    return out[: len(ctx.node.outputs)]


@rule("Scan", domain=INTERNAL)
def scan_outputs(ctx: OpContext) -> list[Fact]:
    """A Scan after its body (:mod:`graphcheck.infer.loops`). Inputs: the number of iterations, the
    initial states, the body's outputs (states, then scan outputs), and last the lengths of every
    scan input along its axis, which must agree."""
    n = ctx.attr_int("states", 0)
    kinds = ctx.attr_str("kinds", "").split(",") if n else []
    axes = ctx.attr_ints("output_axes") or ()
    trips = ctx.ints(0, "the number of iterations")[0]
    lengths = ctx.ints(len(ctx.inputs) - 1, "the scan inputs' lengths")
    for j, d in enumerate(lengths[1:], start=1):
        ctx.require(
            eq(d, lengths[0]),
            "GC005",
            f"Scan input {j} length",
            formula=lazy("scan input {} has {} elements along its scan axis, scan input 0 has {}", j, d, lengths[0]),
            fix="give every scan input the same length along its scan axis",
        )
    inits = [ctx.inputs[1 + i] or UNKNOWN for i in range(n)]
    body = [f or UNKNOWN for f in ctx.inputs[1 + n : -1]]
    out: list[Fact] = []
    for kind, init in zip(kinds, inits):
        out.append(Fact(init.shape, init.dtype) if kind == "shape" and init.shape is not None else UNKNOWN)
    for j, f in enumerate(body[n:]):
        if f.shape is None or j >= len(axes):
            out.append(UNKNOWN)
            continue
        r = len(f.shape) + 1
        a = axes[j] + r if axes[j] < 0 else axes[j]
        if not 0 <= a < r:
            raise Invalid(f"scan_output_axes {axes[j]} is out of range for rank {r}")
        out.append(Fact((*f.shape[:a], trips, *f.shape[a:]), f.dtype))
    return out[: len(ctx.node.outputs)]


def _final(kind: str, init: Fact, last: Fact, trips: Expr) -> Fact:
    """A carried value after the last iteration (the initial one when there is none)."""
    if kind == "same":
        return init
    if kind.startswith("step:"):
        a = init.int_values()
        if a is None or len(a) != 1:
            return UNKNOWN
        return Fact(init.shape, init.dtype, (a[0] + trips * int(kind[5:]),))
    if kind == "shape":
        return Fact(init.shape, init.dtype) if init.shape is not None else UNKNOWN
    if kind.startswith("grow:") and init.shape is not None:
        growth = kind[5:].split(":")
        if "?" in growth or len(growth) != len(init.shape):
            return Fact(last.shape, init.dtype) if last.shape is not None else UNKNOWN
        return Fact(tuple(d + trips * int(g) for d, g in zip(init.shape, growth)), init.dtype)
    return UNKNOWN


def _either(ctx: OpContext, i: int, a: Fact, b: Fact) -> Fact:
    if a == b:
        return a
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        ctx.note("GC103", f"If: output {i} has a different rank in each branch (and the condition depends on data)")
        return UNKNOWN
    dims = []
    for d, e in zip(a.shape, b.shape):
        if d == e:
            dims.append(d)
        else:
            dims.append(ctx.fresh("if"))
            ctx.note("GC104", f"If: output {i} is {d} or {e} by branch, chosen by data")
    value = a.value if a.value == b.value else None
    return Fact(tuple(dims), a.dtype if a.dtype == b.dtype else 0, value)


@rule("SequenceMap", "Optional")
def sequence_map_or_optional(ctx: OpContext) -> list[Fact]:
    what = "optional values are" if ctx.node.op_type == "Optional" else "SequenceMap's body is"
    ctx.note("GC103", f"{ctx.node.op_type}: {what} not analysed; its outputs are unknown")
    return []


def _plain_tensor(ctx: OpContext) -> Fact | None:
    """The input's fact when it is a plain tensor (an optional or sequence never has a shape here)."""
    if not ctx.has(0):
        return None
    f = ctx.fact(0)
    return f if f.shape is not None else None


@rule("OptionalHasElement")
def optional_has_element(ctx: OpContext) -> list[Fact]:
    # Since opset 18 the input may be a plain tensor, which always "has an element"; no input: none.
    if not ctx.has(0):
        return [Fact((), BOOL, (const(0),))]
    return [Fact((), BOOL, (const(1),) if _plain_tensor(ctx) is not None else None)]


@rule("OptionalGetElement")
def optional_get_element(ctx: OpContext) -> list[Fact]:
    f = _plain_tensor(ctx)
    if f is not None:  # a plain tensor (opset 18): the identity
        return [f]
    ctx.note("GC103", "OptionalGetElement: optional values are not analysed; its output is unknown")
    return []

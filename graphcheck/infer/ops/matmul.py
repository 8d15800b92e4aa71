"""Matrix products: MatMul, MatMulInteger, QLinearMatMul, Gemm, Einsum, Det.

* ``MatMul`` follows ``numpy.matmul``: a 1-D operand is promoted to a matrix (a row for A,
  a column for B) and the promoted axis is dropped from the result; batch axes broadcast
  (GC003); the contracted sizes must be *equal* (GC005, no broadcasting of K).
* ``Gemm``: 2-D A and B (``transA``/``transB``), C unidirectionally broadcastable to (M, N)
  (opset >= 7; before that, with ``broadcast=1``, C is a suffix of (M, N) or has one element,
  and with ``broadcast=0`` it is exactly (M, N)).
* ``Einsum``: every occurrence of ``...`` must stand for the same number of axes (the spec's
  words; a model breaking this is invalid for every size), the ellipsis axes broadcast, a
  label repeated inside one operand (a diagonal) needs equal sizes, and a label shared by
  several operands needs equal sizes or size 1. The implicit output is the ellipsis axes,
  then the labels seen exactly once in ASCII order (upper case first), as the spec says.

onnxruntime (1.32) notes, checked with tests/ortprobe.py:

* Einsum: onnxruntime broadcasts a size-1 label against a larger one across operands
  (``ij,jk`` with shapes (2, 1), (3, 4) runs and gives (2, 4)), as ``numpy.einsum`` (the ONNX
  reference implementation) does; the spec is silent, and this rule follows both.
* Einsum deviations from the spec: onnxruntime rejects upper-case labels when the output is
  implicit (``bA,bB``) and aborts the whole process when two ellipses cover different
  numbers of axes (which the spec forbids, so our verdict "invalid" agrees).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._common import broadcast, broadcast_dim
from graphcheck.infer.registry import Invalid, OpContext, rule
from graphcheck.symbolic.cond import all_of, any_of, eq
from graphcheck.symbolic.expr import Expr, const

INT32 = 6
ONE = const(1)


# ---------------------------------------------------------------------------
# broadcasting


# ---------------------------------------------------------------------------
# MatMul family


def _k_fix(k_b: Expr) -> str:
    if k_b.is_const:
        return f"the layer expects {k_b} features; give it {k_b}, or change the previous layer's output size"
    return "make A's last axis the same size as B's second-to-last axis"


def matmul_shape(ctx: OpContext, a: tuple[Expr, ...], b: tuple[Expr, ...], code: str = "GC005") -> tuple[Expr, ...]:
    """The ``numpy.matmul`` result shape of ``a @ b``, requiring equal contracted sizes."""
    if not a or not b:
        raise Invalid(f"{ctx.node.op_type} needs operands of rank >= 1, got ranks {len(a)} and {len(b)}")
    a2 = (ONE, *a) if len(a) == 1 else a
    b2 = (*b, ONE) if len(b) == 1 else b
    k_a, k_b = a2[-1], b2[-2]
    ctx.require(
        eq(k_a, k_b),
        code,
        "contracted size (A's last axis vs B's " + ("only axis)" if len(b) == 1 else "axis -2)"),
        formula=f"{k_a} must equal {k_b}",
        fix=_k_fix(k_b),
    )
    batch = broadcast(ctx, [a2[:-2], b2[:-2]], what="batch broadcast")
    out = list(batch)
    if len(a) > 1:
        out.append(a2[-2])
    if len(b) > 1:
        out.append(b2[-1])
    return tuple(out)


@rule("MatMul")
def matmul(ctx: OpContext) -> list[Fact]:
    shape = matmul_shape(ctx, ctx.shape(0), ctx.shape(1))
    return [Fact(shape, ctx.fact(0).dtype)]


def _quant_param(ctx: OpContext, i: int, x: tuple[Expr, ...], per_row: bool, what: str) -> None:
    """A scale or zero point: one element, or per row of A / per column of B (spec wording)."""
    if not ctx.has(i):
        return
    z = ctx.shape(i)
    if not z:
        return
    n = x[-2] if per_row else x[-1]
    if len(x) < 2:
        n = ONE
    if len(z) == 1:
        ctx.require(
            any_of([eq(z[0], 1), eq(z[0], n)]),
            "GC010",
            what,
            formula=f"{z[0]} must be 1 or {n} ({'rows of A' if per_row else 'columns of B'})",
            fix="give one value per tensor, or one per " + ("row of A" if per_row else "column of B"),
        )
        return
    if len(z) != len(x):
        raise Invalid(f"{what} has rank {len(z)}; it must be a scalar, 1-D, or of the operand's rank {len(x)}")
    want = (*x[:-2], n, ONE) if per_row else (*x[:-2], ONE, n)
    ctx.require(
        all_of(eq(zd, wd) for zd, wd in zip(z, want)),
        "GC010",
        what,
        formula=f"shape ({', '.join(map(str, z))}) must be ({', '.join(map(str, want))})",
    )


@rule("MatMulInteger", since=10)
def matmul_integer(ctx: OpContext) -> list[Fact]:
    a, b = ctx.shape(0), ctx.shape(1)
    shape = matmul_shape(ctx, a, b)
    _quant_param(ctx, 2, a, True, "a_zero_point")
    _quant_param(ctx, 3, b, False, "b_zero_point")
    return [Fact(shape, INT32)]


@rule("QLinearMatMul", since=10)
def qlinear_matmul(ctx: OpContext) -> list[Fact]:
    a, b = ctx.shape(0), ctx.shape(3)
    shape = matmul_shape(ctx, a, b)
    _quant_param(ctx, 1, a, True, "a_scale")
    _quant_param(ctx, 2, a, True, "a_zero_point")
    _quant_param(ctx, 4, b, False, "b_scale")
    _quant_param(ctx, 5, b, False, "b_zero_point")
    return [Fact(shape, ctx.fact(7).dtype if ctx.has(7) else ctx.fact(0).dtype)]


# ---------------------------------------------------------------------------
# Gemm


def _gemm(ctx: OpContext, legacy: bool, needs_c: bool = True) -> list[Fact]:
    a, b = ctx.shape(0), ctx.shape(1)
    if len(a) != 2 or len(b) != 2:
        raise Invalid(f"Gemm needs 2-D A and B, got ranks {len(a)} and {len(b)}")
    ta, tb = ctx.attr_int("transA", 0), ctx.attr_int("transB", 0)
    m, k_a = (a[1], a[0]) if ta else (a[0], a[1])
    k_b, n = (b[1], b[0]) if tb else (b[0], b[1])
    ctx.require(
        eq(k_a, k_b),
        "GC005",
        "contracted size (A's " + ("axis 0" if ta else "axis 1") + " vs B's " + ("axis 1" if tb else "axis 0") + ")",
        formula=f"{k_a} must equal {k_b}",
        fix=_k_fix(k_b),
    )
    if ctx.has(2):
        c = ctx.shape(2)
        target = (m, n)
        if len(c) > 2:
            raise Invalid(f"Gemm's C has rank {len(c)}; it must broadcast to (M, N)")
        suffix = target[2 - len(c) :]
        if legacy and not ctx.attr_int("broadcast", 0):
            if len(c) != 2:
                raise Invalid("Gemm (opset < 7) without broadcast needs C of shape (M, N)")
            cond = all_of(eq(cd, td) for cd, td in zip(c, target))
            formula: str | Callable[[], str] = lambda: f"C ({c[0]}, {c[1]}) must be ({m}, {n})"
        elif legacy:
            cond = any_of([all_of(eq(cd, td) for cd, td in zip(c, suffix)), all_of(eq(cd, 1) for cd in c)])
            formula = lambda: f"C ({', '.join(map(str, c))}) must be a suffix of ({m}, {n}) or have one element"
        else:
            cond = all_of(any_of([eq(cd, td), eq(cd, 1)]) for cd, td in zip(c, suffix))
            formula = lambda: f"C ({', '.join(map(str, c))}) must broadcast to ({m}, {n}): each size equal or 1"
        ctx.require(
            cond,
            "GC003",
            "C broadcast to (M, N)",
            formula=formula,
            fix="give the bias C one value per output column (N), or the full (M, N) shape",
        )
    elif ctx.opset < 11 and needs_c:
        raise Invalid("Gemm before opset 11 needs the input C")
    return [Fact((m, n), ctx.fact(0).dtype)]


@rule("Gemm", since=1)
def gemm_1(ctx: OpContext) -> list[Fact]:
    return _gemm(ctx, legacy=True)


@rule("Gemm", since=7)
def gemm_7(ctx: OpContext) -> list[Fact]:
    return _gemm(ctx, legacy=False)


# ---------------------------------------------------------------------------
# Det


@rule("Det", since=11)
def det(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if len(x) < 2:
        raise Invalid(f"Det needs a rank >= 2 input [*, M, M], got rank {len(x)}")
    ctx.require(
        eq(x[-1], x[-2]),
        "GC010",
        "square matrices (last two axes)",
        formula=f"{x[-2]} must equal {x[-1]}",
        fix="Det takes square matrices: make the last two axes the same size",
    )
    return [Fact(x[:-2], ctx.fact(0).dtype)]


# ---------------------------------------------------------------------------
# Einsum


def _parse_term(term: str, where: str) -> tuple[list[str], int]:
    """``'a...bc'`` -> (['a', '...', 'b', 'c'], number of letters)."""
    items: list[str] = []
    i = 0
    letters = 0
    while i < len(term):
        ch = term[i]
        if term.startswith("...", i):
            if "..." in items:
                raise Invalid(f"Einsum {where} term {term!r} has more than one ellipsis")
            items.append("...")
            i += 3
            continue
        if ch.isascii() and ch.isalpha():
            items.append(ch)
            letters += 1
        elif ch != " ":
            raise Invalid(f"Einsum {where} term {term!r}: {ch!r} is not a letter or an ellipsis")
        i += 1
    return items, letters


def parse_einsum(equation: str, n_inputs: int) -> tuple[list[list[str]], list[str] | None]:
    """The input terms and the explicit output term (None when implicit)."""
    eqn = equation.replace(" ", "")
    lhs, arrow, rhs = eqn.partition("->")
    terms = [_parse_term(t, "input")[0] for t in lhs.split(",")]
    if len(terms) != n_inputs:
        raise Invalid(f"Einsum equation {equation!r} has {len(terms)} operands, the node has {n_inputs} inputs")
    out = _parse_term(rhs, "output")[0] if arrow else None
    if out is not None:
        seen: set[str] = set()
        for lab in out:
            if lab in seen:
                raise Invalid(f"Einsum output label {lab!r} appears twice in {equation!r}")
            seen.add(lab)
            if lab != "..." and not any(lab in t for t in terms):
                raise Invalid(f"Einsum output label {lab!r} does not appear in any input of {equation!r}")
        if "..." in out and not any("..." in t for t in terms):
            raise Invalid(f"Einsum output has an ellipsis but no input does: {equation!r}")
    return terms, out


def _label_size(ctx: OpContext, label: str, dims: Sequence[tuple[int, Expr]]) -> Expr:
    """Unify the sizes of one label: equal inside an operand, equal or 1 across operands."""
    per_operand: dict[int, Expr] = {}
    for op, d in dims:
        first = per_operand.get(op)
        if first is None:
            per_operand[op] = d
            continue
        ctx.require(
            eq(first, d),
            "GC005",
            f"label {label!r} repeated in operand {op}",
            formula=f"{first} must equal {d}",
            fix=f"a label repeated in one operand takes its diagonal: those axes of input {op} must be the same size",
        )
    where = ", ".join(f"input {op}: {d}" for op, d in per_operand.items())
    return broadcast_dim(
        ctx,
        list(per_operand.values()),
        f"label {label!r} sizes ({where})",
        "GC005",
        fix=f"every axis labelled {label!r} must have the same size (or size 1)",
    )


@rule("Einsum", since=12)
def einsum(ctx: OpContext) -> list[Fact]:
    equation = ctx.attr_str("equation", "")
    if not equation:
        raise Invalid("Einsum needs an equation")
    n = len(ctx.node.inputs)
    terms, out = parse_einsum(equation, n)
    shapes = [ctx.shape(i) for i in range(n)]
    label_dims: dict[str, list[tuple[int, Expr]]] = {}
    counts: dict[str, int] = {}
    ell_shapes: list[tuple[Expr, ...]] = []
    ell_rank: int | None = None
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        letters = sum(1 for t in term if t != "...")
        if "..." in term:
            k = len(shape) - letters
            if k < 0:
                raise Invalid(f"Einsum input {i} has rank {len(shape)} but its term names {letters} axes")
            if ell_rank is None:
                ell_rank = k
            elif k != ell_rank:
                raise Invalid(
                    f"Einsum: the ellipsis stands for {k} axes in input {i} but {ell_rank} in an earlier input;"
                    " every ellipsis must stand for the same number of axes"
                )
        elif len(shape) != letters:
            raise Invalid(f"Einsum input {i} has rank {len(shape)} but its term {''.join(term)!r} names {letters} axes")
        pos = 0
        for lab in term:
            if lab == "...":
                k = len(shape) - letters
                ell_shapes.append(shape[pos : pos + k])
                pos += k
                continue
            label_dims.setdefault(lab, []).append((i, shape[pos]))
            counts[lab] = counts.get(lab, 0) + 1
            pos += 1
    sizes = {lab: _label_size(ctx, lab, dims) for lab, dims in label_dims.items()}
    ell: tuple[Expr, ...] = broadcast(ctx, ell_shapes, what="ellipsis broadcast") if ell_shapes else ()
    if out is None:
        out = (["..."] if ell_shapes else []) + sorted(lab for lab, c in counts.items() if c == 1)
    result: list[Expr] = []
    for lab in out:
        if lab == "...":
            result.extend(ell)
        else:
            result.append(sizes[lab])
    return [Fact(tuple(result), ctx.fact(0).dtype)]


__all__ = ["matmul_shape", "parse_einsum"]

"""Helpers shared by op rules: broadcasting, formula text, axis handling."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from graphcheck.infer.registry import Invalid, OpContext
from graphcheck.symbolic.cond import FALSE, any_of, eq
from graphcheck.symbolic.expr import Expr, Sym, as_expr, const, emax

ONE = const(1)


class Formula:
    """A condition's formula: text made only when shown, and re-made with the numbers filled in.

    ``Formula("{} must equal {}", a, b)()`` gives ``"floor(H / 4) must equal 2*floor(H / 8)"``;
    ``.at({H: 100})`` gives ``"25 must equal 24"``.
    """

    __slots__ = ("fmt", "args")

    def __init__(self, fmt: str, *args: object) -> None:
        self.fmt = fmt
        self.args = args

    def __call__(self) -> str:
        return self.fmt.format(*args_text(self.args))

    def at(self, env: Mapping[Sym, int]) -> str:
        args = [a.make() if isinstance(a, Later) else a for a in self.args]
        vals = [a.evaluate(env) if isinstance(a, Expr) and not a.has_opaque() else a for a in args]
        return self.fmt.format(*vals)


class Later:
    """A formula's expression made only when the formula is shown (a product of a shape's sizes that
    only the text needs): a rule runs for every node, its formula text is read for few."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make

    def __str__(self) -> str:
        return str(self.make())


def args_text(args: Sequence[object]) -> list[str]:
    return [str(a) for a in args]


def lazy(fmt: str, *args: object) -> Callable[[], str]:
    """A formula whose text (with expressions to format) is only made when shown (see :class:`Formula`)."""
    return Formula(fmt, *args)


def broadcast(
    ctx: OpContext, shapes: Sequence[tuple[Expr, ...]], code: str = "GC003", what: str = "broadcast"
) -> tuple[Expr, ...]:
    """Numpy-style multidirectional broadcasting (right-aligned), requiring compatible sizes."""
    rank = max((len(s) for s in shapes), default=0)
    out: list[Expr] = []
    for axis in range(rank):
        dims = [s[axis - rank + len(s)] for s in shapes if axis - rank + len(s) >= 0]
        out.append(broadcast_dim(ctx, dims, f"{what} on axis {axis - rank} (from the right)", code))
    return tuple(out)


def broadcast_dim(ctx: OpContext, dims: Sequence[Expr], what: str, code: str = "GC003", fix: str = "") -> Expr:
    """The broadcast of several sizes of one axis: the sizes other than 1 must all be equal.

    With one constant ``c`` among them every symbolic size must be ``c`` or 1; with symbolic
    sizes only, each *pair* must be equal or contain a 1 (asking ``a = b or a = 1`` of each size
    separately would wrongly reject ``a = 1, b = 3``), and the result is their max.
    """
    distinct: list[Expr] = []
    for d in dims:
        if d != ONE and d not in distinct:
            distinct.append(d)
    if not distinct:
        return ONE
    if len(distinct) == 1:
        return distinct[0]
    fix = fix or "make the operands' sizes match on this axis, or make one of them 1"
    consts = [d for d in distinct if d.is_const]
    if len(consts) > 1:
        ctx.require(FALSE, code, what, formula=lazy("sizes {} cannot broadcast", ", ".join(map(str, consts))), fix=fix)
        return consts[0]
    if consts:
        c = consts[0]
        for d in distinct:
            if d is not c:
                ctx.require(
                    any_of([eq(d, c), eq(d, 1)]), code, what, formula=lazy("{} must equal {} or be 1", d, c), fix=fix
                )
        return c
    for i, d in enumerate(distinct):
        for o in distinct[i + 1 :]:
            ctx.require(
                any_of([eq(d, o), eq(d, 1), eq(o, 1)]),
                code,
                what,
                formula=lazy("{} and {} must be equal, or one of them 1", d, o),
                fix=fix,
            )
    return emax(*distinct)


def window_formula(in_: Expr, pads: int, span: int, stride: int, ceil: bool = False) -> str:
    """The spec's ``floor((in + pads - dilation*(kernel-1) - 1) / stride) + 1`` with the numbers in.

    ``span`` is ``dilation*(kernel-1) + 1``; zero terms are left out and stride 1 is simplified.
    """
    text = str(in_)
    single = text.isidentifier() or text.isdigit() or (text.startswith(("floor(", "ceil(")) and text.endswith(")"))
    parts = [text if len(in_.terms) <= 1 or single else f"({text})"]
    if pads:
        parts.append(f"+ {pads}")
    if span > 1:
        parts.append(f"- {span - 1}")
    if stride == 1:
        return " ".join(parts)
    fn = "ceil" if ceil else "floor"
    return f"{fn}(({' '.join(parts)} - 1) / {stride}) + 1"


def spatial_name(i: int, n: int) -> str:
    if n == 1:
        return "length"
    if n == 2:
        return ("height", "width")[i]
    if n == 3:
        return ("depth", "height", "width")[i]
    return f"spatial axis {i}"


def per_axis(ctx: OpContext, name: str, n: int, default: int) -> tuple[int, ...]:
    vals = ctx.attr_ints(name)
    if vals is None:
        return (default,) * n
    if len(vals) != n:
        raise Invalid(f"attribute {name} has {len(vals)} values for {n} spatial axes")
    return vals


def expr_list(values: Sequence[int | Expr]) -> tuple[Expr, ...]:
    return tuple(as_expr(v) for v in values)

"""Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.

Both take an input/scores tensor ``(N, C)`` or ``(N, C, d1, ..., dk)`` and a label tensor of the
same shape without the class axis, ``(N)`` or ``(N, d1, ..., dk)`` (GC010 per axis; a label rank
other than ``rank - 1`` is invalid for every size), and optional per-class weights ``(C)`` (GC010).
With ``reduction="none"`` the loss has the label's shape, with ``"mean"``/``"sum"`` it is a scalar;
SoftmaxCrossEntropyLoss's optional ``log_prob`` has the scores' shape. The labels' values
(``0 <= label < C`` unless ignored) are data, not sizes, and are not checked.
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._xutil import require_dims
from graphcheck.infer.registry import Invalid, OpContext, rule
from graphcheck.symbolic.expr import Expr

_REDUCTIONS = ("none", "mean", "sum")


def _loss(ctx: OpContext, what: str, label_what: str) -> tuple[tuple[Expr, ...], tuple[Expr, ...], tuple[Expr, ...]]:
    """(input shape, label shape, loss shape)."""
    x = ctx.shape(0)
    t = ctx.shape(1)
    if len(x) < 2:
        raise Invalid(f"{ctx.node.op_type} needs {what} of rank >= 2 (N, C, ...), got rank {len(x)}")
    reduction = ctx.attr_str("reduction", "mean")
    if reduction not in _REDUCTIONS:
        raise Invalid(f"unknown reduction {reduction!r}")
    want = (x[0], *x[2:])
    labels = ("batch",) + tuple(f"spatial axis {i + 1}" for i in range(len(x) - 2))
    require_dims(
        ctx,
        label_what,
        t,
        want,
        labels,
        fix=f"{label_what} is {what} without the class axis 1: (N, d1, ..., dk)",
    )
    if ctx.has(2):
        require_dims(
            ctx, "weight", ctx.shape(2), (x[1],), ("classes",), fix="one weight per class (axis 1 of the input)"
        )
    out = t if reduction == "none" else ()
    return x, t, out


@rule("NegativeLogLikelihoodLoss", since=12)
def nll_loss(ctx: OpContext) -> list[Fact]:
    _, _, out = _loss(ctx, "the input", "target")
    return [Fact(out, ctx.fact(0).dtype)]


@rule("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(ctx: OpContext) -> list[Fact]:
    x, _, out = _loss(ctx, "the scores", "labels")
    dtype = ctx.fact(0).dtype
    return [Fact(out, dtype), Fact(x, dtype)]

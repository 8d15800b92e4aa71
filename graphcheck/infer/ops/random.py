"""Random generators: RandomUniform, RandomNormal (shape attribute), RandomUniformLike,
RandomNormalLike, Bernoulli (the input's shape), Multinomial (``(batch, sample_size)``).

Only shapes and element types are known; the values are random, so none is propagated.
Element types: ``dtype`` when given, else float (RandomUniform/RandomNormal), the input's type
(the *Like ops, Bernoulli) or int32 (Multinomial).
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._xutil import FLOAT, INT32
from graphcheck.infer.registry import Invalid, OpContext, rule
from graphcheck.symbolic.expr import const


@rule("RandomUniform", "RandomNormal", since=1)
def random_shape(ctx: OpContext) -> list[Fact]:
    shape = ctx.attr_ints("shape")
    if shape is None:
        raise Invalid(f"{ctx.node.op_type} needs the shape attribute")
    if any(d < 0 for d in shape):
        raise Invalid(f"{ctx.node.op_type}'s shape {list(shape)} has a negative size")
    return [Fact(tuple(const(d) for d in shape), ctx.attr_int("dtype", FLOAT))]


@rule("RandomUniformLike", "RandomNormalLike", "Bernoulli", since=1)
def random_like(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    return [Fact(x, ctx.attr_int("dtype", f.dtype))]


@rule("Multinomial", since=7)
def multinomial(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if len(x) != 2:
        raise Invalid(f"Multinomial needs a 2-D input (batch_size, class_size), got rank {len(x)}")
    n = ctx.attr_int("sample_size", 1)
    if n < 1:
        raise Invalid(f"sample_size must be >= 1, got {n}")
    return [Fact((x[0], const(n)), ctx.attr_int("dtype", INT32))]

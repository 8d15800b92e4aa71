"""onnxruntime's fused BERT embedding (domain ``com.microsoft``): EmbedLayerNormalization and its
quantized twin QEmbedLayerNormalization.

The transformer optimizer fuses BERT's word + position (+ segment) embedding lookups, their sum and
the LayerNormalization into one EmbedLayerNormalization; the dynamic quantizer turns it into
QEmbedLayerNormalization (int8/uint8 tables, a scale and zero point each). Shapes and conditions
follow the contrib docs and onnxruntime's CPU kernel (1.32), checked over grids of sizes
(tests/infer/ops/test_msft_embed.py):

* ``input_ids (B, S)``; ``segment_ids``, ``mask`` and ``position_ids`` have its shape (position_ids
  may also be ``(1, S)``);
* ``word_embedding (V, H)``, ``position_embedding (P, H)``, ``segment_embedding (G, H)``, ``gamma``
  and ``beta (H)`` share the hidden size H;
* **the position table is read inside the op**: without ``position_ids`` the positions are
  ``0 .. S - 1``, so ``S <= P`` (GC009, the table's rows): the bound a BERT's exported graph
  expresses with ``Gather(table, Range(0, S))`` moves into this one node; given position ids
  (GPT-2's ``Range(past, past + S)``) must lie in ``0 .. P - 1``, checked by their values or their
  range;
* outputs: ``(B, S, H)``, mask_index ``(B)`` (int32), and (EmbedLayerNormalization only)
  embedding_sum ``(B, S, H)``.

Token ids and segment ids are data: their values are not checked (as for any Gather of data).
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._common import lazy
from graphcheck.infer.ops._xutil import INT32, one_of, require_dims, require_eq, same_shape, scalar_like
from graphcheck.infer.registry import Invalid, OpContext, rule
from graphcheck.symbolic.cond import all_of, ge
from graphcheck.symbolic.expr import Expr, const

MS = "com.microsoft"
FLOAT = 1


def _table(ctx: OpContext, i: int, name: str, h: Expr | None) -> tuple[Expr, ...]:
    t = ctx.shape(i)
    if len(t) != 2:
        raise Invalid(f"{name} must be 2-D (rows, hidden size), got rank {len(t)}")
    if h is not None:
        require_eq(ctx, t[1], h, "GC010", f"{name} hidden size (axis 1)", "every table has the hidden size")
    return t


def _embed(ctx: OpContext, tables: tuple[int, int, int], norm: tuple[int, int], mask: int, pos: int) -> list[Fact]:
    ids = ctx.shape(0)
    if len(ids) != 2:
        raise Invalid(f"input_ids must be 2-D (batch, sequence), got rank {len(ids)}")
    b, s = ids
    word = _table(ctx, tables[0], "word_embedding", None)
    h = word[1]
    ptab = _table(ctx, tables[1], "position_embedding", h)
    if ctx.has(1) != ctx.has(tables[2]):
        raise Invalid("segment_ids and segment_embedding go together")
    if ctx.has(1):
        same_shape(ctx, ids, ctx.shape(1), "segment_ids")
        _table(ctx, tables[2], "segment_embedding", h)
    for i, name in zip(norm, ("gamma", "beta")):
        require_dims(ctx, name, ctx.shape(i), (h,), ("hidden size",), fix=f"{name} has one value per hidden unit")
    if ctx.has(mask):
        same_shape(ctx, ids, ctx.shape(mask), "mask")
    fix = "the position table needs a row for every position: shorten the sequence or use a longer table"
    if pos >= 0 and ctx.has(pos):
        p = ctx.shape(pos)
        if len(p) != 2:
            raise Invalid(f"position_ids must be 2-D, got rank {len(p)}")
        one_of(ctx, p[0], [b, const(1)], "GC010", "position_ids batch (axis 0)", "batch size or 1")
        require_eq(ctx, p[1], s, "GC010", "position_ids sequence (axis 1)", "one position per token")
        _position_ids(ctx, ctx.fact(pos), ptab[0], fix)
    else:
        ctx.require(
            ge(ptab[0], s),
            "GC009",
            "positions 0 .. S - 1 vs position_embedding rows",
            formula=lazy("positions run from 0 to {} - 1; the table has {} rows", s, ptab[0]),
            fix=fix,
        )
    return [Fact((b, s, h), FLOAT), Fact((b,), INT32), Fact((b, s, h), FLOAT)]


def _position_ids(ctx: OpContext, f: Fact, rows: Expr, fix: str) -> None:
    """Position ids index the table without wrapping (onnxruntime: "input index out of range"):
    each known value, or their range when only that is known (``Range(P, P + S)`` of a cache)."""
    what = "position_ids vs position_embedding rows"
    vals = f.int_values()
    if vals is not None:
        for v in vals:
            ctx.require(
                all_of([ge(v), ge(rows - 1, v)]),
                "GC009",
                what,
                formula=lazy("position {} must be in 0 .. {} - 1", v, rows),
                fix=fix,
            )
        return
    if f.bounds is None:
        return  # data: checked for every in-range value
    lo, hi = f.bounds
    cond = all_of([ge(lo), ge(rows - 1, hi)])
    if ctx.always(cond):
        return
    if not f.bounds_exact:
        ctx.covers(cond, what, lazy("known only to lie in [{}, {}]; the table has {} rows", lo, hi, rows))
        return
    ctx.require(
        cond, "GC009", what, formula=lazy("positions run from {} to {}; the table has {} rows", lo, hi, rows), fix=fix
    )


@rule("EmbedLayerNormalization", domain=MS)
def embed_layer_norm(ctx: OpContext) -> list[Fact]:
    return _embed(ctx, (2, 3, 4), (5, 6), 7, 8)


@rule("QEmbedLayerNormalization", domain=MS)
def q_embed_layer_norm(ctx: OpContext) -> list[Fact]:
    for i, name in (
        (8, "word_embedding_scale"), (9, "position_embedding_scale"), (10, "segment_embedding_scale"),
        (11, "gamma_scale"), (12, "beta_scale"), (13, "word_embedding_zero_point"),
        (14, "position_embedding_zero_point"), (15, "segment_embedding_zero_point"), (16, "gamma_zero_point"),
        (17, "beta_zero_point"),
    ):  # fmt: skip
        scalar_like(ctx, i, name)
    return _embed(ctx, (2, 3, 4), (5, 6), 7, -1)[:2]

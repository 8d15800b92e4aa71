"""onnxruntime's fused attention ops (domain ``com.microsoft``): Attention, QAttention,
MultiHeadAttention, GroupQueryAttention, RotaryEmbedding, DecoderMaskedMultiHeadAttention,
SparseAttention.

They have no ONNX spec: shapes and conditions follow onnxruntime's contrib operator docs (the
schemas' doc strings, ``onnxruntime.capi.onnxruntime_pybind11_state.get_all_operator_schema()``)
and what its CPU kernels check, characterised against onnxruntime 1.32 over grids of sizes
(tests/infer/ops/test_msft_attention.py). The transformer optimizer emits Attention (BERT, GPT-2),
MultiHeadAttention (encoder-decoder and diffusion models), RotaryEmbedding; the dynamic quantizer
turns Attention into QAttention; LLM model builders emit GroupQueryAttention.

* **Attention**: input ``(B, S, Hin)``, merged weights ``(Hin, h + h + vh)`` (``qkv_hidden_sizes``,
  or three equal parts), bias ``(h + h + vh)``; each part a multiple of ``num_heads`` (head size
  ``hs = h / num_heads``). ``past (2, B, num_heads, P, hs)`` gives ``present (2, B, num_heads,
  P + S, hs)`` (T = P + S). ``mask_index``: 1-D of ``B``, ``2B`` or ``3B + 2`` values (sequence
  lengths / start-end positions), 2-D ``(B, T)`` (onnxruntime also takes the "dummy" ``(1, 1)`` and
  ``(B, 1)``), 3-D ``(B, S, T)``, or per the docs 4-D ``(B, 1, M, M)`` with ``M >= T``, which the
  CPU kernel refuses at every size ("4D mask in attention cpu kernel is not supported"; GC111).
  ``attention_bias`` ``(B or 1, num_heads or 1, S, T)``. Output ``(B, S, vh)``.
* **QAttention**: the same with quantized input and weight; scales and zero points are scalars,
  or one per weight column (``3h``) for the weight's.
* **MultiHeadAttention**: query ``(B, S, h)`` with key/value ``(B, L, h)`` / ``(B, L, vh)``, or
  key/value already split into heads ``(B, num_heads, L, hs)`` (cross attention on a cache);
  ``past_key/past_value (B, num_heads, P, hs)`` give presents of ``P + L``.
* **GroupQueryAttention**: query ``(B, S, num_heads*hs)`` with key/value ``(B, S, kv_num_heads*hs)``,
  or packed QKV ``(B, S, (num_heads + 2*kv_num_heads)*hs)``; ``past_key/past_value
  (B, kv_num_heads, P, hs)``; the scalar ``total_sequence_length`` T (a value: model builders
  compute it as the attention mask's length). onnxruntime's CPU kernel requires ``T >= S``; T is
  either the dynamic cache's ``P + S`` or at most ``P`` (a static cache of P rows); the present
  cache has ``max(P, T)`` rows. With past context (``T > S``), several tokens at once need batch 1.
  With ``do_rotary`` the caches ``(M, R/2)`` need ``M >= T`` rows, and onnxruntime's CPU kernel a
  head size that is a multiple of 16 (``semantics="ort"``; the docs do not say so). ``seqlens_k`` (B) holds data
  (the mask's sum - 1), not checked.
* **RotaryEmbedding** (com.microsoft): input ``(B, S, h)`` or ``(B, num_heads, S, hs)``;
  ``position_ids`` ``(B, S)`` or ``(1)`` (an offset); caches ``(M, R/2)``; output has the input's
  shape. Known position ids need rows: ``M > max position``.

* **DecoderMaskedMultiHeadAttention** (one decoding step of convert_generation's decoders) and
  **SparseAttention** (Phi-3-small's block-sparse attention): see their rules.

Forms not followed (GC102): shared past/present buffers (``past_present_share_buffer``), rotary
inside Attention, quantized KV caches, packed (``is_packed_batching``) rotary inputs.
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._common import lazy
from graphcheck.infer.ops._xutil import (
    divide,
    int_attr_required,
    one_of,
    require_dims,
    require_divides,
    require_eq,
    scalar_like,
)
from graphcheck.infer.ops.conv import _refusal
from graphcheck.infer.registry import Invalid, OpContext, Unsupported, rule
from graphcheck.symbolic.cond import all_of, any_of, eq, ge
from graphcheck.symbolic.expr import Expr, const, emax

MS = "com.microsoft"
ONE = const(1)
TWO = const(2)


def _heads(ctx: OpContext, name: str = "num_heads") -> int:
    n = int_attr_required(ctx, name)
    if n < 1:
        raise Invalid(f"{name} must be >= 1, got {n}")
    return n


def _unsupported_attrs(ctx: OpContext, *names: str) -> None:
    for name in names:
        if ctx.attr_int(name, 0):
            raise Unsupported(f"{ctx.node.op_type} with {name}=1 is not followed")


def _mask(ctx: OpContext, i: int, b: Expr, s: Expr, total: Expr) -> None:
    """Attention's ``mask_index`` forms (see the module docstring)."""
    if not ctx.has(i):
        return
    m = ctx.shape(i)
    fix = "the mask is (batch) lengths, (batch, total length), or (batch, sequence, total length)"
    if len(m) == 1:
        one_of(ctx, m[0], [b, b * 2, b * 3 + 2], "GC010", "mask_index length (1-D)", fix)
    elif len(m) == 2:
        ctx.require(
            any_of([all_of([eq(m[0], b), eq(m[1], total)]), all_of([eq(m[1], 1), any_of([eq(m[0], 1), eq(m[0], b)])])]),
            "GC010",
            "mask_index shape (2-D)",
            formula=lazy("({}, {}) must be (batch {}, total length {}) (or (1, 1) / (batch, 1))", m[0], m[1], b, total),
            fix=fix,
        )
    elif len(m) == 3:
        require_dims(ctx, "mask_index", m, (b, s, total), ("batch", "sequence", "total length"), fix=fix)
    elif len(m) == 4:
        require_dims(ctx, "mask_index", m, (b, ONE, None, m[2]), ("batch", "1", "max length", "max length"), fix=fix)
        ctx.require(
            ge(m[2], total),
            "GC010",
            "mask_index max length (4-D)",
            formula=lazy("{} must be >= the total length {}", m[2], total),
            fix=fix,
        )
        _refusal(
            ctx,
            "a 4-D mask_index",
            "'4D mask in attention cpu kernel is not supported'",
            "Give the mask as (batch, total length) or (batch, sequence, total length).",
        )
    else:
        raise Invalid(f"mask_index must have rank 1 to 4, got {len(m)}")


def _attention_bias(ctx: OpContext, i: int, b: Expr, heads: Expr, s: Expr, total: Expr) -> None:
    if not ctx.has(i):
        return
    ab = ctx.shape(i)
    if len(ab) != 4:
        raise Invalid(f"attention_bias must be 4-D, got rank {len(ab)}")
    one_of(ctx, ab[0], [b, ONE], "GC010", "attention_bias batch (axis 0)", "batch size or 1")
    one_of(ctx, ab[1], [heads, ONE], "GC010", "attention_bias heads (axis 1)", "num_heads or 1")
    require_dims(ctx, "attention_bias", ab, (None, None, s, total), ("", "", "sequence", "total length"))


def _merged_qkv(ctx: OpContext, x: tuple[Expr, ...], w: tuple[Expr, ...], nh: int) -> tuple[Expr, Expr]:
    """Attention/QAttention: check input vs merged weights; (hidden size h, v hidden size)."""
    if len(x) != 3:
        raise Invalid(f"{ctx.node.op_type} needs a 3-D input (batch, sequence, hidden), got rank {len(x)}")
    if len(w) != 2:
        raise Invalid(f"{ctx.node.op_type} needs 2-D weights, got rank {len(w)}")
    require_eq(
        ctx, w[0], x[2], "GC005", "weights rows (axis 0) vs input hidden size",
        "the merged Q/K/V weights have one row per input feature",
    )  # fmt: skip
    sizes = ctx.attr_ints("qkv_hidden_sizes")
    if sizes:
        if len(sizes) != 3 or sizes[0] != sizes[1] or min(sizes) < 1 or any(v % nh for v in sizes):
            raise Invalid(f"qkv_hidden_sizes {list(sizes)}: Q and K equal, each a positive multiple of num_heads")
        require_eq(ctx, w[1], const(sum(sizes)), "GC010", "weights columns (axis 1) vs qkv_hidden_sizes")
        return const(sizes[0]), const(sizes[2])
    h = divide(ctx, w[1], 3, "GC010", "weights columns (axis 1)", "Q, K and V take a third of the columns each")
    divide(ctx, h, nh, "GC010", "hidden size vs num_heads", f"the hidden size must be a multiple of num_heads ({nh})")
    return h, h


def _past2(ctx: OpContext, i: int, b: Expr, nh: int, hs: Expr) -> Expr:
    """``past (2, B, num_heads, P, hs)``: its length P (0 without it)."""
    if not ctx.has(i):
        return const(0)
    p = ctx.shape(i)
    labels = ("key/value", "batch", "heads", "past length", "head size")
    require_dims(
        ctx, "past", p, (TWO, b, const(nh), None, hs), labels, fix="past is (2, batch, heads, length, head size)"
    )
    return p[3]


def _attention_core(ctx: OpContext, x: tuple[Expr, ...], h: Expr, vh: Expr, nh: int, past_i: int) -> list[Fact]:
    b, s = x[0], x[1]
    hs = divide(
        ctx, h, nh, "GC010", "hidden size vs num_heads", f"the hidden size must be a multiple of num_heads ({nh})"
    )
    past = _past2(ctx, past_i, b, nh, hs)
    if ctx.has(past_i) and vh != h:
        require_eq(ctx, vh, h, "GC010", "V hidden size with past", "with a past state Q, K and V have one hidden size")
    return [Fact((b, s, vh), ctx.fact(0).dtype), Fact((TWO, b, const(nh), past + s, hs), ctx.fact(0).dtype)]


@rule("Attention", domain=MS)
def ms_attention(ctx: OpContext) -> list[Fact]:
    nh = _heads(ctx)
    _unsupported_attrs(ctx, "past_present_share_buffer", "do_rotary")
    x, w = ctx.shape(0), ctx.shape(1)
    h, vh = _merged_qkv(ctx, x, w, nh)
    if ctx.has(2):
        require_dims(ctx, "bias", ctx.shape(2), (w[1],), ("Q, K and V columns",), fix="one bias per weight column")
    outs = _attention_core(ctx, x, h, vh, nh, 4)
    total = outs[1].shape[3] if outs[1].shape else x[1]  # type: ignore[index]
    _mask(ctx, 3, x[0], x[1], total)
    _attention_bias(ctx, 5, x[0], const(nh), x[1], total)
    return outs


@rule("QAttention", domain=MS)
def q_attention(ctx: OpContext) -> list[Fact]:
    nh = _heads(ctx)
    _unsupported_attrs(ctx, "past_present_share_buffer", "do_rotary")
    x, w = ctx.shape(0), ctx.shape(1)
    h, vh = _merged_qkv(ctx, x, w, nh)
    require_dims(ctx, "bias", ctx.shape(2), (w[1],), ("Q, K and V columns",), fix="one bias per weight column")
    scalar_like(ctx, 3, "input_scale")
    scalar_like(ctx, 6, "input_zero_point")
    for i, name in ((4, "weight_scale"), (7, "weight_zero_point")):
        if ctx.has(i):
            sh = ctx.shape(i)
            if len(sh) > 1:
                raise Invalid(f"{name} must be a scalar or 1-D")
            if len(sh) == 1:
                one_of(ctx, sh[0], [ONE, w[1]], "GC010", f"{name} size", "one per tensor or one per weight column")
    b, s = x[0], x[1]
    hs = divide(
        ctx, h, nh, "GC010", "hidden size vs num_heads", f"the hidden size must be a multiple of num_heads ({nh})"
    )
    past = _past2(ctx, 8, b, nh, hs)
    total = past + s
    _mask(ctx, 5, b, s, total)
    y = Fact((b, s, vh), FLOAT_OUT)
    return [y, Fact((TWO, b, const(nh), total, hs), FLOAT_OUT)]


FLOAT_OUT = 1


# ---------------------------------------------------------------------------------------------
# MultiHeadAttention


@rule("MultiHeadAttention", domain=MS)
def multi_head_attention(ctx: OpContext) -> list[Fact]:
    nh = _heads(ctx)
    q = ctx.shape(0)
    dtype = ctx.fact(0).dtype
    if ctx.has(8) or ctx.has(9):
        raise Unsupported(
            "MultiHeadAttention with past_sequence_length/cache_indirection (shared buffers) is not followed"
        )
    if len(q) != 3:
        raise Unsupported(f"MultiHeadAttention with a rank-{len(q)} (packed) query is not followed")
    b, s, h = q
    hs = divide(
        ctx, h, nh, "GC010", "query hidden size vs num_heads", f"the hidden size must be a multiple of num_heads ({nh})"
    )
    if not ctx.has(1) or not ctx.has(2):
        raise Unsupported("MultiHeadAttention without separate key and value (packed QKV/KV) is not followed")
    k, v = ctx.shape(1), ctx.shape(2)
    fix = "key and value are (batch, length, hidden) or (batch, heads, length, head size)"
    if len(k) == 3:
        if len(v) != 3:
            raise Invalid("key and value must have the same rank")
        require_dims(ctx, "key", k, (b, None, h), ("batch", "length", "hidden size"), fix=fix)
        lk = k[1]
        require_dims(ctx, "value", v, (b, lk, None), ("batch", "length", "hidden size"), fix=fix)
        vh = v[2]
        vhs = divide(ctx, vh, nh, "GC010", "value hidden size vs num_heads", f"a multiple of num_heads ({nh})")
        split = False
    elif len(k) == 4:
        if len(v) != 4:
            raise Invalid("key and value must have the same rank")
        labels = ("batch", "heads", "length", "head size")
        require_dims(ctx, "key", k, (b, const(nh), None, hs), labels, fix=fix)
        lk = k[2]
        require_dims(ctx, "value", v, (b, const(nh), lk, None), labels, fix=fix)
        vhs = v[3]
        vh = vhs * nh
        split = True
    else:
        raise Invalid(f"key must be 3-D or 4-D, got rank {len(k)}")
    if ctx.has(3):
        if split:
            raise Invalid("MultiHeadAttention's bias needs key and value in (batch, length, hidden) form")
        require_dims(ctx, "bias", ctx.shape(3), (h + h + vh,), ("Q, K and V",), fix="one bias per Q, K and V feature")
    if ctx.has(6) != ctx.has(7):
        raise Invalid("past_key and past_value go together")
    past: Expr = const(0)
    if ctx.has(6):
        if split:
            raise Invalid("past_key cannot be combined with key already split into heads")
        labels = ("batch", "heads", "past length", "head size")
        pk = ctx.shape(6)
        require_dims(ctx, "past_key", pk, (b, const(nh), None, hs), labels)
        past = pk[2]
        require_dims(ctx, "past_value", ctx.shape(7), (b, const(nh), past, vhs), labels)
    total = past + lk
    if ctx.has(4):
        m = ctx.shape(4)
        mfix = (
            "the key padding mask is (batch), (3*batch + 2), (batch, total length) or (batch, sequence, total length)"
        )
        if len(m) == 1:
            one_of(ctx, m[0], [b, b * 3 + 2], "GC010", "key_padding_mask length (1-D)", mfix)
        elif len(m) == 2:
            require_dims(ctx, "key_padding_mask", m, (b, total), ("batch", "total length"), fix=mfix)
        elif len(m) == 3:
            require_dims(ctx, "key_padding_mask", m, (b, s, total), ("batch", "sequence", "total length"), fix=mfix)
        else:
            raise Invalid(f"key_padding_mask must have rank 1 to 3, got {len(m)}")
    _attention_bias(ctx, 5, b, const(nh), s, total)
    present_k = Fact((b, const(nh), total, hs), dtype)
    present_v = Fact((b, const(nh), total, vhs), dtype)
    return [Fact((b, s, vh), dtype), present_k, present_v, Fact((b, const(nh), s, total), dtype)]


# ---------------------------------------------------------------------------------------------
# GroupQueryAttention


def _scalar_value(ctx: OpContext, i: int, what: str) -> Expr:
    vals = ctx.ints(i, what)
    if len(vals) != 1:
        raise Invalid(f"{what} must hold one value, got {len(vals)}")
    return vals[0]


@rule("GroupQueryAttention", domain=MS)
def group_query_attention(ctx: OpContext) -> list[Fact]:
    nh = _heads(ctx)
    kvh = _heads(ctx, "kv_num_heads")
    if nh % kvh:
        raise Invalid(f"num_heads ({nh}) must be a multiple of kv_num_heads ({kvh})")
    _unsupported_attrs(ctx, "sliding_window_cache", "qk_output")
    for i, name in (
        (9, "position_ids"),
        (12, "k_scale"),
        (13, "v_scale"),
        (14, "q_norm_weight"),
        (16, "query_seqlens"),
    ):
        if ctx.has(i):
            raise Unsupported(f"GroupQueryAttention with {name} is not followed")
    q = ctx.shape(0)
    dtype = ctx.fact(0).dtype
    if len(q) != 3:
        raise Invalid(f"GroupQueryAttention needs a 3-D query, got rank {len(q)}")
    b, s = q[0], q[1]
    if ctx.has(1) != ctx.has(2):
        raise Invalid("key and value go together")
    if ctx.has(1):
        hs = divide(ctx, q[2], nh, "GC010", "query hidden size (axis 2)", f"num_heads ({nh}) x head size")
        labels = ("batch", "sequence", "hidden size")
        fix = f"key and value are (batch, sequence, kv_num_heads ({kvh}) x head size)"
        require_dims(ctx, "key", ctx.shape(1), (b, s, hs * kvh), labels, fix=fix)
        require_dims(ctx, "value", ctx.shape(2), (b, s, hs * kvh), labels, fix=fix)
    else:
        hs = divide(
            ctx, q[2], nh + 2 * kvh, "GC010", "packed QKV hidden size (axis 2)",
            f"packed QKV holds (num_heads + 2 x kv_num_heads) = {nh + 2 * kvh} heads",
        )  # fmt: skip
    total = _scalar_value(ctx, 6, "total_sequence_length")
    require_dims(ctx, "seqlens_k", ctx.shape(5), (b,), ("batch",), fix="one length per batch entry")
    ctx.require(
        ge(total, s),
        "GC010",
        "total_sequence_length vs sequence length",
        formula=lazy("total_sequence_length {} must be >= the sequence length {}", total, s),
        fix="the total length counts the new tokens too",
    )
    if ctx.has(3) != ctx.has(4):
        raise Invalid("past_key and past_value go together")
    present_len = total
    if ctx.has(3):
        cache_labels = ("batch", "kv heads", "past length", "head size")
        fix = f"the cache is (batch, kv_num_heads ({kvh}), length, head size)"
        pk = ctx.shape(3)
        require_dims(ctx, "past_key", pk, (b, const(kvh), None, hs), cache_labels, fix=fix)
        p = pk[2]
        require_dims(ctx, "past_value", ctx.shape(4), (b, const(kvh), p, hs), cache_labels, fix=fix)
        ctx.require(
            any_of([eq(total, p + s), ge(p, total)]),
            "GC010",
            "total_sequence_length vs past and new lengths",
            formula=lazy(
                "total_sequence_length {} must equal past {} + new {} (a growing cache) or be at most {} "
                "(a static cache)", total, p, s, p,
            ),
            fix="feed the attention mask of past + new tokens",
        )  # fmt: skip
        ctx.require(
            any_of([eq(b, 1), eq(s, 1), eq(total, s)]),
            "GC010",
            "several new tokens with past context",
            formula=lazy("batch {} must be 1 when {} tokens follow {} cached ones", b, s, total - s),
            fix="onnxruntime's CPU kernel takes several new tokens after a cache only at batch size 1",
        )
        present_len = emax(p, total)
    elif not ctx.always(eq(total, s)):
        require_eq(ctx, total, s, "GC010", "total_sequence_length without a cache", "without a cache T is the sequence")
    if ctx.attr_int("do_rotary", 0):
        if not (ctx.has(7) and ctx.has(8)):
            raise Invalid("do_rotary needs cos_cache and sin_cache")
        cos, sin = ctx.shape(7), ctx.shape(8)
        if ctx.semantics == "ort":  # the CPU kernel's rotary needs whole blocks of 16 (the docs are silent)
            divide(ctx, hs, 16, "GC010", "head size with do_rotary (onnxruntime)", "use a head size multiple of 16")
        if len(cos) != 2:
            raise Invalid(f"cos_cache must be 2-D, got rank {len(cos)}")
        cfix = "the rotary caches need one row per position: rebuild them for a longer maximum length"
        ctx.require(
            ge(cos[0], total),
            "GC009",
            "cos_cache rows vs total_sequence_length",
            formula=lazy("cos_cache has {} rows; total_sequence_length {} must be <= it", cos[0], total),
            fix=cfix,
        )
        ctx.require(
            ge(hs, cos[1] * 2),
            "GC010",
            "cos_cache width vs head size",
            formula=lazy("2 x cos_cache width {} must be <= head size {}", cos[1], hs),
        )
        require_dims(ctx, "sin_cache", sin, cos, ("rows", "width"))
    if ctx.has(10):
        _attention_bias(ctx, 10, b, const(nh), s, total)
    if ctx.has(11):
        require_dims(ctx, "head_sink", ctx.shape(11), (const(nh),), ("heads",))
    cache = (b, const(kvh), present_len, hs)
    return [Fact((b, s, hs * nh), dtype), Fact(cache, dtype), Fact(cache, dtype)]


# ---------------------------------------------------------------------------------------------
# RotaryEmbedding (com.microsoft)


@rule("RotaryEmbedding", domain=MS)
def ms_rotary_embedding(ctx: OpContext) -> list[Fact]:
    _unsupported_attrs(ctx, "is_packed_batching")
    x, pos, cos, sin = ctx.shape(0), ctx.shape(1), ctx.shape(2), ctx.shape(3)
    rdim = ctx.attr_int("rotary_embedding_dim", 0)
    nh_attr = ctx.attr_int("num_heads", 0)
    if len(x) == 4:
        b, s, hs = x[0], x[2], x[3]
    elif len(x) == 3:
        b, s = x[0], x[1]
        if nh_attr:
            hs = divide(ctx, x[2], nh_attr, "GC010", "hidden size (axis 2)", f"a multiple of num_heads ({nh_attr})")
        elif rdim:
            raise Invalid("rotary_embedding_dim needs num_heads with a 3-D input")
        else:
            if len(cos) != 2:
                raise Invalid(f"cos_cache must be 2-D, got rank {len(cos)}")
            hs = cos[1] * 2  # the head size is read from the caches
            require_divides(
                ctx, x[2], hs, "GC010", "hidden size vs head size (2 x cos_cache width)",
                "the hidden size must be a whole number of heads",
            )  # fmt: skip
    else:
        raise Invalid(f"RotaryEmbedding needs a 3-D or 4-D input, got rank {len(x)}")
    if len(cos) != 2:
        raise Invalid(f"cos_cache must be 2-D, got rank {len(cos)}")
    rot: Expr = const(rdim) if rdim else hs
    if rdim:
        ctx.require(
            ge(hs, rot),
            "GC010",
            "rotary_embedding_dim vs head size",
            formula=lazy("head size {} must be >= rotary_embedding_dim {}", hs, rdim),
            fix="the rotated part cannot be wider than a head",
        )
    require_eq(
        ctx, cos[1] * 2, rot, "GC010", "cos_cache width vs rotary dimension", "the caches hold R/2 values per row"
    )
    require_dims(ctx, "sin_cache", sin, cos, ("rows", "width"))
    if len(pos) == 2:
        require_dims(ctx, "position_ids", pos, (b, s), ("batch", "sequence"), fix="position_ids is (batch, sequence)")
        vals = ctx.fact(1).int_values()
        for v in vals or ():
            ctx.require(
                ge(cos[0] - 1, v),
                "GC009",
                "position id vs cache rows",
                formula=lazy("position {} must be < {}", v, cos[0]),
                fix="the caches need a row for every position",
            )
    elif len(pos) == 1:
        require_eq(ctx, pos[0], ONE, "GC010", "position_ids (1-D) size", "a 1-D position_ids holds one offset")
        vals = ctx.fact(1).int_values()
        if vals:
            ctx.require(
                ge(cos[0], vals[0] + s),
                "GC009",
                "position offset + sequence vs cache rows",
                formula=lazy("{} + {} must be <= {}", vals[0], s, cos[0]),
                fix="the caches need a row for every position",
            )
    else:
        raise Invalid(f"position_ids must be 1-D or 2-D, got rank {len(pos)}")
    return [Fact(x, ctx.fact(0).dtype)]


# ---------------------------------------------------------------------------------------------
# DecoderMaskedMultiHeadAttention


@rule("DecoderMaskedMultiHeadAttention", domain=MS)
def decoder_masked_mha(ctx: OpContext) -> list[Fact]:
    """One decoding step: query ``(B, 1, h)``. Cross attention: key/value already in heads
    ``(B, num_heads, L, hs)``, mask ``(B, L)``. Self attention: key/value ``(B, 1, h)`` / ``(B, 1, vh)``
    and a cache ``(B, num_heads, M, hs)`` shared with the presents (``past_present_share_buffer=1``:
    the CPU kernel refuses an unshared cache at every size, GC111); a known ``past_sequence_length``
    p needs ``p < M`` and a mask of ``(B, p + 1)``; unshared (the docs) the presents have ``M + 1``
    rows and the mask ``(B, M + 1)``."""
    nh = _heads(ctx)
    if ctx.has(8) or ctx.has(9):
        raise Unsupported("DecoderMaskedMultiHeadAttention with beam_width/cache_indirection is not followed")
    if not ctx.has(1) or not ctx.has(2):
        raise Unsupported("DecoderMaskedMultiHeadAttention with packed QKV is not followed")
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    if len(q) != 3:
        raise Invalid(f"the query must be 3-D (batch, 1, hidden), got rank {len(q)}")
    b, s, h = q
    require_eq(ctx, s, ONE, "GC010", "query sequence length (axis 1)", "the decoder attends one new token per step")
    hs = divide(ctx, h, nh, "GC010", "query hidden size vs num_heads", f"a multiple of num_heads ({nh})")
    dtype = ctx.fact(0).dtype
    mfix = "the mask covers every key: (batch, total length)"
    if len(k) == 4:
        labels = ("batch", "heads", "length", "head size")
        require_dims(ctx, "key", k, (b, const(nh), None, hs), labels)
        require_dims(ctx, "value", v, (b, const(nh), k[2], hs), labels)
        if ctx.has(3):
            require_dims(ctx, "mask_index", ctx.shape(3), (b, k[2]), ("batch", "key length"), fix=mfix)
        _attention_bias(ctx, 4, b, const(nh), ONE, k[2])
        return [Fact((b, ONE, h), dtype)]
    if len(k) != 3 or len(v) != 3:
        raise Invalid("key and value are (batch, 1, hidden) or (batch, heads, length, head size)")
    require_dims(ctx, "key", k, (b, ONE, h), ("batch", "sequence", "hidden size"))
    require_dims(ctx, "value", v, (b, ONE, None), ("batch", "sequence", "hidden size"))
    vhs = divide(ctx, v[2], nh, "GC010", "value hidden size vs num_heads", f"a multiple of num_heads ({nh})")
    if not (ctx.has(5) and ctx.has(6)):
        raise Unsupported("DecoderMaskedMultiHeadAttention self attention without a cache is not followed")
    labels = ("batch", "heads", "cache length", "head size")
    pk = ctx.shape(5)
    require_dims(ctx, "past_key", pk, (b, const(nh), None, hs), labels)
    m = pk[2]
    require_dims(ctx, "past_value", ctx.shape(6), (b, const(nh), m, vhs), labels)
    total: Expr | None
    if ctx.attr_int("past_present_share_buffer", 0):
        present = m
        vals = ctx.fact(7).int_values() if ctx.has(7) else None
        total = None
        if vals is not None and len(vals) == 1:
            p = vals[0]
            ctx.require(
                all_of([ge(p), ge(m - 1, p)]),
                "GC009",
                "past_sequence_length vs the cache's rows",
                formula=lazy("past length {} must be < the cache's {} rows", p, m),
                fix="the shared cache needs a free row for the new token",
            )
            total = p + 1
    else:
        _refusal(
            ctx,
            "past_present_share_buffer=0",
            "the CPU kernel needs past and present to share one buffer ('past_present_share_buffer_ was false')",
            "Use past_present_share_buffer=1 with a cache of the maximum length.",
        )
        present = m + 1
        total = present
    if total is not None:
        if ctx.has(3):
            require_dims(ctx, "mask_index", ctx.shape(3), (b, total), ("batch", "total length"), fix=mfix)
        _attention_bias(ctx, 4, b, const(nh), ONE, total)
    if ctx.has(10):
        require_dims(
            ctx, "bias", ctx.shape(10), (h + h + v[2],), ("Q, K and V",), fix="one bias per Q, K and V feature"
        )
    return [
        Fact((b, ONE, v[2]), dtype),
        Fact((b, const(nh), present, hs), dtype),
        Fact((b, const(nh), present, vhs), dtype),
    ]


# ---------------------------------------------------------------------------------------------
# SparseAttention


@rule("SparseAttention", domain=MS)
def sparse_attention(ctx: OpContext) -> list[Fact]:
    """Phi-3-small's block-sparse attention (model builders): query ``(B, S, num_heads*hs)`` with
    key/value ``(B, S, kv_num_heads*hs)``, or packed QKV; caches ``(B, kv_num_heads, M, hs)`` that the
    presents share; ``block_row_indices (layouts, blocks + 1)`` (``num_heads`` a multiple of the
    layouts) and ``block_col_indices (layouts, nnz)``; the scalar ``total_sequence_length`` T needs
    ``S <= T <= M`` and ``T <= blocks * sparse_block_size``, and with ``do_rotary`` ``T <=`` the
    caches' rows. onnxruntime's CPU kernel also needs past and present bound to one buffer (IO
    binding): a plain session run is refused at every size (GC111 under ``semantics="ort"``)."""
    nh = _heads(ctx)
    kvh = _heads(ctx, "kv_num_heads")
    if nh % kvh:
        raise Invalid(f"num_heads ({nh}) must be a multiple of kv_num_heads ({kvh})")
    block = int_attr_required(ctx, "sparse_block_size")
    if block not in (16, 32, 64, 128):
        raise Invalid(f"sparse_block_size must be 16, 32, 64 or 128, got {block}")
    q = ctx.shape(0)
    dtype = ctx.fact(0).dtype
    if len(q) != 3:
        raise Invalid(f"SparseAttention needs a 3-D query, got rank {len(q)}")
    b, s = q[0], q[1]
    if ctx.has(1) != ctx.has(2):
        raise Invalid("key and value go together")
    if ctx.has(1):
        hs = divide(ctx, q[2], nh, "GC010", "query hidden size (axis 2)", f"num_heads ({nh}) x head size")
        labels = ("batch", "sequence", "hidden size")
        require_dims(ctx, "key", ctx.shape(1), (b, s, hs * kvh), labels)
        require_dims(ctx, "value", ctx.shape(2), (b, s, hs * kvh), labels)
    else:
        hs = divide(
            ctx, q[2], nh + 2 * kvh, "GC010", "packed QKV hidden size (axis 2)", "(num_heads + 2 x kv_num_heads) heads"
        )
    cache_labels = ("batch", "kv heads", "cache length", "head size")
    pk = ctx.shape(3)
    require_dims(ctx, "past_key", pk, (b, const(kvh), None, hs), cache_labels)
    m = pk[2]
    require_dims(ctx, "past_value", ctx.shape(4), (b, const(kvh), m, hs), cache_labels)
    rows, cols = ctx.shape(5), ctx.shape(6)
    if len(rows) != 2 or len(cols) != 2:
        raise Invalid("block_row_indices and block_col_indices are 2-D (layouts, ...)")
    require_eq(ctx, cols[0], rows[0], "GC010", "block_col_indices layouts (axis 0)", "one row per layout")
    layouts = rows[0].const_value()
    if layouts is not None and (layouts < 1 or nh % layouts):
        raise Invalid(f"num_heads ({nh}) must be a multiple of the {layouts} sparse layouts")
    total = _scalar_value(ctx, 7, "total_sequence_length")
    require_dims(ctx, "key_total_sequence_lengths", ctx.shape(8), (b,), ("batch",), fix="one length per batch entry")
    ctx.require(
        ge(total, s),
        "GC010",
        "total_sequence_length vs sequence length",
        formula=lazy("total_sequence_length {} must be >= the sequence length {}", total, s),
    )
    ctx.require(
        ge(m, total),
        "GC009",
        "total_sequence_length vs the cache's rows",
        formula=lazy("total_sequence_length {} must be <= the cache's {} rows", total, m),
        fix="the shared cache must hold every token: allocate it for the maximum length",
    )
    ctx.require(
        ge((rows[1] - 1) * block, total),
        "GC009",
        "total_sequence_length vs the block mask",
        formula=lazy("total_sequence_length {} must be <= ({} - 1) blocks x {}", total, rows[1], block),
        fix="the block mask covers a maximum length: rebuild it for a longer one",
    )
    if ctx.attr_int("do_rotary", 0):
        if not (ctx.has(9) and ctx.has(10)):
            raise Invalid("do_rotary needs cos_cache and sin_cache")
        cos = ctx.shape(9)
        if len(cos) != 2:
            raise Invalid(f"cos_cache must be 2-D, got rank {len(cos)}")
        ctx.require(
            ge(cos[0], total),
            "GC009",
            "cos_cache rows vs total_sequence_length",
            formula=lazy("cos_cache has {} rows; total_sequence_length {} must be <= it", cos[0], total),
            fix="the rotary caches need one row per position",
        )
        require_dims(ctx, "sin_cache", ctx.shape(10), cos, ("rows", "width"))
    _refusal(
        ctx,
        "past and present in separate buffers",
        "its CPU kernel needs past_key/present_key (and the values) bound to one buffer (IO binding)",
        "Run it with IO binding that binds each present output to its past input's buffer.",
    )
    cache = (b, const(kvh), m, hs)
    return [Fact((b, s, hs * nh), dtype), Fact(cache, dtype), Fact(cache, dtype)]

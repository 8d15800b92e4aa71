"""Attention-family ops: Attention, RotaryEmbedding, LinearAttention, CausalConvWithState, SwiGLU,
TensorScatter and ai.onnx.preview::FlexAttention.

Attention (opsets 23, 24, 25), following the spec and the ONNX reference implementation:

* 4-D form: Q ``(B, Hq, Sq, D)``, K ``(B, Hkv, Skv, D)``, V ``(B, Hkv, Skv, Dv)``; Y is
  ``(B, Hq, Sq, Dv)``. The 3-D form packs heads into the last axis: Q ``(B, Sq, q_num_heads*D)``,
  K ``(B, Skv, kv_num_heads*D)``, V ``(B, Skv, kv_num_heads*Dv)``; Y is ``(B, Sq, q_num_heads*Dv)``
  (the hidden sizes must be exact multiples of the head counts: GC010).
* Q and K share the head size (the contracted axis of Q K^T: GC005); K and V share their
  sequence length and heads, every input the batch size (GC010); grouped-query attention
  needs ``Hq % Hkv == 0`` (GC010).
* ``past_key (B, Hkv, P, D)`` / ``past_value (B, Hkv, P, Dv)`` go together; the present outputs
  and ``qk_matmul_output`` use the total length ``T = P + Skv``: ``(B, Hkv, T, D)``,
  ``(B, Hkv, T, Dv)``, ``(B, Hq, Sq, T)``.
* ``attn_mask`` broadcasts (unidirectionally) to ``(B, Hq, Sq, T)`` (GC003); from opset 24 its last
  axis may also be shorter than ``T`` (it is padded), so that axis needs ``1 <= m <= T``.
* ``nonpad_kv_seqlen`` (opset 24+) has shape ``(B,)``; its known values must be ``<= T``, and the
  mask's key axis must be at least as long as each of them (GC009).

onnxruntime (1.32) deviations, checked with tests/ortprobe.py (``semantics="ort"`` reproduces them):
the mask must be 2-D to 4-D, its last axis must equal ``T`` exactly (no broadcasting of a size-1
key axis, no shorter mask) and its query axis must equal ``Sq`` (no size-1 broadcast).
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._xutil import (
    divide,
    int_attr_required,
    lazy,
    one_of,
    require_dims,
    require_divides,
    require_eq,
    same_shape,
)
from graphcheck.infer.ops.elementwise import unidirectional
from graphcheck.infer.registry import Invalid, OpContext, norm_axis, rule
from graphcheck.symbolic.cond import ge
from graphcheck.symbolic.expr import Expr, const, floordiv

ONE = const(1)

_GQA_FIX = "q_num_heads must be a multiple of kv_num_heads (grouped-query attention shares each K/V head)"


def _heads_attrs(ctx: OpContext) -> tuple[int | None, int | None]:
    qh = ctx.attr("q_num_heads")
    kvh = ctx.attr("kv_num_heads")
    return (qh if isinstance(qh, int) else None), (kvh if isinstance(kvh, int) else None)


def _known_values(ctx: OpContext, i: int) -> tuple[Expr, ...] | None:
    return ctx.fact(i).int_values() if ctx.has(i) else None


@rule("Attention", since=23)
def attention(ctx: OpContext) -> list[Fact]:
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    r = len(q)
    if r not in (3, 4):
        raise Invalid(f"Attention needs 3-D or 4-D Q, got rank {r}")
    if len(k) != r or len(v) != r:
        raise Invalid(f"Attention needs Q, K and V of the same rank, got {r}, {len(k)}, {len(v)}")
    opset = ctx.opset
    dtype = ctx.fact(0).dtype
    qh_attr, kvh_attr = _heads_attrs(ctx)
    b = q[0]
    require_eq(ctx, k[0], b, "GC010", "K batch size (axis 0)", "Q, K and V must have the same batch size")
    require_eq(ctx, v[0], b, "GC010", "V batch size (axis 0)", "Q, K and V must have the same batch size")
    if r == 3:
        qh = int_attr_required(ctx, "q_num_heads")
        kvh = int_attr_required(ctx, "kv_num_heads")
        if qh < 1 or kvh < 1:
            raise Invalid(f"q_num_heads ({qh}) and kv_num_heads ({kvh}) must be >= 1")
        if qh % kvh:
            raise Invalid(f"q_num_heads ({qh}) must be a multiple of kv_num_heads ({kvh})")
        sq, skv = q[1], k[1]
        d = divide(
            ctx, q[2], qh, "GC010", "Q hidden size (axis 2)", f"Q's hidden size must be q_num_heads ({qh}) x head size"
        )
        require_eq(
            ctx, k[2], d * kvh, "GC005", "K hidden size (axis 2)",
            f"K's hidden size must be kv_num_heads ({kvh}) x Q's head size",
        )  # fmt: skip
        require_eq(ctx, v[1], skv, "GC010", "V sequence length (axis 1)", "K and V must have the same sequence length")
        dv = divide(
            ctx,
            v[2],
            kvh,
            "GC010",
            "V hidden size (axis 2)",
            f"V's hidden size must be kv_num_heads ({kvh}) x v head size",
        )
        hq, hkv = const(qh), const(kvh)
        y: tuple[Expr, ...] = (b, sq, dv * qh)
    else:
        if opset >= 25 and (qh_attr is not None or kvh_attr is not None):
            raise Invalid("Attention (opset 25) forbids q_num_heads/kv_num_heads with 4-D inputs")
        hq, sq, d = q[1], q[2], q[3]
        hkv, skv, dv = k[1], k[2], v[3]
        require_eq(
            ctx, k[3], d, "GC005", "K head size (axis 3)", "Q and K must have the same head size (Q K^T contracts it)"
        )
        require_eq(ctx, v[1], hkv, "GC010", "V heads (axis 1)", "K and V must have the same number of heads")
        require_eq(ctx, v[2], skv, "GC010", "V sequence length (axis 2)", "K and V must have the same sequence length")
        if qh_attr is not None:
            require_eq(ctx, hq, const(qh_attr), "GC010", "Q heads (axis 1) vs q_num_heads")
        if kvh_attr is not None:
            require_eq(ctx, hkv, const(kvh_attr), "GC010", "K heads (axis 1) vs kv_num_heads")
        require_divides(ctx, hq, hkv, "GC010", "Q heads vs K/V heads (grouped-query attention)", _GQA_FIX)
        y = (b, hq, sq, dv)
    # -- KV cache ------------------------------------------------------------------------------
    if ctx.has(4) != ctx.has(5):
        raise Invalid("Attention: past_key and past_value must be given together")
    past: Expr = const(0)
    if ctx.has(4):
        if opset >= 24 and ctx.has(6):
            raise Invalid("Attention: nonpad_kv_seqlen cannot be combined with past_key/past_value")
        pk, pv = ctx.shape(4), ctx.shape(5)
        labels = ("batch", "heads", "sequence", "head size")
        fix = "the cache must be (batch, kv heads, past length, head size) of this layer"
        require_dims(ctx, "past_key", pk, (b, hkv, None, d), labels, fix=fix)
        past = pk[2]
        require_dims(ctx, "past_value", pv, (b, hkv, past, dv), labels, fix=fix)
    total = past + skv
    # -- mask -----------------------------------------------------------------------------------
    if ctx.has(3):
        m = ctx.shape(3)
        if not 1 <= len(m) <= 4:
            raise Invalid(f"attn_mask must have rank 1 to 4, got {len(m)}")
        ort = ctx.semantics == "ort"
        if ort and len(m) < 2:
            raise Invalid("onnxruntime needs a 2-D, 3-D or 4-D attn_mask")
        last = m[-1]
        what = "attn_mask key axis (last) vs total sequence length"
        if ort:
            require_eq(ctx, last, total, "GC003", what + " (onnxruntime: must be equal)")
        elif opset >= 24:
            ctx.require(
                ge(total, last),
                "GC003",
                what,
                formula=lazy("{} must be <= {} (a shorter mask is padded)", last, total),
                fix="the mask covers at most past + current keys",
            )
        else:
            one_of(ctx, last, [total, ONE], "GC003", what, "the mask must cover past + current keys (or be 1)")
        if ort:
            require_eq(ctx, m[-2], sq, "GC003", "attn_mask query axis (-2) (onnxruntime: must equal Q's length)")
            unidirectional(ctx, (b, hq), m[:-2], "attn_mask")
        else:
            unidirectional(ctx, (b, hq, sq), m[:-1], "attn_mask")
    # -- external cache lengths -----------------------------------------------------------------
    if opset >= 24 and ctx.has(6):
        n = ctx.shape(6)
        require_dims(ctx, "nonpad_kv_seqlen", n, (b,), ("batch",))
        vals = _known_values(ctx, 6)
        for val in vals or ():
            if val.is_const and val.value < 0:
                raise Invalid(f"nonpad_kv_seqlen holds the negative length {val.value}")
            ctx.require(
                ge(total, val),
                "GC009",
                "nonpad_kv_seqlen value vs K/V sequence length",
                formula=lazy("{} must be <= {}", val, total),
                fix="a valid-token count cannot exceed the cache length",
            )
            if ctx.has(3):
                mlast = ctx.shape(3)[-1]
                ctx.require(
                    ge(mlast, val),
                    "GC009",
                    "attn_mask key axis vs nonpad_kv_seqlen value",
                    formula=lazy("{} must be >= {}", mlast, val),
                    fix="the mask must cover every valid token",
                )
    if opset >= 25:
        for name in ("left_window_size", "right_window_size"):
            if ctx.attr_int(name, -1) < -1:
                raise Invalid(f"{name} must be -1 or >= 0")
    present_key = (b, hkv, total, d)
    present_value = (b, hkv, total, dv)
    qk = (b, hq, sq, total)
    return [Fact(y, dtype), Fact(present_key, dtype), Fact(present_value, dtype), Fact(qk, dtype)]


# ---------------------------------------------------------------------------------------------
# RotaryEmbedding


@rule("RotaryEmbedding", since=23)
def rotary_embedding(ctx: OpContext) -> list[Fact]:
    """4-D X ``(B, H, S, D)`` or 3-D X ``(B, S, num_heads*D)``; Y has X's shape.

    The rotated width ``R`` (``rotary_embedding_dim``, default the head size) is even and at
    most ``D``; the caches are ``(max_pos, R/2)`` with ``position_ids (B, S)``, else ``(B, S, R/2)``.
    The spec requires an even head size (4-D) / an even multiple of num_heads (3-D).
    onnxruntime (``semantics="ort"``) does not require an even head size, and with position_ids
    it refuses caches with fewer rows than the sequence length.
    """
    x = ctx.shape(0)
    cos, sin = ctx.shape(1), ctx.shape(2)
    ort = ctx.semantics == "ort"
    r = len(x)
    if r == 4:
        b, s, d = x[0], x[2], x[3]
        if not ort:
            divide(ctx, d, 2, "GC010", "head size (axis 3)", "the rotary embedding needs an even head size")
    elif r == 3:
        nh = int_attr_required(ctx, "num_heads")
        if nh < 1:
            raise Invalid(f"num_heads must be >= 1, got {nh}")
        b, s = x[0], x[1]
        if ort:
            d = divide(
                ctx,
                x[2],
                nh,
                "GC010",
                "hidden size (axis 2)",
                f"the hidden size must be a multiple of num_heads ({nh})",
            )
        else:
            d = (
                divide(
                    ctx,
                    x[2],
                    2 * nh,
                    "GC010",
                    "hidden size (axis 2)",
                    f"the hidden size must be an even multiple of num_heads ({nh})",
                )
                * 2
            )
    else:
        raise Invalid(f"RotaryEmbedding needs a 3-D or 4-D input, got rank {r}")
    rdim = ctx.attr_int("rotary_embedding_dim", 0)
    if rdim < 0:
        raise Invalid(f"rotary_embedding_dim must be >= 0, got {rdim}")
    if rdim:
        if rdim % 2 and not ort:
            raise Invalid(f"rotary_embedding_dim ({rdim}) must be even")
        rot: Expr = const(rdim)
        ctx.require(
            ge(d, rot),
            "GC010",
            "rotary_embedding_dim vs head size",
            formula=lazy("head size {} must be >= rotary_embedding_dim {}", d, rdim),
            fix="the rotated part cannot be wider than a head",
        )
    else:
        rot = d
    half = floordiv(rot, 2)
    fix = "the caches hold rotary_embedding_dim/2 (or head size/2) values per position"
    if ctx.has(3):
        p = ctx.shape(3)
        require_dims(ctx, "position_ids", p, (b, s), ("batch", "sequence"), fix="position_ids is (batch, sequence)")
        require_dims(ctx, "cos_cache", cos, (None, half), ("positions", "width"), fix=fix)
        if ort:
            ctx.require(
                ge(cos[0], s),
                "GC010",
                "cos_cache rows vs sequence length (onnxruntime)",
                formula=lazy("{} must be >= {}", cos[0], s),
                fix="onnxruntime needs at least one cache row per position of the sequence",
            )
        for pos in _known_values(ctx, 3) or ():
            ctx.require(
                ge(cos[0] - 1, pos),
                "GC009",
                "position id vs cache rows",
                formula=lazy("position {} must be < {}", pos, cos[0]),
                fix="the caches need a row for every position id",
            )
    else:
        require_dims(ctx, "cos_cache", cos, (b, s, half), ("batch", "sequence", "width"), fix=fix)
    same_shape(ctx, cos, sin, "sin_cache vs cos_cache")
    return [Fact(x, ctx.fact(0).dtype)]


# ---------------------------------------------------------------------------------------------
# LinearAttention, CausalConvWithState, SwiGLU, TensorScatter

_UPDATE_RULES = {"linear": (False, False), "gated": (True, False), "delta": (False, True), "gated_delta": (True, True)}


@rule("LinearAttention", since=27)
def linear_attention(ctx: OpContext) -> list[Fact]:
    """Packed 3-D query ``(B, T, Hq*dk)``, key ``(B, T, Hkv*dk)``, value ``(B, T, Hkv*dv)``;
    output ``(B, T, Hq*dv)``, present_state ``(B, Hkv, dk, dv)``.

    onnxruntime (1.32) runs the function body, whose element-wise steps also broadcast a key or
    value of sequence length 1 against the query's (not modelled: the spec's shapes are required).
    """
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    for name, s in (("query", q), ("key", k), ("value", v)):
        if len(s) != 3:
            raise Invalid(f"LinearAttention's {name} must be 3-D (B, T, H*D), got rank {len(s)}")
    qh = int_attr_required(ctx, "q_num_heads")
    kvh = int_attr_required(ctx, "kv_num_heads")
    if qh < 1 or kvh < 1 or qh % kvh:
        raise Invalid(f"q_num_heads ({qh}) must be a positive multiple of kv_num_heads ({kvh})")
    update = ctx.attr_str("update_rule", "gated_delta")
    if update not in _UPDATE_RULES:
        raise Invalid(f"unknown update_rule {update!r}")
    gating, delta = _UPDATE_RULES[update]
    b, t = q[0], q[1]
    dk = divide(
        ctx, q[2], qh, "GC010", "query hidden size (axis 2)", f"query's hidden size must be q_num_heads ({qh}) x d_k"
    )
    labels = ("batch", "sequence", "hidden size")
    require_dims(ctx, "key", k, (b, t, None), labels)
    require_eq(
        ctx,
        k[2],
        dk * kvh,
        "GC005",
        "key hidden size (axis 2)",
        f"key's hidden size must be kv_num_heads ({kvh}) x d_k",
    )
    require_dims(ctx, "value", v, (b, t, None), labels)
    dv = divide(
        ctx, v[2], kvh, "GC010", "value hidden size (axis 2)", f"value's hidden size must be kv_num_heads ({kvh}) x d_v"
    )
    state = (b, const(kvh), dk, dv)
    if ctx.has(3):
        require_dims(ctx, "past_state", ctx.shape(3), state, ("batch", "heads", "d_k", "d_v"))
    if ctx.has(4) != gating:
        raise Invalid(f"update_rule {update!r} {'needs' if gating else 'forbids'} the decay input")
    if ctx.has(5) != delta:
        raise Invalid(f"update_rule {update!r} {'needs' if delta else 'forbids'} the beta input")
    if ctx.has(4):
        g = ctx.shape(4)
        require_dims(ctx, "decay", g, (b, t, None), labels)
        one_of(
            ctx,
            g[2],
            [const(kvh), dk * kvh],
            "GC010",
            "decay last axis",
            "decay is per head (kv_num_heads) or per key dimension",
        )
    if ctx.has(5):
        be = ctx.shape(5)
        require_dims(ctx, "beta", be, (b, t, None), labels)
        one_of(ctx, be[2], [const(kvh), ONE], "GC010", "beta last axis", "beta is per head (kv_num_heads) or 1")
    dtype = ctx.fact(0).dtype
    state_dtype = ctx.fact(3).dtype if ctx.has(3) else dtype
    return [Fact((b, t, dv * qh), dtype), Fact(state, state_dtype)]


@rule("CausalConvWithState", since=27)
def causal_conv_with_state(ctx: OpContext) -> list[Fact]:
    """input ``(B, C, L)``, weight ``(C, 1, k)``: output ``(B, C, L)``, present_state ``(B, C, k - 1)``.

    onnxruntime (1.32) runs the function body, which takes a past_state of any length ``K`` and
    returns ``L + K - (k - 1)`` positions (``semantics="ort"``).
    """
    x, w = ctx.shape(0), ctx.shape(1)
    if len(x) != 3:
        raise Invalid(f"CausalConvWithState's input must be 3-D (batch, channels, length), got rank {len(x)}")
    act = ctx.attr_str("activation", "none")
    if act not in ("none", "silu", "swish"):
        raise Invalid(f"unknown activation {act!r}")
    b, c, _ = x
    fix = "the depthwise weight is (channels, 1, kernel)"
    require_dims(ctx, "weight", w, (c, ONE, None), ("channels", "group width", "kernel"), fix=fix)
    carry = w[2] - 1
    if ctx.has(2):
        require_dims(ctx, "bias", ctx.shape(2), (c,), ("channels",))
    dtype = ctx.fact(0).dtype
    if ctx.has(3):
        ps = ctx.shape(3)
        if ctx.semantics == "ort":
            # onnxruntime runs the function body: any carry length K works, the output has
            # L + K - (k - 1) positions
            require_dims(ctx, "past_state", ps, (b, c, None), ("batch", "channels", "carry"))
            return [Fact((b, c, x[2] + ps[2] - carry), dtype), Fact((b, c, carry), dtype)]
        require_dims(ctx, "past_state", ps, (b, c, carry), ("batch", "channels", "kernel - 1"))
    return [Fact(x, dtype), Fact((b, c, carry), dtype)]


@rule("SwiGLU", since=28)
def swiglu(ctx: OpContext) -> list[Fact]:
    a, b = ctx.shape(0), ctx.shape(1)
    same_shape(ctx, a, b, "B vs A", code="GC003")
    return [Fact(a, ctx.fact(0).dtype)]


@rule("TensorScatter", since=24)
def tensor_scatter(ctx: OpContext) -> list[Fact]:
    """present_cache has past_cache's shape; the update matches it except on ``axis``, where it
    is at most as long; in linear mode known write indices need ``index + length <= max length``."""
    past, upd = ctx.shape(0), ctx.shape(1)
    if len(upd) != len(past):
        raise Invalid(f"update has rank {len(upd)}, past_cache rank {len(past)}")
    axis = norm_axis(ctx.attr_int("axis", -2), len(past), ctx.node)
    if axis == 0:
        raise Invalid("TensorScatter's axis cannot be the batch axis 0")
    mode = ctx.attr_str("mode", "linear")
    if mode not in ("linear", "circular"):
        raise Invalid(f"unknown mode {mode!r}")
    for i, (p, u) in enumerate(zip(past, upd)):
        if i != axis:
            require_eq(
                ctx,
                u,
                p,
                "GC010",
                f"update axis {i} vs past_cache",
                "the update matches the cache off the sequence axis",
            )
    m, s = past[axis], upd[axis]
    ctx.require(
        ge(m, s),
        "GC010",
        f"update sequence length (axis {axis}) vs max_sequence_length",
        formula=lazy("{} must be <= {}", s, m),
        fix="the update cannot be longer than the cache",
    )
    if ctx.has(2):
        require_dims(ctx, "write_indices", ctx.shape(2), (past[0],), ("batch",))
        if mode == "linear":
            for idx in _known_values(ctx, 2) or ():
                ctx.require(
                    ge(m, idx + s),
                    "GC009",
                    "write index + update length vs max_sequence_length",
                    formula=lazy("{} + {} must be <= {}", idx, s, m),
                    fix="in linear mode the update must fit after the write index",
                )
    return [Fact(past, ctx.fact(0).dtype)]


# ---------------------------------------------------------------------------------------------
# ai.onnx.preview::FlexAttention


@rule("FlexAttention", since=1, domain="ai.onnx.preview")
def flex_attention(ctx: OpContext) -> list[Fact]:
    """Rank-4 Q ``(B, Hq, L, D)``, K ``(B, Hkv, S, D)``, V ``(B, Hkv, S, Dv)``: Y ``(B, Hq, L, Dv)``.

    The score_mod/prob_mod subgraphs must keep their input's shape (spec), so Y's shape does not
    depend on them; what they require of the sizes is not followed (GC103).
    """
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    for name, s in (("Q", q), ("K", k), ("V", v)):
        if len(s) != 4:
            raise Invalid(f"FlexAttention's {name} must be rank 4, got {len(s)}")
    b, hq, sq, d = q
    hkv, skv = k[1], k[2]
    require_eq(ctx, k[0], b, "GC010", "K batch size (axis 0)")
    require_eq(ctx, v[0], b, "GC010", "V batch size (axis 0)")
    require_eq(
        ctx, k[3], d, "GC005", "K head size (axis 3)", "Q and K must have the same head size (Q K^T contracts it)"
    )
    require_eq(ctx, v[1], hkv, "GC010", "V heads (axis 1)")
    require_eq(ctx, v[2], skv, "GC010", "V sequence length (axis 2)")
    require_divides(ctx, hq, hkv, "GC010", "Q heads vs K/V heads (grouped-query attention)", _GQA_FIX)
    mods = [n for n in ("score_mod", "prob_mod") if ctx.attr_graph(n) is not None]
    if mods:
        ctx.note(
            "GC103",
            f"FlexAttention: the {' and '.join(mods)} subgraph is not followed (Y's shape does not depend on it, "
            "but what it requires of the sizes is unknown)",
        )
    return [Fact((b, hq, sq, v[3]), ctx.fact(0).dtype)]

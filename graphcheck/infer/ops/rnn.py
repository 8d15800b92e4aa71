"""Recurrent layers: RNN, GRU, LSTM (every opset; ``layout`` from opset 14).

With G gates (RNN 1, GRU 3, LSTM 4) and ``nd`` directions (2 for ``bidirectional``):

* X ``[seq, batch, input]`` (``layout=1``: ``[batch, seq, input]``);
* W ``[nd, G*hidden, input]``, R ``[nd, G*hidden, hidden]``, B ``[nd, 2*G*hidden]``,
  sequence_lens ``[batch]``, initial_h / initial_c ``[nd, batch, hidden]`` (``layout=1``:
  ``[batch, nd, hidden]``), P (LSTM peepholes) ``[nd, 3*hidden]``;
* Y ``[seq, nd, batch, hidden]`` (``layout=1``: ``[batch, seq, nd, hidden]``), Y_h and Y_c
  like initial_h.

``hidden_size`` is optional in the spec; without it the hidden size is R's last axis.
Every mismatch is GC010. When ``sequence_lens`` is a known constant, every length must fit
in the padded sequence axis (``seq >= max(sequence_lens)``).
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.registry import Invalid, OpContext, rule
from graphcheck.symbolic.cond import eq, ge
from graphcheck.symbolic.expr import Expr, const

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _dims(ctx: OpContext, name: str, got: tuple[Expr, ...], want: tuple[Expr, ...], labels: tuple[str, ...]) -> None:
    if len(got) != len(want):
        raise Invalid(f"{name} has rank {len(got)}, expected {len(want)} ({', '.join(labels)})")
    for axis, (g, w, lab) in enumerate(zip(got, want, labels)):
        ctx.require(
            eq(g, w),
            "GC010",
            f"{name} axis {axis} ({lab})",
            formula=f"{g} must equal {w}",
            fix=_fix(name, lab, w),
        )


def _fix(name: str, label: str, want: Expr) -> str:
    if name == "W" and label == "input_size":
        return (
            f"X's last axis ({want}) is the layer's input size and must match W's last axis: give X as many "
            "features per step as the weights expect, or change the layer that produces X"
        )
    if label == "batch_size":
        return f"{name} must have the same batch size as X"
    return f"make {name}'s {label} {want}"


def _recurrent(ctx: OpContext) -> list[Fact]:
    op = ctx.node.op_type
    gates = GATES[op]
    x, w, r = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    if len(x) != 3:
        raise Invalid(f"{op} needs a 3-D X, got rank {len(x)}")
    direction = ctx.attr_str("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        raise Invalid(f"unknown direction {direction!r}")
    nd = const(2 if direction == "bidirectional" else 1)
    layout = ctx.attr_int("layout", 0) if ctx.opset >= 14 else 0
    if layout not in (0, 1):
        raise Invalid(f"layout must be 0 or 1, got {layout}")
    seq, batch = (x[1], x[0]) if layout else (x[0], x[1])
    input_size = x[2]
    if len(r) != 3:
        raise Invalid(f"R has rank {len(r)}, expected 3 (num_directions, {gates}*hidden_size, hidden_size)")
    hs_attr = ctx.node.attrs.get("hidden_size")
    if hs_attr is not None:
        hs = ctx.attr_int("hidden_size", 0)
        if hs < 1:
            raise Invalid(f"hidden_size must be >= 1, got {hs}")
        hidden: Expr = const(hs)
    else:
        hidden = r[2]
    gh = hidden * gates
    _dims(ctx, "W", w, (nd, gh, input_size), ("num_directions", f"{gates}*hidden_size", "input_size"))
    _dims(ctx, "R", r, (nd, gh, hidden), ("num_directions", f"{gates}*hidden_size", "hidden_size"))
    if ctx.has(3):
        _dims(ctx, "B", ctx.shape(3), (nd, gh * 2), ("num_directions", f"{2 * gates}*hidden_size"))
    if ctx.has(4):
        _dims(ctx, "sequence_lens", ctx.shape(4), (batch,), ("batch_size",))
        lens = ctx.fact(4).const_ints()
        if lens:
            if min(lens) < 0:
                raise Invalid(f"sequence_lens has a negative length {min(lens)}")
            longest = max(lens)
            ctx.require(
                ge(seq, longest),
                "GC010",
                "sequence_lens fit in X's sequence axis",
                formula=f"seq_length {seq} must be >= {longest} (the longest of sequence_lens)",
                fix=f"feed at least {longest} steps, or shorten sequence_lens",
            )
    state = (batch, nd, hidden) if layout else (nd, batch, hidden)
    state_labels = (
        ("batch_size", "num_directions", "hidden_size") if layout else ("num_directions", "batch_size", "hidden_size")
    )
    if ctx.has(5):
        _dims(ctx, "initial_h", ctx.shape(5), state, state_labels)
    if op == "LSTM":
        if ctx.has(6):
            _dims(ctx, "initial_c", ctx.shape(6), state, state_labels)
        if ctx.has(7):
            _dims(ctx, "P", ctx.shape(7), (nd, hidden * 3), ("num_directions", "3*hidden_size"))
    dtype = ctx.fact(0).dtype
    y = (batch, seq, nd, hidden) if layout else (seq, nd, batch, hidden)
    outs = [Fact(y, dtype), Fact(state, dtype)]
    if op == "LSTM":
        outs.append(Fact(state, dtype))
    return outs


@rule("RNN", "GRU", "LSTM", since=1)
def recurrent(ctx: OpContext) -> list[Fact]:
    return _recurrent(ctx)

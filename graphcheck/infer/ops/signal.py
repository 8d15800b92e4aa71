"""Signal processing: DFT, STFT, HannWindow/HammingWindow/BlackmanWindow, MelWeightMatrix.

* DFT: the input is ``[..., signal axes ..., 1 or 2]`` (real or complex, GC010). The transformed
  axis (opset 17: attribute ``axis``, default 1; opset 20: input ``axis``, default -2; never the
  last axis) becomes ``n = dft_length`` (default: its size) for a full transform,
  ``floor(n/2) + 1`` for a one-sided forward transform (RFFT, real input only), and ``n`` with
  ``n = dft_length`` or ``2*(size - 1)`` for the one-sided inverse (IRFFT, complex input only,
  real output ``[..., 1]``). Every other output is complex (last axis 2).
* STFT: ``signal (B, L, 1 or 2)``, a scalar ``frame_step``, an optional 1-D ``window`` and an optional
  scalar ``frame_length`` (they must agree, GC010; without both the frame is the whole signal).
  ``frames = floor((L - frame_length) / frame_step) + 1`` must be >= 1 (the signal holds at least
  one frame: GC002); the output is ``(B, frames, bins, 2)`` with ``bins = floor(frame_length/2) + 1``
  when onesided (real input only) and ``frame_length`` otherwise.
* Windows: ``(size,)`` from the scalar input's value; MelWeightMatrix:
  ``(floor(dft_length/2) + 1, num_mel_bins)`` from its inputs' values.

onnxruntime (1.32) deviations, checked with tests/ortprobe.py (``semantics="ort"`` reproduces them):
its one-sided forward DFT and one-sided STFT also take complex input (same output sizes), and its
STFT fails when neither a window nor a frame_length is given. (It also rejects, from the values,
a MelWeightMatrix whose upper edge falls past the last bin, e.g. the Nyquist frequency with an
odd dft_length; that is a condition on values, not sizes.)
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._xutil import lazy, one_of, require_eq, scalar_value
from graphcheck.infer.registry import Invalid, OpContext, Unsupported, rule
from graphcheck.symbolic.cond import ge
from graphcheck.symbolic.expr import Expr, const, floordiv

FLOAT = 1
ONE, TWO = const(1), const(2)


def _dft(ctx: OpContext, axis: int) -> list[Fact]:
    x = ctx.shape(0)
    r = len(x)
    if r < 2:
        raise Invalid(f"DFT needs an input of rank >= 2 ([..., signal, 1 or 2]), got rank {r}")
    a = axis + r if axis < 0 else axis
    if not 0 <= a <= r - 2:
        raise Invalid(f"DFT axis {axis} is out of range for rank {r} (the last axis holds real/imaginary parts)")
    inverse = bool(ctx.attr_int("inverse", 0))
    onesided = bool(ctx.attr_int("onesided", 0))
    last = x[-1]
    ort = ctx.semantics == "ort"
    if onesided and not inverse and not ort:
        require_eq(
            ctx,
            last,
            ONE,
            "GC010",
            "last axis (real input)",
            "a one-sided forward DFT (RFFT) takes real input [..., 1]",
        )
    elif onesided and inverse:
        require_eq(
            ctx,
            last,
            TWO,
            "GC010",
            "last axis (complex input)",
            "a one-sided inverse DFT (IRFFT) takes complex input [..., 2]",
        )
    else:
        one_of(
            ctx,
            last,
            [ONE, TWO],
            "GC010",
            "last axis (real or complex)",
            "the last axis holds 1 (real) or 2 (real, imaginary)",
        )
    size = x[a]
    if ctx.has(1):
        n = scalar_value(ctx, 1, "dft_length")
        if n.is_const and n.value < 1:
            raise Invalid(f"dft_length must be >= 1, got {n.value}")
    elif onesided and inverse:
        n = (size - 1) * 2
    else:
        n = size
    out = list(x)
    if onesided and not inverse:
        out[a] = floordiv(n, 2) + 1
    else:
        out[a] = n
    out[-1] = ONE if (onesided and inverse) else TWO
    return [Fact(tuple(out), ctx.fact(0).dtype)]


@rule("DFT", since=17)
def dft_17(ctx: OpContext) -> list[Fact]:
    return _dft(ctx, ctx.attr_int("axis", 1))


@rule("DFT", since=20)
def dft_20(ctx: OpContext) -> list[Fact]:
    axis = -2
    if ctx.has(2):
        v = scalar_value(ctx, 2, "axis")
        if not v.is_const:
            raise Unsupported("DFT's axis input depends on the input sizes")
        axis = v.value
    return _dft(ctx, axis)


@rule("STFT", since=17)
def stft(ctx: OpContext) -> list[Fact]:
    x = ctx.shape(0)
    if len(x) != 3:
        raise Invalid(f"STFT needs a signal of rank 3 (batch, length, 1 or 2), got rank {len(x)}")
    b, length, last = x
    onesided = bool(ctx.attr_int("onesided", 1))
    ort = ctx.semantics == "ort"
    if onesided and not ort:
        require_eq(
            ctx, last, ONE, "GC010", "signal last axis (real input)", "a one-sided STFT takes a real signal [..., 1]"
        )
    else:
        one_of(
            ctx,
            last,
            [ONE, TWO],
            "GC010",
            "signal last axis (real or complex)",
            "the last axis is 1 (real) or 2 (complex)",
        )
    step = scalar_value(ctx, 1, "frame_step")
    if not step.is_const:
        raise Unsupported("STFT's frame_step depends on the input sizes")
    if step.value < 1:
        raise Invalid(f"frame_step must be >= 1, got {step.value}")
    s = step.value
    window: Expr | None = None
    if ctx.has(2):
        w = ctx.shape(2)
        if len(w) != 1:
            raise Invalid(f"STFT's window must be 1-D, got rank {len(w)}")
        window = w[0]
    if ctx.has(3):
        frame = scalar_value(ctx, 3, "frame_length")
        if frame.is_const and frame.value < 1:
            raise Invalid(f"frame_length must be >= 1, got {frame.value}")
        if window is not None:
            require_eq(
                ctx, window, frame, "GC010", "window length vs frame_length", "the window must be frame_length long"
            )
    elif window is not None:
        frame = window
    elif ort:
        raise Invalid("onnxruntime's STFT needs a window or a frame_length")
    else:
        frame = length
    frames = floordiv(length - frame, s) + 1
    ctx.require(
        ge(frames, 1),
        "GC002",
        "frames (axis 1)",
        formula=lazy("floor(({} - {}) / {}) + 1", length, frame, s),
        value=frames,
        fix=f"the signal must hold at least one frame: length >= frame length {frame}",
    )
    bins = floordiv(frame, 2) + 1 if onesided else frame
    return [Fact((b, frames, bins, TWO), ctx.fact(0).dtype)]


@rule("HannWindow", "HammingWindow", "BlackmanWindow", since=17)
def window(ctx: OpContext) -> list[Fact]:
    size = scalar_value(ctx, 0, "size")
    if size.is_const and size.value < 0:
        raise Invalid(f"window size must be >= 0, got {size.value}")
    return [Fact((size,), ctx.attr_int("output_datatype", FLOAT))]


@rule("MelWeightMatrix", since=17)
def mel_weight_matrix(ctx: OpContext) -> list[Fact]:
    bins = scalar_value(ctx, 0, "num_mel_bins")
    n = scalar_value(ctx, 1, "dft_length")
    for v, what in ((bins, "num_mel_bins"), (n, "dft_length")):
        if v.is_const and v.value < 1:
            raise Invalid(f"{what} must be >= 1, got {v.value}")
    return [Fact((floordiv(n, 2) + 1, bins), ctx.attr_int("output_datatype", FLOAT))]

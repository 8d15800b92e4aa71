"""RNN, GRU, LSTM: output shapes for every layout/direction, the consistency conditions,
and agreement with onnxruntime (layout 0 with hidden_size: the only form its CPU kernels run)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from graphcheck.symbolic.expr import const
from tests.infer.ops._mrc import (
    S,
    codes_failing,
    differential,
    grid,
    holds_all,
    init,
    make_model,
    run,
    shape_of,
    weight,
)

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
HIDDEN = 5


def _rnn(
    op: str,
    direction: str = "forward",
    layout: int = 0,
    hidden_attr: bool = True,
    input_size: int = 3,
    nd_weights: int | None = None,
    extra_inputs: dict[str, np.ndarray | tuple[list[int | str], int]] | None = None,
    opset: int = 14,
) -> onnx.ModelProto:
    g = GATES[op]
    nd = 2 if direction == "bidirectional" else 1
    ndw = nd if nd_weights is None else nd_weights
    inits = [
        weight("W", (ndw, g * HIDDEN, input_size)),
        weight("R", (ndw, g * HIDDEN, HIDDEN)),
        weight("B", (ndw, 2 * g * HIDDEN)),
    ]
    names = ["x", "W", "R", "B"]
    x_dims: list[int | str] = ["N", "T", "I"] if layout else ["T", "N", "I"]
    inputs: list[tuple[str, list[int | str], int]] = [("x", x_dims, TensorProto.FLOAT)]
    for i, (name, spec) in enumerate((extra_inputs or {}).items()):
        while len(names) < 4 + i:
            names.append("")
        names.append(name)
        if isinstance(spec, np.ndarray):
            inits.append(init(name, spec, spec.dtype))
        else:
            dims, dtype = spec
            inputs.append((name, dims, dtype))
    outs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    attrs: dict[str, Any] = {"direction": direction}
    if hidden_attr:
        attrs["hidden_size"] = HIDDEN
    if opset >= 14:
        attrs["layout"] = layout
    node = helper.make_node(op, names, outs, name="rnn", **attrs)
    return make_model([node], inputs, outs, inits, opset=opset)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_shapes_layout0(op: str) -> None:
    a = run(_rnn(op, direction="bidirectional"))
    T, N = S("T"), S("N")
    assert shape_of(a, "Y") == (T, const(2), N, const(HIDDEN))
    assert shape_of(a, "Y_h") == (const(2), N, const(HIDDEN))
    if op == "LSTM":
        assert shape_of(a, "Y_c") == (const(2), N, const(HIDDEN))
    [r] = [r for r in a.requirements if r.code == "GC010"]
    assert r.formula == "3 must equal I"
    assert "input size" in r.fix
    assert holds_all(a, {"T": 2, "N": 2, "I": 3}) and codes_failing(a, {"T": 2, "N": 2, "I": 4}) == {"GC010"}


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_shapes_layout1_and_hidden_from_r(op: str) -> None:
    a = run(_rnn(op, layout=1, hidden_attr=False))
    T, N = S("T"), S("N")
    assert shape_of(a, "Y") == (N, T, const(1), const(HIDDEN))
    assert shape_of(a, "Y_h") == (N, const(1), const(HIDDEN))


def test_opset1_has_no_layout() -> None:
    a = run(_rnn("LSTM", opset=7))
    assert shape_of(a, "Y") == (S("T"), const(1), S("N"), const(HIDDEN))


def test_weights_for_the_wrong_direction_count_are_invalid() -> None:
    a = run(_rnn("GRU", direction="bidirectional", nd_weights=1))
    assert any(r.code == "GC010" and str(r.cond) == "false" and "num_directions" in r.what for r in a.requirements)


def test_sequence_lens_and_initial_state() -> None:
    lens = np.array([2, 4, 3], dtype=np.int32)
    a = run(_rnn("LSTM", extra_inputs={"seq_lens": lens, "h0": (["D", "NB", "H"], TensorProto.FLOAT)}))
    base = {"T": 4, "N": 3, "I": 3, "D": 1, "NB": 3, "H": HIDDEN}
    assert holds_all(a, base)
    assert codes_failing(a, {**base, "T": 3}) == {"GC010"}  # the longest sequence is 4
    assert codes_failing(a, {**base, "N": 2, "NB": 2}) == {"GC010"}  # sequence_lens has 3 entries
    assert codes_failing(a, {**base, "NB": 2}) == {"GC010"}  # initial_h batch differs from X's
    assert codes_failing(a, {**base, "H": 4}) == {"GC010"}


def test_differential_against_onnxruntime() -> None:
    cases = []
    for op in ("RNN", "GRU", "LSTM"):
        for direction in ("forward", "bidirectional"):
            h0: tuple[list[int | str], int] = (["D", "NB", "H"], TensorProto.FLOAT)
            extra: dict[str, np.ndarray | tuple[list[int | str], int]] = {"h0": h0}
            if op == "LSTM":
                extra = {"seq": (["NS"], TensorProto.INT32), "h0": h0}
            m = _rnn(op, direction=direction, extra_inputs=extra)
            names = ["T", "N", "I", "D", "NB"] + (["NS"] if op == "LSTM" else [])
            envs = [{**e, "H": HIDDEN} for e in grid(names, [1, 2, 3])]
            envs += [
                {"T": 2, "N": 2, "I": 3, "D": 2 if direction == "bidirectional" else 1, "NB": 2, "NS": 2, "H": h}
                for h in (4, 5)
            ]
            cases.append((m, envs))
    checked, ran, bad = differential(cases)
    assert not bad, bad[:10]
    assert ran >= 20 and checked - ran > 100

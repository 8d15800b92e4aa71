"""Float arithmetic on sizes (graphcheck.infer.ops._floats) against onnxruntime.

Each model computes a pad amount ``t`` from the length ``L`` the way exporters do (in float, then
``Cast`` back to int64) and pads ``x`` by it: the output length ``L + t`` at every probed size is
the value graphcheck derived, compared with what onnxruntime computes, up to sizes where float32
rounding decides (``10 * 0.7f`` is 7.0) and at the multiples where it would cross an integer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper

import graphcheck
from tests.infer.ops._elemtest import I64, F, differential, init, make_model

DOUBLE, HALF = 11, 10


def node(op: str, ins: list[str], outs: list[str], **attrs: Any) -> onnx.NodeProto:
    return helper.make_node(op, ins, outs, **attrs)


def _pad_by(ops: list[onnx.NodeProto], inits: list[onnx.TensorProto]) -> onnx.ModelProto:
    """x: (N, L, 1); l = float(L) (float32); ops compute the int64 scalar ``t``; y = Pad(x) by t at
    the end of axis 1."""
    head = [
        node("Shape", ["x"], ["s"]),
        node("Gather", ["s", "one"], ["li"], axis=0),
        node("Cast", ["li"], ["l"], to=F),
    ]
    tail = [
        node("Unsqueeze", ["t", "zero"], ["tv"]),
        node("Concat", ["z4", "tv", "z1"], ["pads"], axis=0),
        node("Pad", ["x", "pads"], ["y"]),
    ]
    consts = [init("one", np.array(1, np.int64)), init("zero", [0]), init("z4", [0, 0, 0, 0]), init("z1", [0])]
    return make_model(head + ops + tail, {"x": ["N", "L", 1]}, ["y"], consts + inits, opset=17)


def _f(name: str, v: float, dtype: Any = np.float32) -> onnx.TensorProto:
    return init(name, v, dtype)


CHAINS = {
    # MobileViT: int(ceil(L / 2) * 2) - L
    "ceil_half": (
        [
            node("Div", ["l", "two"], ["q"]),
            node("Ceil", ["q"], ["c"]),
            node("Mul", ["c", "two"], ["m"]),
            node("Cast", ["m"], ["mi"], to=I64),
            node("Sub", ["mi", "li"], ["t"]),
        ],
        [_f("two", 2.0)],
    ),
    # interpolate(scale_factor=0.7, recompute_scale_factor=True), legacy: floor(L * 0.7f)
    "floor_07": (
        [node("Mul", ["l", "k"], ["p"]), node("Floor", ["p"], ["fl"]), node("Cast", ["fl"], ["t"], to=I64)],
        [_f("k", 0.7)],
    ),
    # the dynamo exporter's trunc: int(L * 0.35f)
    "trunc_035": ([node("Mul", ["l", "k"], ["p"]), node("Cast", ["p"], ["t"], to=I64)], [_f("k", 0.35)]),
    # EnCodec: ceil((L - 7 + 6) / 3 + 1) - 1
    "encodec": (
        [
            node("Sub", ["l", "one_f"], ["a"]),
            node("Div", ["a", "three"], ["q"]),
            node("Add", ["q", "one_f"], ["q1"]),
            node("Ceil", ["q1"], ["c"]),
            node("Cast", ["c"], ["t"], to=I64),
        ],
        [_f("one_f", 1.0), _f("three", 3.0)],
    ),
    # round half to even of L / 4 (ties at L = 2 mod 4) and of L / 3
    "round_quarter": (
        [node("Div", ["l", "four"], ["q"]), node("Round", ["q"], ["r"]), node("Cast", ["r"], ["t"], to=I64)],
        [_f("four", 4.0)],
    ),
    "round_third": (
        [node("Div", ["l", "three"], ["q"]), node("Round", ["q"], ["r"]), node("Cast", ["r"], ["t"], to=I64)],
        [_f("three", 3.0)],
    ),
    # fmod(L, 5) and max(floor(L / 3), 4)
    "fmod": ([node("Mod", ["l", "five"], ["r"], fmod=1), node("Cast", ["r"], ["t"], to=I64)], [_f("five", 5.0)]),
    "max_floor": (
        [
            node("Div", ["l", "three"], ["q"]),
            node("Floor", ["q"], ["fl"]),
            node("Max", ["fl", "four"], ["mx"]),
            node("Cast", ["mx"], ["t"], to=I64),
        ],
        [_f("three", 3.0), _f("four", 4.0)],
    ),
    # 10 - L / 4 (negative: Pad crops), in double
    "double_sub": (
        [
            node("Cast", ["l"], ["d"], to=DOUBLE),
            node("Div", ["d", "four"], ["q"]),
            node("Sub", ["ten", "q"], ["u"]),
            node("Floor", ["u"], ["fl"]),
            node("Cast", ["fl"], ["t"], to=I64),
        ],
        [_f("four", 4.0, np.float64), _f("ten", 10.0, np.float64)],
    ),
    # float16 holds the integers up to 2048: 2 * L there
    "half": (
        [
            node("Cast", ["li"], ["h"], to=HALF),
            node("Mul", ["h", "two"], ["p"]),
            node("Cast", ["p"], ["t"], to=I64),
        ],
        [_f("two", 2.0, np.float16)],
    ),
}

LENGTHS = [*range(1, 41), 99, 100, 101, 1000, 1001, 1002, 2047, 2048, 4095, 4096, 9999, 10000]

f32, f64 = np.float32, np.float64
# the same chains in numpy, for lengths too long to feed onnxruntime (its probe worker is memory-capped)
NUMPY = {
    "ceil_half": lambda n: int(np.ceil(f32(n) / f32(2)) * f32(2)) - n,
    "floor_07": lambda n: int(np.floor(f32(n) * f32(0.7))),
    "trunc_035": lambda n: int(f32(n) * f32(0.35)),
    "encodec": lambda n: int(np.ceil((f32(n) - f32(1)) / f32(3) + f32(1))),
    "round_quarter": lambda n: int(np.rint(f32(n) / f32(4))),
    "round_third": lambda n: int(np.rint(f32(n) / f32(3))),
    "fmod": lambda n: int(np.fmod(f32(n), f32(5))),
    "max_floor": lambda n: int(np.maximum(np.floor(f32(n) / f32(3)), f32(4))),
    "double_sub": lambda n: int(np.floor(f64(10) - f64(n) / f64(4))),
    "half": lambda n: int(np.float16(n) * np.float16(2)),
}


def test_float_chains_agree_with_onnxruntime() -> None:
    cases = []
    for name, (ops, inits) in CHAINS.items():
        sizes = [{"N": 1, "L": n} for n in LENGTHS if name != "half" or n <= 2048]
        cases.append((_pad_by(ops, inits), sizes))
    checked, ran, bad = differential(cases)
    assert not bad, bad[:5]
    assert ran > 0.9 * checked


def test_long_lengths_agree_with_numpy() -> None:
    """Up to the proven bounds (and past them: unknown), the pad graphcheck derives is numpy's."""
    rng = np.random.default_rng(0)
    for name, (ops, inits) in CHAINS.items():
        r = graphcheck.check(_pad_by(ops, inits))
        ns = [
            *rng.integers(1, 2049, 10).tolist(),
            *rng.integers(1, 2 * 10**6, 30).tolist(),
            *rng.integers(1, 2**24, 10).tolist(),
            2**24,
            2**24 + 1,
            1864135,
            1864136,
            8388606,
            2047,
            2048,
            2049,
        ]
        decided = 0
        for n in ns:
            ok = r.accepts({"N": 1, "L": n})
            if ok is None:
                continue
            decided += 1
            want = n + NUMPY[name](n)
            assert ok == (want >= 1), (name, n)
            if ok:
                assert r.at({"N": 1, "L": n}).outputs["y"] == (1, want, 1), (name, n)
        assert decided >= 10, name


def test_float_bounds_are_stated() -> None:
    """Past the proven bound the answer is unknown (GC110) and the report says where that starts."""
    r = graphcheck.check(_pad_by(*CHAINS["floor_07"]))
    assert r.followed and not r.complete
    assert r.accepts({"N": 1, "L": 1864135}) is True and r.accepts({"N": 1, "L": 1864136}) is None
    assert "unknown for L >= 1864136" in r.valid and "float32 arithmetic on sizes" in r.valid
    assert [d.code for d in r.diagnostics if d.code == "GC110"] == ["GC110"]
    half = graphcheck.check(_pad_by(*CHAINS["half"]))
    assert half.accepts({"N": 1, "L": 2048}) is True and half.accepts({"N": 1, "L": 2049}) is None

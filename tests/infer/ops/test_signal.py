"""DFT (opsets 17 and 20), STFT, window functions, MelWeightMatrix: exact shapes and conditions,
checked against onnxruntime and the ONNX reference implementation over grids of sizes."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

import graphcheck
from graphcheck.symbolic.expr import floordiv, sym
from tests.infer.ops._mrc import S, codes_failing, holds_all, init, make_model, run, shape_of
from tests.infer.ops._xref import against_ort, against_reference

F = TensorProto.FLOAT


def _dft(
    opset: int, dims: list[int | str], dft_length: int | None = None, axis: int | None = None, **attrs: Any
) -> onnx.ModelProto:
    ins, inits = ["x", ""], []
    if dft_length is not None:
        ins[1] = "n"
        inits.append(init("n", np.int64(dft_length), np.int64))
    if axis is not None:
        if opset >= 20:
            ins.append("ax")
            inits.append(init("ax", np.int64(axis), np.int64))
        else:
            attrs["axis"] = axis
    return make_model([helper.make_node("DFT", ins, ["y"], **attrs)], {"x": dims}, ["y"], inits, opset=opset)


def _stft(step: int, window: int | None, frame: int | None, onesided: int = 1) -> onnx.ModelProto:
    ins, inits = ["x", "st"], [init("st", np.int64(step), np.int64)]
    ins.append("w" if window else "")
    if window:
        inits.append(init("w", np.ones(window), np.float32))
    if frame:
        ins.append("fl")
        inits.append(init("fl", np.int64(frame), np.int64))
    return make_model(
        [helper.make_node("STFT", ins, ["y"], onesided=onesided)], {"x": [1, "L", "C"]}, ["y"], inits, opset=17
    )


def test_dft_output_sizes() -> None:
    L = S("L")
    assert shape_of(run(_dft(20, ["B", "L", 1])), "y") == (S("B"), L, 2)
    assert shape_of(run(_dft(20, ["B", "L", 1], onesided=1)), "y") == (S("B"), floordiv(L, 2) + 1, 2)
    assert shape_of(run(_dft(20, ["B", "L", 2], 9, onesided=1, inverse=1)), "y") == (S("B"), 9, 1)
    assert shape_of(run(_dft(20, ["B", "L", 2], onesided=1, inverse=1)), "y") == (S("B"), 2 * L - 2, 1)
    assert shape_of(run(_dft(17, ["B", "L", "M", 2])), "y") == (S("B"), L, S("M"), 2)  # opset 17: axis 1
    assert shape_of(run(_dft(17, ["B", "L", "M", 2], axis=2)), "y") == (S("B"), L, S("M"), 2)
    assert shape_of(run(_dft(20, ["B", "L", "M", 2], 6, axis=1)), "y") == (S("B"), 6, S("M"), 2)
    a = run(_dft(20, ["B", "L", "C"], onesided=1))
    assert holds_all(a, {"B": 1, "L": 4, "C": 1}) and codes_failing(a, {"B": 1, "L": 4, "C": 2}) == {"GC010"}
    assert holds_all(run(_dft(20, ["B", "L", "C"], onesided=1), "ort"), {"B": 1, "L": 4, "C": 2})
    bad_axis = run(_dft(20, ["B", "L", 1], axis=2))  # the last axis holds real/imaginary parts
    assert any(str(r.cond) == "false" for r in bad_axis.requirements)


def test_stft_frames_and_minimum_length() -> None:
    r = graphcheck.check(_stft(step=3, window=None, frame=8))
    L = sym("L")
    assert r.analysis.facts["y"].shape == (1, floordiv(L - 8, 3) + 1, 5, 2)
    frames = [x for x in r.analysis.requirements if x.code == "GC002" and "frames" in x.what]
    assert len(frames) == 1 and frames[0].formula == "floor((L - 8) / 3) + 1"
    assert [n for n in range(1, 12) if r.accepts({"L": n, "C": 1})] == list(range(8, 12))
    assert r.accepts({"L": 9, "C": 2}) is False  # onesided takes a real signal
    w = run(_stft(step=2, window=4, frame=5, onesided=0))
    assert codes_failing(w, {"L": 9, "C": 1}) == {"GC010"}  # window length 4 against frame_length 5
    whole = run(_stft(step=1, window=None, frame=None, onesided=0))  # the frame is the whole signal
    assert shape_of(whole, "y") == (1, 1, S("L"), 2)
    assert any(str(x.cond) == "false" for x in run(_stft(1, None, None), "ort").requirements)


def test_windows_and_mel_matrix_take_sizes_from_values() -> None:
    for op in ("HannWindow", "HammingWindow", "BlackmanWindow"):
        m = make_model(
            [helper.make_node(op, ["n"], ["y"], output_datatype=11)],
            {},
            ["y"],
            [init("n", np.int64(10), np.int64)],
            opset=17,
        )
        a = run(m)
        assert shape_of(a, "y") == (10,) and a.facts["y"].dtype == 11
    ins = [init("nb", np.int64(8), np.int64), init("dl", np.int64(15), np.int64), init("sr", np.int64(8000), np.int64),
           init("lo", np.float32(0)), init("hi", np.float32(3000))]  # fmt: skip
    m = make_model(
        [helper.make_node("MelWeightMatrix", ["nb", "dl", "sr", "lo", "hi"], ["y"])], {}, ["y"], ins, opset=17
    )
    assert shape_of(run(m), "y") == (8, 8)


def _cases() -> list[tuple[onnx.ModelProto, list[dict[str, int]]]]:
    cases = []
    envs = [dict(L=n, M=m, C=c) for n in (1, 2, 3, 6) for m in (3, 4) for c in (1, 2, 3)]
    for opset, inv, ones, dl, axis in itertools.product((17, 20), (0, 1), (0, 1), (None, 5, 8), (1, -2)):
        cases.append((_dft(opset, [2, "L", "M", "C"], dl, axis, inverse=inv, onesided=ones), envs))
    stft_envs = [dict(L=n, C=c) for n in range(1, 12) for c in (1, 2)]
    for ones, step, win, fl in itertools.product((0, 1), (1, 2, 3), (None, 4), (None, 4, 5)):
        cases.append((_stft(step, win, fl, ones), stft_envs))
    return cases


CASES = _cases()


def test_ort_semantics_agree_with_onnxruntime() -> None:
    n, bad = against_ort(CASES, semantics="ort")
    assert n > 1900
    assert not bad, "\n".join(bad[:20])


def test_spec_differs_from_onnxruntime_only_where_documented() -> None:
    _, bad = against_ort(CASES, semantics="spec")

    def documented(line: str) -> bool:
        complex_onesided = "'C': 2" in line and "ours False, ort True" in line  # ORT's one-sided also takes complex
        no_frame = line.startswith("ort STFT") and "ours True, ort False" in line  # ORT needs window or frame_length
        return complex_onesided or no_frame

    assert bad and all(documented(b) for b in bad), "\n".join(b for b in bad if not documented(b))


def test_valid_sizes_run_in_the_reference_with_our_shapes() -> None:
    n, bad = against_reference(CASES)
    assert n > 1900
    # the reference is looser (e.g. it takes complex input for a one-sided STFT); whatever we accept runs
    assert not [b for b in bad if "ours False, reference True" not in b], "\n".join(bad[:10])

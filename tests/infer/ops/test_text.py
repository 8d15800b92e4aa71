"""StringSplit, StringNormalizer, StringConcat, RegexFullMatch, TfIdfVectorizer, ImageDecoder:
exact shapes where the spec fixes them, fresh data-dependent sizes (GC104) where the data decide,
checked against onnxruntime (run in-process: these kernels take string tensors)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper

import graphcheck
from graphcheck.symbolic.expr import emax
from tests.infer.ops._mrc import S, codes_failing, holds_all, make_model, run, shape_of

STR, I64, U8 = TensorProto.STRING, TensorProto.INT64, TensorProto.UINT8


def _ort(m: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> tuple[bool, list[tuple[int, ...]]]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4
    try:
        sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
        return True, [tuple(np.shape(o)) for o in sess.run(None, dict(feeds))]
    except Exception:
        return False, []


def _strings(shape: tuple[int, ...]) -> np.ndarray:
    return np.array(["a b", "c", "d e f"] * (int(np.prod(shape)) // 3 + 1), dtype=object)[
        : int(np.prod(shape))
    ].reshape(shape)


def test_string_concat_broadcasts_like_onnxruntime() -> None:
    ins: list[tuple[str, Sequence[int | str], int]] = [("x", ["A", 3], STR), ("y", ["B", "C"], STR)]
    m = make_model([helper.make_node("StringConcat", ["x", "y"], ["z"])], ins, [("z", STR)], opset=20)
    a = run(m)
    assert shape_of(a, "z") == (emax(S("A"), S("B")), 3)
    rep = graphcheck.check(m)
    for av, bv, cv in itertools.product((1, 2, 4), (1, 2, 4), (1, 3, 4)):
        env = {"A": av, "B": bv, "C": cv}
        ok, shapes = _ort(m, {"x": _strings((av, 3)), "y": _strings((bv, cv))})
        assert rep.accepts(env) == ok, env
        if ok:
            assert rep.at(env).outputs["z"] == shapes[0]
    assert codes_failing(a, {"A": 2, "B": 4, "C": 3}) == {"GC003"}


def test_regex_tfidf_normalizer_shapes_match_onnxruntime() -> None:
    rx = make_model([helper.make_node("RegexFullMatch", ["x"], ["y"], pattern="a.*")], [("x", ["N", "M"], STR)],
                    [("y", TensorProto.BOOL)], opset=20)  # fmt: skip
    tfidf = helper.make_node(
        "TfIdfVectorizer",
        ["x"],
        ["y"],
        mode="TF",
        min_gram_length=1,
        max_gram_length=2,
        max_skip_count=0,
        ngram_counts=[0, 3],
        ngram_indexes=[0, 1, 2, 6, 4],
        pool_int64s=[2, 3, 5, 2, 3, 5, 7],
    )
    tf = make_model([tfidf], [("x", ["N", "M"], I64)], ["y"], opset=20)
    sn = make_model(
        [helper.make_node("StringNormalizer", ["x"], ["y"])], [("x", [1, "M"], STR)], [("y", STR)], opset=20
    )
    assert shape_of(run(rx), "y") == (S("N"), S("M"))
    assert shape_of(run(tf), "y") == (S("N"), 7)
    assert shape_of(run(sn), "y") == (1, S("M"))
    for n, mm in itertools.product((1, 2, 3), (1, 4)):
        for model, feed in ((rx, _strings((n, mm))), (tf, np.full((n, mm), 2, np.int64))):
            ok, shapes = _ort(model, {"x": feed})
            assert ok and graphcheck.check(model).at({"N": n, "M": mm}).outputs["y"] == shapes[0]
        ok, shapes = _ort(sn, {"x": _strings((1, mm))})
        assert ok and graphcheck.check(sn).at({"M": mm}).outputs["y"] == shapes[0]
    sn2 = make_model(
        [helper.make_node("StringNormalizer", ["x"], ["y"])], [("x", ["R", "M"], STR)], [("y", STR)], opset=20
    )
    assert codes_failing(run(sn2), {"R": 2, "M": 3}) == {"GC010"}  # [C] or [1, C] only
    assert holds_all(run(sn2), {"R": 1, "M": 3})


def test_data_dependent_sizes_are_fresh_unknowns() -> None:
    ss = make_model([helper.make_node("StringSplit", ["x"], ["y", "z"], delimiter=" ")], [("x", ["N"], STR)],
                    [("y", STR), ("z", I64)], opset=20)  # fmt: skip
    a = run(ss)
    y, z = shape_of(a, "y"), shape_of(a, "z")
    assert z == (S("N"),) and y is not None and y[0] == S("N") and y[1].has_opaque()
    assert [n.code for n in a.notes] == ["GC104"] and a.complete
    ok, shapes = _ort(ss, {"x": _strings((5,))})
    assert ok and shapes == [(5, 3), (5,)]  # the 3 comes from the data
    sn = make_model([helper.make_node("StringNormalizer", ["x"], ["y"], stopwords=["c"])], [("x", ["M"], STR)],
                    [("y", STR)], opset=20)  # fmt: skip
    y = shape_of(run(sn), "y")
    assert y is not None and len(y) == 1 and y[0].has_opaque()
    im = make_model([helper.make_node("ImageDecoder", ["s"], ["y"], pixel_format="Grayscale")], [("s", ["B"], U8)],
                    [("y", U8)], opset=20)  # fmt: skip
    y = shape_of(run(im), "y")
    assert y is not None and y[0].has_opaque() and y[1].has_opaque() and y[2] == 1

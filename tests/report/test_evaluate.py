"""The model at given sizes: sizes that cannot be fed, and nodes followed for other sizes only."""

from __future__ import annotations

import json

import graphcheck


def test_sizes_contradicting_a_fixed_dim_fail_with_the_reason() -> None:
    r = graphcheck.check("fixtures/toy.onnx")
    ev = r.at({"signal:2": 3, "unk__68": 12})
    assert ev.ok is False and ev.failures == []
    assert ev.refused == "signal:2 is fixed to 1 in the model, not 3"
    text = r.explain({"signal:2": 3, "unk__68": 12})
    assert text.splitlines()[-1].endswith("FAILS: signal:2 is fixed to 1 in the model, not 3")
    assert r.accepts({"signal:2": 3, "unk__68": 12}) is False
    ev0 = r.at({"unk__68": 0})
    assert ev0.ok is False and ev0.first_failure is not None  # 0 is a size the first conv refuses
    assert graphcheck.check("fixtures/toy.onnx").at({"unk__68": 9}).refused == ""


def test_json_says_why_sizes_are_refused_or_unknown() -> None:
    from graphcheck.render.json import evaluation_dict

    r = graphcheck.check("fixtures/toy.onnx")
    d = evaluation_dict(r.at({"signal:2": 3, "unk__68": 12}))
    assert d["ok"] is False and d["refused"].startswith("signal:2 is fixed") and d["not_followed"] is None
    json.dumps(d)

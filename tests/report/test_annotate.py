"""``report.annotate``: what is written for each value (expressions, integers at sizes, data-dependent
names, unset dims with a reason), the metadata, and the inputs. Checked against onnxruntime over the
fixtures and the zoo in tests/test_annotate_ort.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import graphcheck
from graphcheck.errors import UsageError
from graphcheck.report.annotate import AnnotateRefused
from graphcheck.symbolic.dimtext import evaluate
from tests.infer.ops._shapekit import const_init, make_model
from tests.infer.test_known import gather_loose_bounds_partly_inside
from tests.models import toy
from tests.ortprobe import expose_all, probe

ROOT = Path(__file__).resolve().parent.parent.parent


def _dims(vi: onnx.ValueInfoProto) -> list[int | str | None]:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in vi.type.tensor_type.shape.dim]


def _written(path: Path) -> tuple[dict[str, list[int | str | None]], dict[str, str], onnx.ModelProto]:
    m = onnx.load(str(path))
    shapes = {vi.name: _dims(vi) for vi in list(m.graph.value_info) + list(m.graph.output)}
    return shapes, {p.key: p.value for p in m.metadata_props}, m


def test_whisper_encoder_cases_are_written_as_expressions_that_hold_in_each(tmp_path: Path) -> None:
    """frames in {1, 2, 2999, 3000}: the conv's output is floor((frames + 1) / 2) (1 or 1500), added
    to a 1500-row table, so the sum has 1500 rows in every case; nothing merged as if equal."""
    r = graphcheck.check(ROOT / "fixtures" / "whisper_encoder.onnx")
    a = r.annotate(tmp_path / "w.onnx")
    shapes, meta, m = _written(tmp_path / "w.onnx")
    onnx.checker.check_model(m, full_check=True)
    assert shapes["/conv2/Conv_output_0"] == ["batch", 16, "floor((frames + 1) / 2)"]
    assert shapes["/Transpose_output_0"] == ["batch", "floor((frames + 1) / 2)", 16]
    assert shapes["/Add_2_output_0"] == shapes["features"] == ["batch", 1500, 16]
    assert a.full == len(a.values) == 21 and not a.plan.unknown
    assert meta["graphcheck.valid"] == r.valid and meta["graphcheck.exact"] == "true"
    assert meta["graphcheck.findings"] == "GC003,GC007"
    assert meta["graphcheck.version"] == graphcheck.__version__
    assert "floor(a / b)" in meta["graphcheck.grammar"]
    for frames in (1, 2, 2999, 3000):
        assert evaluate("floor((frames + 1) / 2)", {"frames": frames}) in (1, 1500)
    assert [vi.name for vi in m.graph.input] == ["mel"] and _dims(m.graph.input[0]) == ["batch", 8, "frames"]


def test_at_sizes_every_dim_is_an_integer(tmp_path: Path) -> None:
    src = tmp_path / "toy.onnx"
    onnx.save(toy(), src)  # signal[N, 2, L] -> conv k=7 -> conv k=3 stride 2
    r = graphcheck.check(src)
    a = r.annotate(tmp_path / "at.onnx", at={"signal:0": 3, "signal:2": 20})
    shapes, meta, _ = _written(tmp_path / "at.onnx")
    assert shapes == {"conv_a_out": [3, 2, 14], "conv_b_out": [3, 2, 6]} and a.full == 2
    assert meta["graphcheck.at"] == "N=3,L=20"
    # a free size left out stays symbolic (it is not 1 for every caller)
    r.annotate(tmp_path / "at2.onnx", at={"signal:2": 20})
    assert _written(tmp_path / "at2.onnx")[0] == {"conv_a_out": ["N", 2, 14], "conv_b_out": ["N", 2, 6]}
    with pytest.raises(AnnotateRefused, match="fails at"):
        r.annotate(tmp_path / "bad.onnx", at={"signal:2": 5})
    assert not (tmp_path / "bad.onnx").exists()


def test_dims_name_only_the_inputs_and_dim_renames_reach_the_inputs(tmp_path: Path) -> None:
    src = tmp_path / "toy.onnx"
    onnx.save(toy(), src)
    r = graphcheck.check(src, dims={"signal:2": "length"})
    a = r.annotate(tmp_path / "out.onnx")
    shapes, meta, m = _written(tmp_path / "out.onnx")
    assert _dims(m.graph.input[0]) == ["N", 2, "length"] and set(a.plan.inputs) == {"signal"}
    assert shapes == {"conv_a_out": ["N", 2, "length - 6"], "conv_b_out": ["N", 2, "floor((length - 7) / 2)"]}
    assert meta["graphcheck.dims"] == "signal:2=length"
    assert graphcheck.check(src).annotate(tmp_path / "plain.onnx").plan.inputs == {}  # inputs as they were


def _nonzero_model() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Greater", ["x", "zero"], ["mask"]),
        helper.make_node("NonZero", ["mask"], ["idx"], name="nz"),
        helper.make_node("Transpose", ["idx"], ["idx_t"], perm=[1, 0]),
        helper.make_node("Shape", ["idx"], ["sh"]),
        helper.make_node("Gather", ["sh", "one"], ["cnt"], axis=0),
        helper.make_node("Unsqueeze", ["cnt", "ax0"], ["cnt1"]),
        helper.make_node("Concat", ["cnt1", "one1"], ["target"], axis=0),
        helper.make_node("Cast", ["idx_t"], ["idx_f"], to=1),
        helper.make_node("Reshape", ["idx_f", "target"], ["r"], name="reshape"),
    ]
    inits = [const_init("zero", 0.0, np.float32), const_init("one", 1), const_init("ax0", [0]), const_init("one1", [1])]
    return make_model(nodes, {"x": ["N"]}, [("idx_t", TensorProto.INT64), "r"], inits)


def test_data_dependent_sizes_get_a_documented_name_never_a_guess(tmp_path: Path) -> None:
    m = _nonzero_model()
    r = graphcheck.check(m)
    a = r.annotate(tmp_path / "nz.onnx", model=m)
    shapes, meta, out = _written(tmp_path / "nz.onnx")
    onnx.checker.check_model(out, full_check=True)
    assert shapes["idx"] == [1, "data_nonzero_1"] and shapes["idx_t"] == ["data_nonzero_1", 1]
    assert meta["graphcheck.data.data_nonzero_1"].startswith("nz (NonZero): the output size is the number")
    assert shapes["r"] == [None, 1]  # the Reshape's own unknown: unset, with the reason in the doc_string
    assert "reshape (Reshape)" in next(vi.doc_string for vi in out.graph.output if vi.name == "r")
    assert a.full == len(a.values) - 1
    # onnxruntime: the dims sharing the name are one size, whatever the data
    res = probe(expose_all(out), [{"x": (7,)}])[0]
    assert res.ok
    names_out = [o.name for o in expose_all(out).graph.output]
    got = dict(zip(names_out, res.shapes))
    assert got["idx"][1] == got["idx_t"][0] == got["idx_f"][0]


def test_values_past_what_graphcheck_follows_are_not_claimed(tmp_path: Path) -> None:
    # an op without a rule: what it computes is left as the file has it (rank unknown)
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Mystery", ["a"], ["b"], domain="custom"),
        helper.make_node("Relu", ["b"], ["c"]),
    ]
    m = make_model(nodes, {"x": ["N", 4]}, ["c"])
    m.opset_import.append(helper.make_opsetid("custom", 1))
    m.graph.value_info.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", "exporters_own"]))
    r = graphcheck.check(m)
    a = r.annotate(tmp_path / "u.onnx", model=m)
    shapes, meta, _ = _written(tmp_path / "u.onnx")
    assert shapes["a"] == ["N", 4] and shapes["b"] == ["N", "exporters_own"]  # kept as it was
    assert set(a.plan.unknown) == {"b", "c"} and "Mystery" in a.plan.unknown["b"]
    assert meta["graphcheck.exact"] == "false" and "GC101" in meta["graphcheck.findings"]
    # a node followed for part of the sizes only (GC110): nothing claimed from it on
    m2 = gather_loose_bounds_partly_inside()
    r2 = graphcheck.check(m2)
    a2 = r2.annotate(tmp_path / "p.onnx", model=m2)
    out = a2.plan.shapes["out"]
    assert out.dims == (None, None) and "part of the sizes" in out.why[0]
    assert a2.plan.shapes["idx"].full


def test_models_from_memory_and_second_runs(tmp_path: Path) -> None:
    m = toy()
    r = graphcheck.check(m)
    with pytest.raises(UsageError, match="pass the model"):
        r.annotate(tmp_path / "x.onnx")
    r.annotate(tmp_path / "once.onnx", model=m)
    r.annotate(tmp_path / "bytes.onnx", model=m.SerializeToString())
    again = graphcheck.check(tmp_path / "once.onnx")
    again.annotate(tmp_path / "twice.onnx")
    # annotating an annotated file rewrites its entries in place: the same bytes
    assert (tmp_path / "once.onnx").read_bytes() == (tmp_path / "twice.onnx").read_bytes()
    assert (tmp_path / "once.onnx").read_bytes() == (tmp_path / "bytes.onnx").read_bytes()


def test_input_names_that_are_not_identifiers(tmp_path: Path) -> None:
    """An input's own dim name is written as is; an expression over a name the grammar cannot read
    is left unset, saying why (never a guess)."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Concat", ["x", "x"], ["b"], axis=1),
    ]
    m = make_model(nodes, {"x": ["batch", "past + 1"]}, ["a", "b"])
    a = graphcheck.check(m).annotate(tmp_path / "n.onnx", model=m)
    assert a.plan.shapes["a"].dims == ("batch", "past + 1")
    assert a.plan.shapes["b"].dims == ("batch", None)
    assert "the dim 'past + 1', whose name is not a name of the grammar" in a.plan.shapes["b"].why[0]


def test_external_weights_written_elsewhere_are_flagged(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    (tmp_path / "there").mkdir()
    src = tmp_path / "here" / "toy.onnx"
    onnx.save(toy(), src, save_as_external_data=True, location="toy.bin", size_threshold=0)
    r = graphcheck.check(src)
    assert not r.annotate(tmp_path / "here" / "out.onnx").moved_away_from_weights
    far = r.annotate(tmp_path / "there" / "out.onnx")
    assert far.moved_away_from_weights and far.written.external == ["toy.bin"]

"""A file's exporter-made size names (tf2onnx unk__N, torch.export sN, unnamed) are named as the front
ends name them, and the exporter's name stays an alias everywhere a size is named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from onnx import TensorProto, helper

import graphcheck
from graphcheck.model.dimnames import exporter_made

ROOT = Path(__file__).resolve().parent.parent.parent
FIX = ROOT / "fixtures"


def _model(inputs: list[tuple[str, int, list[int | str | None]]], producer: str = "") -> bytes:
    vis = [helper.make_tensor_value_info(n, t, dims) for n, t, dims in inputs]
    nodes = [helper.make_node("Identity", [n], [f"{n}_out"]) for n, _, _ in inputs]
    outs = [helper.make_tensor_value_info(f"{n}_out", t, None) for n, t, _ in inputs]
    m = helper.make_model(helper.make_graph(nodes, "g", vis, outs), producer_name=producer)
    return m.SerializeToString()


def test_exporter_names_are_recognized() -> None:
    assert all(exporter_made(n) for n in ("unk__68", "s77", "input_ids_dynamic_axes_1"))
    assert not any(exporter_made(n) for n in ("L", "batch", "seq_len", "s", "unk", "height"))


def test_the_quick_start_file_in_front_end_names_with_tf2onnx_aliases() -> None:
    rep = graphcheck.check(FIX / "toy.onnx")
    assert rep.symbols == ["batch", "signal_len"]
    assert rep.analysis.aliases == {"unk__67": "batch", "unk__68": "signal_len"}
    assert rep.valid == "signal_len >= 9   (batch: any >= 1)"
    text = str(rep)
    assert "unk__" not in text
    assert "length = signal_len - 6" in text  # tf2onnx's Unsqueeze -> Conv -> Squeeze is a 1-D conv
    assert "(axis 3)" not in text
    for key in ("unk__68", "signal_len", "signal:1"):  # every name of the size answers alike
        assert rep.accepts({key: 9}) is True and rep.accepts({key: 8}) is False
    assert rep.at({"unk__68": 5, "unk__67": 2}).sizes == {"batch": 2, "signal_len": 5}
    data = json.loads(json.dumps(rep.to_dict()))
    assert data["aliases"] == {"unk__67": "batch", "unk__68": "signal_len"}
    assert [(s["name"], s["aliases"]) for s in data["symbols"]] == [("batch", ["unk__67"]), ("signal_len", ["unk__68"])]


def test_dims_given_by_either_name() -> None:
    assert graphcheck.check(FIX / "toy.onnx", dims={"unk__68": "L"}).symbols == ["batch", "L"]
    assert graphcheck.check(FIX / "toy.onnx", dims={"signal_len": "L"}).symbols == ["batch", "L"]
    fixed = graphcheck.check(FIX / "toy.onnx", dims={"batch": 1})
    assert fixed.symbols == ["signal_len"] and fixed.inputs[0].dims == ("1", "signal_len", "1")
    renamed = graphcheck.check(FIX / "toy.onnx", dims={"unk__68": "L"})
    assert renamed.accepts({"unk__68": 9, "batch": 1}) is True  # the exporter's name still names it


def test_the_command_line_takes_the_exporter_name() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "graphcheck", *args], cwd=ROOT, capture_output=True, text=True)

    res = run("check", "fixtures/toy.onnx", "--at", "unk__68=5")
    assert res.returncode == 1, res.stderr
    assert "at signal_len=5 (batch=1, free): FAILS at conv_a" in res.stdout
    assert "feed signal_len = 9 (at least 9;" in res.stdout
    assert run("check", "fixtures/toy.onnx", "--at", "unk__68=9").returncode == 0
    assert run("gate", "fixtures/toy.onnx", "-r", "unk__68 in 9..100").returncode == 0


def test_torch_names_and_unnamed_sizes() -> None:
    dyn = graphcheck.check(FIX / "torch_conv1d_dynamo.onnx")
    assert dyn.symbols == ["batch", "signal_len"] and dyn.analysis.aliases == {"s77": "batch", "s53": "signal_len"}
    # channels first (axis 1 fixed, the last dynamic), one spatial axis: a length; 4-D: height and width
    data = _model([("x", TensorProto.FLOAT, [None, 3, None]), ("image", TensorProto.FLOAT, ["", 3, None, None])])
    rep = graphcheck.check(data)
    assert [i.dims for i in rep.inputs] == [("batch", "3", "x_len"), ("image_batch", "3", "image_h", "image_w")]
    assert rep.analysis.aliases == {}  # an unnamed size's other name is its address
    assert rep.accepts({"x:2": 4, "image:3": 7, "batch": 1, "image_batch": 1, "image:2": 2}) is True
    # channels last (the last axis fixed), token ids (rank 2, integer): a length
    last = graphcheck.check(_model([("seq", TensorProto.FLOAT, ["unk__1", "unk__2", 8])]))
    assert last.symbols == ["batch", "seq_len"]
    ids = graphcheck.check(_model([("input_ids", TensorProto.INT64, ["s0", "s1"])], producer="pytorch"))
    assert ids.symbols == ["batch", "input_ids_len"]


def test_a_person_s_names_are_kept_and_never_reused() -> None:
    data = _model([("a", TensorProto.FLOAT, ["batch", 3, "unk__5"]), ("b", TensorProto.FLOAT, ["unk__9", 3, "a_len"])])
    rep = graphcheck.check(data)
    assert [i.dims for i in rep.inputs] == [("batch", "3", "a_len_2"), ("b_batch", "3", "a_len")]
    # a name the user gives another size is not taken either
    given = graphcheck.check(data, dims={"b:2": "b_batch"})
    assert [i.dims for i in given.inputs] == [("batch", "3", "a_len_2"), ("b_batch_2", "3", "b_batch")]

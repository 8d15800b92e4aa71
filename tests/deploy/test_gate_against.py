"""Emitted artifacts parse with the real parsers and pass the gate; declarations of invalid sizes fail
it naming the size and the node (exit 1); malformed ones exit 2 with one line.

Triton's ``config.pbtxt`` is parsed by ``tritonclient.grpc.model_config_pb2`` (tritonclient[grpc],
pulled in by ``graphcheck[triton]``), the same protobuf the server reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import graphcheck
from graphcheck.cli import main
from graphcheck.gate.artifacts import read_declaration
from tests.ortprobe import probe

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures"
TYPES = {"signal": "TYPE_FP32", "image": "TYPE_FP32", "mel": "TYPE_FP32", "input_ids": "TYPE_INT64"}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.mark.parametrize("path", sorted(FIX.glob("*.onnx")), ids=lambda p: p.name)
def test_triton_config_parses_with_tritonclient_and_passes_the_gate(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    report = graphcheck.check(str(path))
    text = report.emit("triton")
    config = text_format.Parse(text, model_config_pb2.ModelConfig())
    assert config.platform == "onnxruntime_onnx" and config.name == path.stem
    for t, info in zip(config.input, report.inputs):
        assert t.name == info.name
        assert info.dims is not None
        assert list(t.dims) == [int(d) if d.isdigit() else -1 for d in info.dims]
        assert model_config_pb2.DataType.Name(t.data_type) == TYPES[t.name]
    assert [o.name for o in config.output] == list(report.output_dims)
    assert f"# valid: {report.valid.strip()}" in text
    cfg = tmp_path / "config.pbtxt"
    cfg.write_text(text)
    code, out, _ = _run(["gate", str(path), "--against", str(cfg)], capsys)
    expect = 1 if report.any_valid is False else 0
    assert code == expect, out
    for info in report.inputs:  # every -1 axis whose size is bounded is a warning naming its valid set
        for axis, d in enumerate(info.dims or ()):
            values = report.valid_set(d) if not d.isdigit() else None
            if values is not None and not values.is_full():
                assert f"{info.name}:{axis} is declared as any size (-1); only {values.describe(d)} is valid" in out


def test_triton_config_declaring_an_invalid_size_fails_naming_size_and_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = graphcheck.check(str(FIX / "toy.onnx")).emit("triton")
    cfg = tmp_path / "config.pbtxt"
    cfg.write_text(text.replace("dims: [ -1, -1, 1 ]", "dims: [ -1, 5, 1 ]"))
    code, out, _ = _run(["gate", str(FIX / "toy.onnx"), "--against", str(cfg)], capsys)
    assert code == 1
    assert "FAILS    " in out and "fails for signal_len = 5" in out
    assert "first failing layer: conv_a (Conv) [toy_1/conv_a_1/convolution]" in out
    # and onnxruntime agrees that the declared size fails there
    (r,) = probe(FIX / "toy.onnx", [{"signal": (1, 5, 1)}])
    assert not r.nonempty
    cfg.write_text(text.replace("dims: [ -1, -1, 1 ]", "dims: [ -1, 64, 1 ]"))
    code, out, _ = _run(["gate", str(FIX / "toy.onnx"), "--against", str(cfg), "--format", "json"], capsys)
    assert code == 0
    res = json.loads(out)["results"][0]
    assert res["status"] == "pass" and res["requirements"][0]["status"] == "pass"


def test_triton_batched_config_and_wrong_rank_or_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = str(FIX / "transformer_mha_dynamo.onnx")  # seq_len <= 64
    cfg = tmp_path / "config.pbtxt"
    base = (
        'name: "m" platform: "onnxruntime_onnx" max_batch_size: 8 '
        'input [ { name: "input_ids" data_type: %s dims: [ %s ] } ]'
    )
    cfg.write_text(base % ("TYPE_INT64", "100"))
    code, out, _ = _run(["gate", model, "--dim", "s70=seq_len", "--against", str(cfg)], capsys)
    assert code == 1 and "fails for 65 <= seq_len <= 100" not in out and "seq_len in {100}" in out
    assert "pos_emb (Embedding) [node_embedding_1]" in out or "node_embedding" in out
    cfg.write_text(base % ("TYPE_INT64", "32"))
    code, out, _ = _run(["gate", model, "--dim", "s70=seq_len", "--against", str(cfg)], capsys)
    assert code == 0, out
    cfg.write_text(base % ("TYPE_FP32", "32"))
    code, out, _ = _run(["gate", model, "--against", str(cfg)], capsys)
    assert code == 1 and "element type" in out
    cfg.write_text(base % ("TYPE_INT64", "4, 32"))
    code, out, _ = _run(["gate", model, "--against", str(cfg)], capsys)
    assert code == 1 and "declares 3 axes" in out
    cfg.write_text((base % ("TYPE_INT64", "32")).replace('"input_ids"', '"ids"'))
    code, out, _ = _run(["gate", model, "--against", str(cfg)], capsys)
    assert code == 1
    assert "input 'ids': the model has no such input" in out and "input 'input_ids': not declared" in out


@pytest.mark.parametrize(
    "name, content",
    [
        ("config.pbtxt", 'name: "x" input [ { name: '),
        ("config.pbtxt", 'name: "x" max_batch_size: -3 input [ { name: "a" dims: [ 1 ] } ]'),
        ("profile.json", "{not json"),
        ("profile.json", '{"profiles": [{"signal": {"min": [1, 9, 1], "max": [1, 20, 1]}}]}'),
        ("profile.json", '{"profiles": [{"signal": {"min": [1, 30, 1], "opt": [1, 20, 1], "max": [1, 40, 1]}}]}'),
        ("flags.txt", "--minShapes=signal:1x9 --optShapes=signal:1x9x1 --maxShapes=signal:1x20x1"),
        ("flags.txt", "--minShapes=signal:1xAx1 --optShapes=signal:1x9x1 --maxShapes=signal:1x20x1"),
        ("notes.txt", "hello"),
        ("missing.pbtxt", None),
    ],
)
def test_malformed_declarations_exit_2_with_one_line(
    name: str, content: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / name
    if content is not None:
        f.write_text(content)
    code, out, err = _run(["gate", str(FIX / "toy.onnx"), "--against", str(f)], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("graphcheck: error: ")


def test_tensorrt_profiles_pass_and_an_invalid_min_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = str(FIX / "toy.onnx")
    code, out, _ = _run(
        ["check", model, "--emit", "tensorrt-json", "--max", "unk__68=16000", "--max", "unk__67=8"], capsys
    )
    assert code == 0
    data = json.loads(out)
    assert data["profiles"] == [{"signal": {"min": [1, 9, 1], "opt": [4, 8004, 1], "max": [8, 16000, 1]}}]
    prof = tmp_path / "profile.json"
    prof.write_text(out)
    code, out, _ = _run(["gate", model, "--against", str(prof)], capsys)
    assert code == 0 and "ok       " in out
    data["profiles"][0]["signal"]["min"] = [1, 7, 1]
    prof.write_text(json.dumps(data))
    code, out, _ = _run(["gate", model, "--against", str(prof)], capsys)
    assert code == 1
    assert "fails for signal_len in {7, 8}" in out and "smallest failing: batch=1, signal_len=7" in out
    assert "first failing layer: conv_b (Conv)" in out
    (r7, r9) = probe(model, [{"signal": (1, 7, 1)}, {"signal": (1, 9, 1)}])
    assert not r7.nonempty and r9.nonempty


def test_trtexec_flags_round_trip_and_narrow_ranges_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = str(FIX / "unet.onnx")
    args = ["check", model, "--emit", "trtexec", "--max", "batch=4", "--max", "height=512", "--max", "width=512"]
    code, out, _ = _run([*args, "--opt", "height=256", "--opt", "width=256"], capsys)
    assert code == 0
    lines = [ln for ln in out.splitlines() if ln.startswith("--minShapes=")]
    assert lines[0] == "--minShapes=image:1x1x256x256 --optShapes=image:2x1x256x256 --maxShapes=image:4x1x256x256"
    assert "# note: height: inside [8, 512] only height % 8 == 0 is valid" in out
    flags = tmp_path / "flags.txt"
    flags.write_text(out)
    decl = read_declaration(str(flags))
    assert decl.kind == "tensorrt" and len(decl.profiles) == 8
    code, out, _ = _run(["gate", model, "--against", str(flags)], capsys)
    assert code == 0 and out.count("ok       ") == 8
    flags.write_text("--minShapes=image:1x1x32x32 --optShapes=image:1x1x40x32 --maxShapes=image:1x1x64x32")
    code, out, _ = _run(["gate", model, "--against", str(flags)], capsys)
    assert code == 1 and "smallest failing: batch=1, height=33, width=32" in out and "Concat" in out
    flags.write_text("--minShapes=signal:1x9x1 --optShapes=signal:1x16x1 --maxShapes=signal:1x64x1")
    code, out, _ = _run(["gate", str(FIX / "toy.onnx"), "--against", str(flags)], capsys)
    assert code == 0
    assert "signal_len declared 9..64, narrower than needed: 9..inf is proven valid (signal_len >= 9)" in out


def test_emit_json_carries_deploy_and_emit_needs_a_known_kind(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["check", str(FIX / "whisper_encoder.onnx"), "--emit", "trtexec", "--format", "json"], capsys)
    assert code == 0
    dep = json.loads(out)["deploy"]
    assert dep["kind"] == "trtexec" and "--minShapes=mel:" in dep["artifact"]
    frames = [[r for r in p if r["name"] == "frames"][0] for p in dep["profiles"]]
    assert [(f["min"], f["max"]) for f in frames] == [(1, 2), (2999, 3000)]
    code, _, err = _run(["check", str(FIX / "toy.onnx"), "--emit", "onnx"], capsys)
    assert code == 2 and "expected one of trtexec" in err
    code, _, err = _run(["check", str(FIX / "toy.onnx"), "--max", "unk__68=9"], capsys)
    assert code == 2 and "give --emit" in err
    code, _, err = _run(["check", str(FIX / "zoo/models/nasnet.onnx"), "--emit", "trtexec"], capsys)
    assert code == 2 and "no size is valid" in err and len(err.strip().splitlines()) == 1


def test_check_without_emit_does_not_import_the_emitters() -> None:
    code = (
        "import sys\nfrom graphcheck.cli import main\n"
        "try:\n    main(['check', 'fixtures/toy.onnx'])\nexcept SystemExit:\n    pass\n"
        "bad = [m for m in sys.modules if m.startswith(('graphcheck.report.deploy', 'graphcheck.render.deploy', "
        "'graphcheck.report.boxes', 'graphcheck.gate', 'tritonclient'))]\nprint(bad)"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert res.stdout.strip().splitlines()[-1] == "[]"

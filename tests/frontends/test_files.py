"""Model files as users have them (issue 23): .keras, .h5, SavedModel, .tflite and .pt2, through the
CLI and the gate, against the .onnx route of the same models.

Two small models, built once for the module: a Keras Conv1D stack (kernel 11 'valid', then kernel 5
stride 2: ``L - 10``, then ``floor((L - 10 - 5) / 2) + 1 >= 1``, so ``L >= 15``) saved in the four
TensorFlow formats, and a PyTorch Conv1d stack (kernel 5, then kernel 5 stride 2: ``L >= 9``) saved
by ``torch.export.save``. Every file is converted once (one worker per framework, in parallel; the
module's conversion cache), then checked: the statement equals the one graphcheck gives for the .onnx
export of the same model (sizes addressed as ``input:axis``), onnxruntime runs the converted graph at
the smallest valid size and fails one below, findings name the framework's layers.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.frontends._shared import layers_with, ort

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
tf2onnx = pytest.importorskip("tf2onnx")
torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

import onnx  # noqa: E402
from torch import nn  # noqa: E402

import graphcheck  # noqa: E402
from graphcheck.cli import main  # noqa: E402
from graphcheck.frontends import files, formats, workers  # noqa: E402
from graphcheck.report.report import Report  # noqa: E402

KERAS_FORMATS = ("keras", "h5", "savedmodel", "tflite")
FORMATS = (*KERAS_FORMATS, "pt2")
ADDRESS = {"keras": {"signal:0": "N", "signal:1": "L"}, "torch": {"signal:0": "N", "signal:2": "L"}}


def keras_stack() -> Any:
    inp = keras.Input((None, 1), name="signal")
    x = keras.layers.Conv1D(8, 11, padding="valid", name="conv_a")(inp)
    x = keras.layers.Conv1D(8, 5, strides=2, padding="valid", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inp, keras.layers.Dense(2, name="head")(x), name="conv_stack")


class TorchStack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv_in = nn.Conv1d(1, 8, 5)
        self.conv_down = nn.Conv1d(8, 8, 5, stride=2)
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(8, 2)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv_down(torch.relu(self.conv_in(signal))))
        return self.head(self.gap(x).flatten(1))


@dataclass
class Built:
    dir: Path
    paths: dict[str, Path]  # format -> the file (a directory for the SavedModel)
    onnx: dict[str, Path]  # "keras"/"torch" -> the .onnx route of the same model
    bad: dict[str, Path]  # format -> a malformed file of that kind
    errors: dict[str, str]  # what the conversion of the module's files said, by path
    seconds: float  # the conversion of all of them


def _malformed(d: Path) -> dict[str, Path]:
    d.mkdir()
    with zipfile.ZipFile(d / "bad.keras", "w") as z:
        z.writestr("config.json", "{not json")
        z.writestr("metadata.json", "{}")
    (d / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00\x07" * 100)
    (d / "bad_saved_model").mkdir()
    (d / "bad_saved_model" / "saved_model.pb").write_bytes(b"\x08\x01 not a SavedModel" * 8)
    (d / "bad.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\xff" * 300)
    with zipfile.ZipFile(d / "bad.pt2", "w") as z:
        z.writestr("m/archive_format", "pt2")
        z.writestr("m/models/model.json", "{}")
    return {
        "keras": d / "bad.keras",
        "h5": d / "bad.h5",
        "savedmodel": d / "bad_saved_model",
        "tflite": d / "bad.tflite",
        "pt2": d / "bad.pt2",
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    d = tmp_path_factory.mktemp("formats")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(files.CACHE_ENV, str(d / "cache"))
        keras.utils.set_random_seed(1234)
        model = keras_stack()
        paths = {"keras": d / "models" / "conv_stack.keras", "h5": d / "models" / "conv_stack.h5"}
        paths["keras"].parent.mkdir()
        model.save(paths["keras"])
        model.save(paths["h5"])
        paths["savedmodel"] = d / "models" / "conv_stack_saved_model"
        model.export(str(paths["savedmodel"]), verbose=False)
        paths["tflite"] = d / "models" / "conv_stack.tflite"
        paths["tflite"].write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
        # the .onnx route: tf2onnx on the live model, as a user exports it (tf2onnx's own size names)
        spec = (tf.TensorSpec((None, None, 1), tf.float32, name="signal"),)
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17)
        onnx_paths = {"keras": d / "conv_stack_tf2onnx.onnx"}
        onnx.save(proto, onnx_paths["keras"])

        torch.manual_seed(1234)
        auto = torch.export.Dim.AUTO
        program = torch.export.export(
            TorchStack().eval(), (torch.randn(2, 1, 64),), dynamic_shapes={"signal": {0: auto, 2: auto}}
        )
        paths["pt2"] = d / "models" / "torch_stack.pt2"
        torch.export.save(program, paths["pt2"])
        onnx_paths["torch"] = d / "torch_stack_dynamo.onnx"
        exported = torch.onnx.export(program, dynamo=True, external_data=False, verbose=False)
        assert exported is not None
        onnx.save(exported.model_proto, onnx_paths["torch"])

        bad = _malformed(d / "bad")
        start = time.perf_counter()
        errors = files.prepare([str(p) for p in (*paths.values(), *bad.values())])
        seconds = time.perf_counter() - start
        yield Built(d, paths, onnx_paths, bad, errors, seconds)


def family(fmt: str) -> str:
    return "torch" if fmt == "pt2" else "keras"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


# --------------------------------------------------------------------------- recognizing files


def test_formats_are_recognized_by_content_not_extension(built: Built, tmp_path: Path) -> None:
    for fmt, path in built.paths.items():
        found = files.detect(path)
        assert found is not None and found[0].key == fmt, fmt
        if path.is_file():  # the same bytes under another name are the same format
            other = tmp_path / f"renamed_{fmt}.bin"
            shutil.copy(path, other)
            again = files.detect(other)
            assert again is not None and again[0].key == fmt
    pb = built.paths["savedmodel"] / "saved_model.pb"  # the SavedModel's graph file means its directory
    assert files.detect(pb) == (formats.SAVEDMODEL, str(built.paths["savedmodel"]))
    for not_converted in (built.onnx["keras"], Path(graphcheck.__file__), built.dir):
        assert files.detect(not_converted) is None
    scanned = files.model_files(built.dir / "models")
    assert scanned == sorted(str(p) for p in built.paths.values())  # the SavedModel not descended into


# --------------------------------------------------------------------------- the same answer as the .onnx route


def test_the_module_converted_each_file_once_in_two_workers(built: Built) -> None:
    good = {str(p) for p in built.paths.values()}
    assert not good & set(built.errors), built.errors
    assert set(built.errors) == {str(p) for p in built.bad.values()}
    stored = list((built.dir / "cache" / "converted").glob("*.onnx"))
    assert len(stored) == len(built.paths)  # under GRAPHCHECK_CACHE_DIR; the malformed ones as errors only
    print(f"conversion of {len(good)} models and {len(built.bad)} malformed files: {built.seconds:.1f} s")


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_gives_the_onnx_routes_exact_statement(built: Built, fmt: str) -> None:
    fam = family(fmt)
    dims = ADDRESS[fam]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workers, "run", _no_conversion)  # every answer comes from the module's cache
        rep = files.check_file(built.paths[fmt], dims)
        plain = files.check_file(built.paths[fmt])
    ref = graphcheck.check(built.onnx[fam], dims)
    bound = 15 if fam == "keras" else 9  # derived in the module doc
    assert rep.valid == ref.valid == f"L >= {bound}   (N: any >= 1)"
    assert [rep.accepts({"L": n, "N": 1}) for n in range(1, 40)] == [n >= bound for n in range(1, 40)]
    # the sizes named as the front ends name them, never tf2onnx's unk__N or torch's sNN
    assert plain.valid == f"signal_len >= {bound}   (batch: any >= 1)"
    assert [d.code for d in plain.diagnostics] == [d.code for d in graphcheck.check(built.onnx[fam]).diagnostics]
    expected = {
        "keras": [("conv_a", "Conv1D"), ("conv_b", "Conv1D")],
        "h5": [("conv_a", "Conv1D"), ("conv_b", "Conv1D")],
        "savedmodel": [("conv_a", "Conv"), ("conv_b", "Conv")],  # names from tf2onnx's scopes: no live model
        "tflite": [("conv_a", "Conv"), ("conv_b", "Conv")],
        "pt2": [("conv_in", "Conv1d"), ("conv_down", "Conv1d")],  # torch.export's nn_module_stack
    }[fmt]
    assert layers_with(plain, "GC001") == expected
    assert layers_with(ref, "GC001") == [(n, "Conv" if fam == "keras" else k) for n, k in expected]


def _no_conversion(*args: Any, **kwargs: Any) -> dict[int, str]:
    raise AssertionError("a cached file was converted again")


def test_the_converted_graphs_run_in_onnxruntime_around_the_boundary(built: Built) -> None:
    jobs = []
    for fmt in FORMATS:
        conv = files.converted(built.paths[fmt])
        assert conv is not None
        bound = 9 if fmt == "pt2" else 15
        shape = (lambda n: (1, 1, n)) if fmt == "pt2" else (lambda n: (1, n, 1))
        jobs.append((onnx.load(conv.path), [{"signal": shape(n)} for n in (bound - 1, bound, bound + 37)]))
    results = ort(jobs)
    for fmt, res in zip(FORMATS, results):
        assert [r.nonempty for r in res] == [False, True, True], (fmt, res)


def test_pt2_declared_ranges_are_compared_with_the_exact_set(built: Built) -> None:
    """torch.export's range_constraints survive the conversion, renamed with the sizes (GC107)."""
    rep = files.check_file(built.paths["pt2"])
    gc107 = [d.message for d in rep.diagnostics if d.code == "GC107"]
    # torch.export 0/1-specializes the example's batch of 2: declared [2, inf], but 1 works
    assert gc107 == [
        "torch.export declared batch in [2, inf], but the valid set is batch >= 1: it excludes batch = 1, which work"
    ]


# --------------------------------------------------------------------------- the CLI and the gate


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_check_and_explain_name_the_layers_and_the_converter(
    built: Built, fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(built.paths[fmt])
    code, out, _ = run_cli(capsys, "check", path)
    assert code == 0
    converter = {
        "keras": "tf2onnx from_keras (tf2onnx ",
        "h5": "tf2onnx from_keras (tf2onnx ",
        "savedmodel": "tf2onnx from_saved_model, signature 'serving_default' (tf2onnx ",
        "tflite": "tf2onnx from_tflite (tf2onnx ",
        "pt2": "torch.onnx dynamo (torch.export.load), torch ",
    }[fmt]
    lines = out.splitlines()
    assert lines[0].startswith(f"{path}  input signal[batch, ")
    assert lines[1].startswith(f"  exported by {converter}")
    bound = 9 if fmt == "pt2" else 15
    first = "conv_down" if fmt == "pt2" else "conv_b"
    code, out, _ = run_cli(capsys, "explain", path, "--at", f"signal_len={bound - 1}", "--at", "batch=1")
    assert code == 1
    assert f"FAILS at {first} (" in out
    code, out, _ = run_cli(capsys, "check", path, "--format", "json")
    payload = json.loads(out)
    assert payload["exporter"].startswith(converter) and payload["valid"].startswith(f"signal_len >= {bound}")


def test_gate_scans_a_directory_of_every_format_and_converts_nothing_twice(
    built: Built, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "run", _no_conversion)
    code, out, _ = run_cli(capsys, "gate", str(built.dir / "models"), "-r", "signal_len in 9..4000", "-f", "json")
    results = {Path(r["model"]).name: r for r in json.loads(out)["results"]}
    assert set(results) == {p.name for p in built.paths.values()}
    assert results["torch_stack.pt2"]["status"] == "pass"
    for p in (built.paths[f] for f in KERAS_FORMATS):
        r = results[p.name]
        assert r["status"] == "fail" and r["valid"].startswith("signal_len >= 15"), r
        req = r["requirements"][0]
        assert req["smallest_failing"]["signal_len"] == 9 and req["first_failure_layer"] == "conv_a"
        # the axis in the framework's terms where the layer's class is known (a Conv1D's length)
        axis = "length" if p.suffix in (".keras", ".h5") else "width (axis 3)"
        assert req["first_failure"].endswith(f"] {axis}"), req["first_failure"]
    assert code == 1


def test_gate_runs_each_framework_once_for_a_scan(built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry of new files: one worker per framework converts all of them (TensorFlow imported once)."""
    monkeypatch.setenv(files.CACHE_ENV, str(built.dir / "fresh-cache"))
    started: list[list[str]] = []

    def fake(jobs: Any, work: Path, timeout: float) -> dict[int, str]:
        started.append([j.fmt.key for j in jobs])
        for i, _ in enumerate(jobs):
            (work / f"{i}.json").write_text(json.dumps({"error": "stub converter"}))
        return {}

    monkeypatch.setattr(workers, "run", fake)
    errors = files.prepare([str(p) for p in built.paths.values()])
    assert sorted(started) == [["keras", "h5", "savedmodel", "tflite"], ["pt2"]] or sorted(started) == [
        ["h5", "keras", "savedmodel", "tflite"],
        ["pt2"],
    ]
    assert all(e.endswith(": stub converter") for e in errors.values()) and len(errors) == 5


def test_a_keras_axis_saved_fixed_is_exported_dynamic_when_dims_name_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--dim signal:1=L`` on a model saved with ``Input((64, 1))``: which lengths would it accept?
    The saved graph is converted as it is, then (the axis being fixed there) again with the axis
    dynamic, as graphcheck.keras.check does. The converter is the Keras front end's export run here."""
    import graphcheck.keras as gk
    from graphcheck.frontends.contract import provenance_dict

    inp = keras.Input((64, 1), name="signal")
    x = keras.layers.Conv1D(8, 11, name="conv_a")(inp)
    x = keras.layers.Conv1D(8, 5, strides=2, activation="relu", name="conv_b")(x)
    model = keras.Model(inp, keras.layers.Dense(2, name="head")(keras.layers.GlobalAveragePooling1D()(x)))
    path = tmp_path / "fixed.keras"
    model.save(path)
    asked: list[tuple[str, ...]] = []

    def worker(jobs: Any, work: Path, timeout: float) -> dict[int, str]:
        for i, job in enumerate(jobs):
            asked.append(job.dynamic)
            exported = gk.export(model, dynamic=job.dynamic)
            onnx.save(exported.proto, work / f"{i}.onnx")
            (work / f"{i}.json").write_text(json.dumps(provenance_dict(exported)))
        return {}

    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(workers, "run", worker)
    assert files.check_file(path).valid == "any size   (batch: any >= 1)"
    rep = files.check_file(path, ["signal:1=L"])
    assert rep.valid == "L >= 15   (batch: any >= 1)"
    assert layers_with(rep, "GC001") == [("conv_a", "Conv1D"), ("conv_b", "Conv1D")]
    assert asked == [(), ("signal:1",)]
    files.check_file(path, {"signal:1": "L"})
    assert asked == [(), ("signal:1",)]  # both conversions cached


# --------------------------------------------------------------------------- errors: one line, exit 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_malformed_file_of_each_kind_is_a_one_line_error(
    built: Built, fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "run", _no_conversion)  # the converter's error is remembered
    path = str(built.bad[fmt])
    code, out, err = run_cli(capsys, "check", path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    cause = {
        "keras": "keras.saving.load_model cannot load it",
        "h5": "keras.saving.load_model cannot load it",
        "savedmodel": "tf2onnx cannot convert this SavedModel",
        "tflite": "tf2onnx cannot convert this TFLite model",
        "pt2": "torch.export.load cannot load it",
    }[fmt]
    assert err.startswith(f"graphcheck: error: {path}: {cause} ("), err
    assert built.errors[path] == err.removeprefix("graphcheck: error: ").rstrip("\n")


def test_a_file_that_is_none_of_these_keeps_todays_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "model.keras"  # the extension alone makes nothing a Keras model
    text.write_text("hello\n")
    code, _, err = run_cli(capsys, "check", str(text))
    assert code == 2 and err.startswith(f"graphcheck: error: {text}: not a valid ONNX model (")
    code, _, err = run_cli(capsys, "check", str(tmp_path))
    assert code == 2 and err == f"graphcheck: error: {tmp_path}: is a directory, not an ONNX model\n"


@pytest.mark.parametrize(
    "fmt, missing, message",
    [
        ("keras", "tensorflow", "this is a Keras 3 model: pip install 'graphcheck[keras]'"),
        ("tflite", "tf2onnx", "this is a TensorFlow Lite model: pip install 'graphcheck[keras]'"),
        ("pt2", "torch", "this is a torch.export program: pip install 'graphcheck[torch]'"),
    ],
)
def test_without_the_extra_one_line_names_it(
    built: Built,
    fmt: str,
    missing: str,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "empty-cache"))  # not converted yet
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == missing else real(name, *a))
    monkeypatch.setattr(workers, "run", _no_conversion)
    path = str(built.paths[fmt])
    code, out, err = run_cli(capsys, "check", path)
    assert (code, out, err) == (2, "", f"graphcheck: error: {path}: {message}\n")


# --------------------------------------------------------------------------- hostile files: time limit, crashes

FAKE_WORKER = """
import json, os, signal, sys, time
jobs = json.load(open(sys.argv[1]))
for i in map(int, sys.argv[2:]):
    source = os.path.basename(jobs[i]["source"])
    if "hang" in source:
        time.sleep(600)
    if "crash" in source:
        os.kill(os.getpid(), signal.SIGSEGV)
    json.dump({"error": "fake converter: not a model"}, open(jobs[i]["meta"], "w"))
    print(f"done {i}", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGSEGV")
def test_a_hanging_or_crashing_conversion_is_one_error_and_the_rest_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker is killed at the time limit, or dies; the files after it get a new worker."""
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    command = lambda jobs, idx: [sys.executable, str(script), jobs, *map(str, idx)]
    monkeypatch.setattr(workers, "worker_command", command)
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(workers.TIMEOUT_ENV, "2")
    paths = []
    for name in ("a_hang", "b_crash", "c_plain"):
        p = tmp_path / f"{name}.tflite"
        p.write_bytes(b"\x1c\x00\x00\x00TFL3" + name.encode())
        paths.append(str(p))
    start = time.perf_counter()
    errors = files.prepare(paths)
    assert time.perf_counter() - start < 30
    assert errors == {
        paths[0]: f"{paths[0]}: the conversion did not finish within 2 s (GRAPHCHECK_CONVERT_TIMEOUT)",
        paths[1]: f"{paths[1]}: the converter crashed on this file (SIGSEGV)",
        paths[2]: f"{paths[2]}: fake converter: not a model",
    }
    # a converter's own error is remembered; a hang or a crash (maybe the machine's load) is not
    assert files.prepare([paths[2]]) == {}
    with pytest.raises(graphcheck.ModelLoadError, match="fake converter: not a model"):
        files.converted(paths[2])
    assert len(files.prepare(paths[:2])) == 2


def test_the_cache_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "mine"))
    assert files.cache_dir() == tmp_path / "mine"
    assert files._store() == tmp_path / "mine" / "converted"
    monkeypatch.delenv(files.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform not in ("win32", "darwin"):
        assert files.cache_dir() == tmp_path / "xdg" / "graphcheck"
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    monkeypatch.setenv(files.CACHE_ENV, str(blocked / "cache"))  # cannot be created, even by root
    store = files._store()
    assert store.is_dir() and not store.is_relative_to(tmp_path)
    assert os.environ[files.CACHE_ENV] == str(store.parent)  # the processes it starts share the fallback


def test_reports_of_converted_files_are_reports(built: Built) -> None:
    rep = files.check_file(built.paths["keras"])
    assert isinstance(rep, Report) and rep.exporter.endswith("after keras.saving.load_model")
    assert rep.attempts[0].exporter == "tf2onnx.convert.from_keras"

"""The gate on an MLflow model registry, against a real ``mlflow server`` on loopback (sqlite backend).

Models are registered through the MLflow client; the gate is run through the real command line
(``python -m graphcheck gate models:/...``) and the verdict is read back from the server: tags on
the model version, the alias. Skipped only when MLflow is not installed (``graphcheck[mlflow]``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
TAGS = ("graphcheck.status", "graphcheck.valid", "graphcheck.version", "graphcheck.findings", "graphcheck.requirements")
LENGTH_REQ = "signal:1 in 9..480000"  # toy.onnx accepts lengths >= 9, keras_strided.onnx only >= 57


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/health", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server (sqlite backend, artifacts proxied by the server) on a free loopback port."""
    pytest.importorskip("mlflow", reason="MLflow is not installed (pip install 'graphcheck[mlflow]')")
    tmp = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp / "server.log", "wb")  # closed at teardown
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}"]
    cmd += ["--artifacts-destination", str(tmp / "artifacts"), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", "1"]
    proc = subprocess.Popen(cmd, cwd=tmp, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (tmp / "server.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"mlflow server did not come up on {url} (exit {proc.poll()}):\n{tail}")
            time.sleep(0.25)
        yield url
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):  # the server and its uvicorn worker (their own session)
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                continue
        log.close()


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[Any]:
    import mlflow

    mlflow.set_tracking_uri(server)  # older MLflow 3 clients resolve mlflow-artifacts:/ from the global URI
    try:
        yield mlflow.MlflowClient(tracking_uri=server, registry_uri=server)
    finally:
        mlflow.set_tracking_uri(None)


def _register(client: Any, name: str, files: dict[str, bytes | Path], source_path: str = "model") -> str:
    """Log ``files`` (artifact path -> content) in a new run; register ``runs:/<run>/<source_path>`` as a version."""
    import tempfile

    run = client.create_run(experiment_id="0")
    run_id = run.info.run_id
    with tempfile.TemporaryDirectory() as d:
        for rel, content in files.items():
            local = Path(d) / rel
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(content.read_bytes() if isinstance(content, Path) else content)
            parent = str(Path(rel).parent)
            client.log_artifact(run_id, str(local), None if parent == "." else parent)
    client.set_terminated(run_id)
    try:
        client.create_registered_model(name)
    except Exception:  # already registered
        pass
    mv = client.create_model_version(name, f"runs:/{run_id}/{source_path}", run_id=run_id)
    return str(mv.version)


def _gate(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    full_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "graphcheck", "gate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or ROOT,
        env=full_env,
    )


def _tags(client: Any, name: str, version: str) -> dict[str, str]:
    return {k: v for k, v in client.get_model_version(name, version).tags.items() if k.startswith("graphcheck.")}


def _aliases(client: Any, name: str) -> dict[str, str]:
    return {k: str(v) for k, v in client.get_registered_model(name).aliases.items()}


MLMODEL = b"flavors:\n  onnx:\n    data: model.onnx\n    onnx_version: 1.16.0\n"


def test_pass_records_the_verdict_and_moves_the_alias(server: str, client: Any) -> None:
    from graphcheck.version import __version__

    # laid out like mlflow.onnx.log_model: model/MLmodel, model/model.onnx
    v = _register(client, "asr", {"model/MLmodel": MLMODEL, "model/model.onnx": FIXTURES / "toy.onnx"})
    res = _gate(f"models:/asr/{v}", "--tracking-uri", server, "--require", LENGTH_REQ, "--promote", "prod")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"PASS  models:/asr/{v}" in res.stdout
    assert f"alias prod moved to version {v}" in res.stdout
    assert res.stderr == ""
    assert _tags(client, "asr", v) == {
        "graphcheck.status": "pass",
        "graphcheck.valid": "signal_len >= 9   (batch: any >= 1)",
        "graphcheck.version": __version__,
        "graphcheck.findings": "2",  # GC001 at conv_a and at conv_b, as `graphcheck check` reports
        "graphcheck.requirements": LENGTH_REQ,
    }
    assert _aliases(client, "asr") == {"prod": v}
    # the alias form resolves to the version it points at; no --promote: aliases untouched
    res = _gate("models:/asr@prod", "--tracking-uri", server, "--require", "signal:1 in 9..16000")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"recorded on MLflow model asr version {v}" in res.stdout
    assert _tags(client, "asr", v)["graphcheck.requirements"] == "signal:1 in 9..16000"
    assert _aliases(client, "asr") == {"prod": v}


def test_fail_records_the_verdict_and_keeps_the_alias(server: str, client: Any) -> None:
    v1 = _register(client, "asr-retrained", {"model/model.onnx": FIXTURES / "toy.onnx"})
    client.set_registered_model_alias("asr-retrained", "prod", v1)
    # the retrained model: strided convolutions raise the minimum length to 57; registered as a single file
    v2 = _register(client, "asr-retrained", {"strided.onnx": FIXTURES / "keras_strided.onnx"}, "strided.onnx")
    res = _gate(f"models:/asr-retrained/{v2}", "--tracking-uri", server, "-r", LENGTH_REQ, "--promote", "prod")
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"FAIL  models:/asr-retrained/{v2}" in res.stdout
    assert "fails for 9 <= signal:1 <= 56" in res.stdout
    assert f"alias prod not moved: the gate did not pass (prod stays version {v1})" in res.stdout
    tags = _tags(client, "asr-retrained", v2)
    assert tags["graphcheck.status"] == "fail"
    assert tags["graphcheck.valid"] == "signal_len >= 57   (batch: any >= 1)"
    assert tags["graphcheck.requirements"] == LENGTH_REQ
    assert set(tags) == set(TAGS)
    assert _aliases(client, "asr-retrained") == {"prod": v1}  # still on the previous version
    assert _tags(client, "asr-retrained", v1) == {}


def test_json_output_for_a_model_logged_with_the_onnx_flavor(server: str, client: Any) -> None:
    import mlflow
    import mlflow.onnx
    import onnx

    with mlflow.start_run():  # on the server: the client fixture set the tracking URI
        # the flavor saves the weights as external data beside model.onnx; only model.onnx is fetched
        info = mlflow.onnx.log_model(onnx.load(FIXTURES / "unet.onnx"), name="seg", registered_model_name="seg")
    v = str(info.registered_model_version)
    req = "height, width in 64..512 step 8"
    res = _gate(f"models:/seg/{v}", "--tracking-uri", server, "-r", req, "--promote", "champion", "--format", "json")
    assert res.returncode == 0, res.stdout + res.stderr
    payload = json.loads(res.stdout)
    assert payload["schema_version"] == 1
    (r,) = payload["results"]
    assert r["model"] == f"models:/seg/{v}"
    assert r["status"] == "pass"
    assert r["valid"] == "height % 8 == 0; width % 8 == 0   (batch: any >= 1)"
    assert [o["requirement"] for o in r["requirements"]] == [req]
    reg = r["registry"]
    assert reg["name"] == "seg" and reg["version"] == v and reg["artifact"] == "model.onnx"
    assert reg["tracking_uri"] == server
    assert reg["promoted"] == "champion" and reg["promotion"] == f"champion: unset -> version {v}"
    assert reg["tags"] == _tags(client, "seg", v)
    assert reg["tags"]["graphcheck.findings"] == str(len(r["diagnostics"]))
    assert _aliases(client, "seg") == {"champion": v}


def test_malformed_requirement_or_alias_is_exit_2_and_writes_nothing(server: str, client: Any) -> None:
    v = _register(client, "kws", {"model/model.onnx": FIXTURES / "toy.onnx"})
    res = _gate(f"models:/kws/{v}", "--tracking-uri", server, "-r", "signal:1 in 9..", "--promote", "prod")
    assert res.returncode == 2
    assert res.stdout == "" and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert res.stderr.startswith("graphcheck: error:")
    res = _gate(f"models:/kws/{v}", "--tracking-uri", server, "-r", LENGTH_REQ, "--promote", "latest")
    assert res.returncode == 2
    assert "not a valid MLflow alias" in res.stdout and "Traceback" not in res.stdout + res.stderr
    assert _tags(client, "kws", v) == {}
    assert _aliases(client, "kws") == {}


def _error_line(res: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a gate that ended in error (text output: the model, then `error: ...`)."""
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    lines = [x for x in res.stdout.splitlines() if x.strip().startswith("error:")]
    assert len(lines) == 1, res.stdout + res.stderr
    return lines[0]


def test_unknown_model_or_version_is_exit_2(server: str, client: Any) -> None:
    _register(client, "vad", {"model/model.onnx": FIXTURES / "toy.onnx"})
    line = _error_line(_gate("models:/vad/99", "--tracking-uri", server, "-r", LENGTH_REQ))
    assert "models:/vad/99: Model Version (name=vad, version=99) not found" in line
    line = _error_line(_gate("models:/no-such-model/1", "--tracking-uri", server))
    assert "not found" in line
    line = _error_line(_gate("models:/vad@no-such-alias", "--tracking-uri", server))
    assert "alias no-such-alias not found" in line
    line = _error_line(_gate("models:/vad/Production", "--tracking-uri", server))
    assert "use models:/NAME/VERSION or models:/NAME@ALIAS" in line


def test_version_without_an_onnx_artifact_is_exit_2_and_writes_nothing(server: str, client: Any) -> None:
    name = "tabular"
    cases = {
        # a scikit-learn-style model directory: no .onnx in it
        _register(client, name, {"model/MLmodel": b"flavors: {}\n", "model/model.pkl": b"\x80\x04."}): "no ONNX file",
        # the source points at nothing (deleted, or never logged)
        _register(client, name, {"other/x.txt": b"x"}, "model"): "no artifacts at",
        # a model.onnx that is not an ONNX model
        _register(client, name, {"model/model.onnx": b"not an onnx model"}): "not a valid ONNX model",
        # two candidates and no model.onnx: ambiguous
        _register(
            client, name, {"model/a.onnx": FIXTURES / "toy.onnx", "model/b.onnx": FIXTURES / "unet.onnx"}
        ): "several ONNX files",
    }
    for v, expected in cases.items():
        line = _error_line(_gate(f"models:/{name}/{v}", "--tracking-uri", server, "-r", LENGTH_REQ, "--promote", "p"))
        assert expected in line, line
        assert "graphcheck-mlflow-" not in line  # the temporary download path is not shown
        assert _tags(client, name, v) == {}
    assert _aliases(client, name) == {}


def test_unreachable_server_fails_fast(tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason="MLflow is not installed (pip install 'graphcheck[mlflow]')")
    url = f"http://127.0.0.1:{_free_port()}"
    start = time.monotonic()
    line = _error_line(_gate("models:/asr/1", "--tracking-uri", url, "-r", LENGTH_REQ, "--promote", "prod"))
    assert time.monotonic() - start < 20
    assert f"cannot reach the MLflow tracking server at {url} (connection refused)" in line
    # the same through MLFLOW_TRACKING_URI
    res = _gate("models:/asr/1", "--format", "json", env={"MLFLOW_TRACKING_URI": url})
    (r,) = json.loads(res.stdout)["results"]
    assert res.returncode == 2 and r["status"] == "error" and "cannot reach" in r["error"]


def test_no_tracking_uri_and_no_local_database(tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason="MLflow is not installed (pip install 'graphcheck[mlflow]')")
    line = _error_line(_gate("models:/asr/1", cwd=tmp_path))
    # MLflow's default store (./mlflow.db, ./mlruns in older MLflow) does not exist here, and is not created
    assert "no MLflow database at" in line or "no MLflow store at" in line
    assert "--tracking-uri" in line
    assert list(tmp_path.iterdir()) == []


def test_without_mlflow_installed(tmp_path: Path) -> None:
    # hide mlflow from the gate's process
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoMlflow:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'mlflow' or name.startswith('mlflow.'):\n"
        "            raise ImportError('No module named ' + repr(name))\n"
        "        return None\n"
        "sys.meta_path.insert(0, _NoMlflow())\n"
    )
    pythonpath = os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")])
    line = _error_line(_gate("models:/asr/1", "--tracking-uri", "http://127.0.0.1:1", env={"PYTHONPATH": pythonpath}))
    assert "MLflow is not installed (pip install 'graphcheck[mlflow]')" in line

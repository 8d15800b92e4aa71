"""The MLflow signature path against a real registry (sqlite backend, no server): the emitted signature
and metadata are logged with ``mlflow.onnx.log_model`` and registered; ``graphcheck gate models:/NAME/V
--against signature`` reads the version's MLmodel and checks it; a signature fixing an invalid size fails
naming the size and the node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import graphcheck

mlflow = pytest.importorskip("mlflow", reason="MLflow is not installed (pip install 'graphcheck[mlflow]')")

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / "fixtures" / "toy.onnx"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A sqlite registry and an experiment whose artifacts live in the temporary directory too."""
    tmp = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("graphcheck-deploy", artifact_location=(tmp / "artifacts").as_uri())
    return uri, exp


def _log(registry: tuple[str, str], name: str, signature: dict[str, Any], metadata: dict[str, Any]) -> str:
    import onnx
    from mlflow.models import ModelSignature

    uri, exp = registry
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)  # the registry follows the tracking URI; set_registry_uri would stick in the env
    try:
        with mlflow.start_run(experiment_id=exp):
            info = mlflow.onnx.log_model(
                onnx.load(str(TOY)),
                name="model",
                signature=ModelSignature.from_dict(signature),
                metadata=metadata,
                registered_model_name=name,
            )
        return str(info.registered_model_version)
    finally:  # leave no URI behind for the other MLflow tests of the run
        mlflow.set_tracking_uri(None)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _gate(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    cwd = Path(uri.removeprefix("sqlite:///")).parent  # nothing MLflow writes lands in the repository
    return subprocess.run(
        [sys.executable, "-m", "graphcheck", "gate", *args, "--tracking-uri", uri],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env=env,
    )


def test_emitted_signature_is_a_real_mlflow_signature_and_passes(registry: tuple[str, str]) -> None:
    from mlflow.models import ModelSignature

    report = graphcheck.check(str(TOY))
    emitted = json.loads(report.emit("mlflow-signature"))
    sig = ModelSignature.from_dict(emitted["signature"])
    (spec,) = sig.inputs.inputs
    assert spec.name == "signal" and spec.shape == (-1, -1, 1) and str(spec.type) == "float32"
    assert emitted["metadata"]["graphcheck"]["valid"] == report.valid.strip()
    version = _log(registry, "toy", emitted["signature"], emitted["metadata"])
    client = mlflow.MlflowClient(tracking_uri=registry[0], registry_uri=registry[0])
    mv = client.get_model_version("toy", version)
    assert mv.source
    res = _gate(registry[0], f"models:/toy/{version}", "--against", "signature")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "PASS  models:/toy/" in res.stdout
    warning = "signal:1 is declared as any size (-1); only signal_len >= 9 is valid: signal_len = 1 fails at conv_a"
    assert warning in res.stdout
    assert client.get_model_version("toy", version).tags["graphcheck.status"] == "pass"


def test_a_signature_fixing_an_invalid_size_fails_naming_it_and_the_node(registry: tuple[str, str]) -> None:
    report = graphcheck.check(str(TOY))
    emitted = json.loads(report.emit("mlflow-signature"))
    inputs = json.loads(emitted["signature"]["inputs"])
    inputs[0]["tensor-spec"]["shape"] = [-1, 5, 1]
    emitted["signature"]["inputs"] = json.dumps(inputs)
    version = _log(registry, "toy-bad", emitted["signature"], emitted["metadata"])
    res = _gate(registry[0], f"models:/toy-bad/{version}", "--against", "signature")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "fails for signal_len = 5" in res.stdout
    assert "first failing layer: conv_a (Conv) [toy_1/conv_a_1/convolution]" in res.stdout
    client = mlflow.MlflowClient(tracking_uri=registry[0], registry_uri=registry[0])
    assert client.get_model_version("toy-bad", version).tags["graphcheck.status"] == "fail"


def test_signature_needs_a_registered_model(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "graphcheck", "gate", str(TOY), "--against", "signature"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "models:/NAME/VERSION" in res.stderr

"""The gate on a model in an MLflow model registry (``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``).

The registered ONNX file is downloaded alone (graphcheck reads shapes, not weights, so external
weight files are left on the server), gated by the caller's ``run``, and the verdict is recorded
on the model version as tags (``graphcheck.status``, ``.valid``, ``.version``, ``.findings``,
``.requirements``). With ``promote`` an alias is moved to the version only when the gate passes.
Every failure (no MLflow, unreachable server, unknown model, no ONNX artifact) is a result with
status "error" and a one-line message, and then no tag is written. MLflow is imported lazily
(``pip install 'graphcheck[mlflow]'``).
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["gate_registered", "TAG_PREFIX"]

TAG_PREFIX = "graphcheck."
TAG_VALUE_LIMIT = 5000  # the smallest model-version tag value limit of MLflow servers (2.x: 5000, 3.x: 100000)
HTTP_TIMEOUT_S = "15"
_MAX_LISTED = 500  # artifact entries looked at when searching for the .onnx file
_URI_VERSION = re.compile(r"^models:/([^/@]+)/(\d+)/?$")
_URI_ALIAS = re.compile(r"^models:/([^/@]+)@([\w\-]+)/?$")


class _Fail(Exception):
    """A registry problem, reported as one line."""


def gate_registered(
    uri: str,
    tracking_uri: str | None,
    run: Callable[[str], dict[str, object]],
    promote: str | None = None,
    with_mlmodel: bool = False,
) -> dict[str, object]:
    """Gate a registered model version; record the verdict on it; move ``promote`` only on a pass. Never raises.

    ``with_mlmodel``: the version's ``MLmodel`` file (its signature) is downloaded beside the ONNX file."""
    registry: dict[str, object] = {"tracking_uri": tracking_uri}
    try:
        name, version, alias = _parse_uri(uri)
        if promote is not None:
            _check_alias(promote)
        try:
            import mlflow  # noqa: F401
        except ImportError:
            raise _Fail("MLflow is not installed (pip install 'graphcheck[mlflow]')") from None
        except Exception as exc:  # a broken installation
            raise _Fail(f"MLflow cannot be imported ({type(exc).__name__}: {exc})".splitlines()[0]) from None
        turi = _tracking_uri(tracking_uri)
        registry["tracking_uri"] = turi
        with _fail_fast(turi):
            try:
                return _gate(uri, turi, name, version, alias, run, promote, registry, with_mlmodel)
            except _Fail:
                raise
            except Exception as exc:  # MLflow's, requests', boto's ...: one line, never a traceback
                raise _Fail(_brief(exc, turi)) from None
    except _Fail as exc:
        return _error(uri, f"{uri}: {exc}", registry)


def _gate(
    uri: str,
    turi: str,
    name: str,
    version: str | None,
    alias: str | None,
    run: Callable[[str], dict[str, object]],
    promote: str | None,
    registry: dict[str, object],
    with_mlmodel: bool = False,
) -> dict[str, object]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=turi, registry_uri=turi)
    if alias is not None:
        version = str(client.get_model_version_by_alias(name, alias).version)
    else:
        assert version is not None
        version = str(client.get_model_version(name, version).version)
    registry.update(name=name, version=version, alias=alias)
    source = client.get_model_version_download_uri(name, version)
    with tempfile.TemporaryDirectory(prefix="graphcheck-mlflow-") as tmp:
        artifact, local = _download_onnx(source, turi, tmp, f"{name} version {version}", with_mlmodel)
        registry["artifact"] = artifact
        result = dict(run(local))
    result["registry"] = registry
    status = str(result.get("status"))
    if status not in ("pass", "fail", "unknown"):
        err = str(result.get("error", "")).replace(local, f"{uri} ({artifact})")
        result["error"] = err.replace(tmp, uri)
        return result  # an error: nothing recorded
    tags = _verdict_tags(result)
    try:
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
    except Exception as exc:
        raise _Fail(f"the gate said {status} but the verdict could not be recorded: {_brief(exc, turi)}") from None
    registry["tags"] = tags
    notes = [f"recorded on MLflow model {name} version {version}"]
    if promote is not None:
        previous = _alias_target(client, name, promote)
        was = f"version {previous}" if previous is not None else "unset"
        if status == "pass":
            try:
                client.set_registered_model_alias(name, promote, version)
            except Exception as exc:
                raise _Fail(f"the gate passed but alias {promote!r} could not be moved: {_brief(exc, turi)}") from None
            registry["promoted"] = promote
            registry["promotion"] = f"{promote}: {was} -> version {version}"
            notes.append(f"alias {promote} moved to version {version} (was {was})")
        else:
            registry["promoted"] = None
            registry["promotion"] = f"skipped: gate {'failed' if status == 'fail' else status} ({promote} stays {was})"
            notes.append(f"alias {promote} not moved: the gate did not pass ({promote} stays {was})")
    result["note"] = "; ".join(n for n in [str(result.get("note") or ""), *notes] if n)
    return result


def _parse_uri(uri: str) -> tuple[str, str | None, str | None]:
    m = _URI_VERSION.match(uri)
    if m:
        return m.group(1), m.group(2), None
    m = _URI_ALIAS.match(uri)
    if m:
        return m.group(1), None, m.group(2)
    raise _Fail("not a registered model; use models:/NAME/VERSION or models:/NAME@ALIAS")


def _check_alias(alias: str) -> None:
    # MLflow's rules for alias names (mlflow.utils.validation), checked before anything is recorded
    if not re.fullmatch(r"[\w\-]{1,255}", alias) or alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise _Fail(
            f"--promote {alias!r}: not a valid MLflow alias (letters, digits, _ and -; not 'latest', not v<number>)"
        )


def _tracking_uri(given: str | None) -> str:
    import mlflow

    turi = given or mlflow.get_tracking_uri()
    if turi.startswith("sqlite:///"):
        path = turi[len("sqlite:///") :].split("?")[0]
        if path and not os.path.isfile(path):  # MLflow would create an empty database
            raise _Fail(f"no MLflow database at {path} (pass --tracking-uri URI or set MLFLOW_TRACKING_URI)")
    elif turi.startswith(("file:", "/", ".")):
        path = turi[len("file://") :] if turi.startswith("file://") else turi.removeprefix("file:")
        if not os.path.isdir(path):
            raise _Fail(f"no MLflow store at {path} (pass --tracking-uri URI or set MLFLOW_TRACKING_URI)")
    return turi


def _download_onnx(source: str, turi: str, dst: str, what: str, with_mlmodel: bool = False) -> tuple[str, str]:
    """(the ONNX file's path among the version's artifacts, its local copy); with ``with_mlmodel`` the
    ``MLmodel`` file beside it is downloaded too, when there is one."""
    repo = _repository(source, turi)
    files = _list_files(repo)
    if files:
        onnx_files = [f for f in files if f.lower().endswith(".onnx")]
        if "model.onnx" in onnx_files:  # what mlflow.onnx.log_model writes
            chosen = "model.onnx"
        elif len(onnx_files) == 1:
            chosen = onnx_files[0]
        elif not onnx_files:
            shown = ", ".join(files[:6]) + (f" and {len(files) - 6} more" if len(files) > 6 else "")
            raise _Fail(f"{what}: no ONNX file among its artifacts ({shown}) at {source}")
        else:
            raise _Fail(f"{what}: several ONNX files among its artifacts ({', '.join(onnx_files[:6])}); register one")
        local = repo.download_artifacts(chosen, dst_path=dst)
        mlmodel = posixpath.join(posixpath.dirname(chosen), "MLmodel")
        if with_mlmodel and mlmodel in files:
            repo.download_artifacts(mlmodel, dst_path=dst)
    elif source.rstrip("/").lower().endswith(".onnx"):  # the version's source is the file itself
        parent, chosen = posixpath.split(source.rstrip("/"))
        local = _repository(parent, turi).download_artifacts(chosen, dst_path=dst)
    else:
        raise _Fail(f"{what}: no artifacts at {source} (missing or deleted)")
    if not os.path.isfile(local):
        raise _Fail(f"{what}: artifact {chosen} is missing at {source}")
    return chosen, local


def _repository(uri: str, turi: str) -> Any:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    try:
        return get_artifact_repository(uri, tracking_uri=turi)
    except TypeError:  # older MLflow 3: mlflow-artifacts:/ resolved from MLFLOW_TRACKING_URI (_fail_fast)
        return get_artifact_repository(uri)


def _list_files(repo: Any) -> list[str]:
    """Files below the repository root, breadth first, a bounded number."""
    files: list[str] = []
    dirs = [""]
    seen = 0
    while dirs and seen < _MAX_LISTED:
        d = dirs.pop(0)
        for info in repo.list_artifacts(d or None):
            seen += 1
            (dirs if info.is_dir else files).append(info.path)
    return files


def _verdict_tags(result: dict[str, object]) -> dict[str, str]:
    from graphcheck.version import __version__

    reqs = result.get("requirements") or []
    texts = [str(o.get("requirement", "")) for o in reqs if isinstance(o, dict)] if isinstance(reqs, list) else []
    diags = result.get("diagnostics")
    tags = {
        "status": str(result["status"]),
        "valid": str(result.get("valid") or ""),
        "version": str(result.get("graphcheck_version") or __version__),
        "findings": str(len(diags) if isinstance(diags, list) else 0),
        "requirements": "; ".join(texts) if texts else "(none)",
    }
    return {TAG_PREFIX + k: _truncate(v) for k, v in tags.items()}


def _truncate(value: str) -> str:
    return value if len(value) <= TAG_VALUE_LIMIT else value[: TAG_VALUE_LIMIT - 3] + "..."


def _alias_target(client: Any, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except Exception:  # not set (MLflow answers INVALID_PARAMETER_VALUE or RESOURCE_DOES_NOT_EXIST)
        return None


def _brief(exc: BaseException, turi: str) -> str:
    """One line for an exception out of MLflow."""
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    text = " ".join(str(x) for x in chain)
    names = {type(x).__name__ for x in chain}
    if "Timeout" in names or "ReadTimeout" in names or "ConnectTimeout" in names or "timed out" in text:
        secs = os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT", HTTP_TIMEOUT_S)
        return f"cannot reach the MLflow tracking server at {turi} (no answer within {secs} s)"
    if "ConnectionError" in names or "Failed to establish a new connection" in text or "Max retries exceeded" in text:
        m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
        reason = m.group(1).strip().lower() if m else "connection failed"
        return f"cannot reach the MLflow tracking server at {turi} ({reason})"
    msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    msg = str(msg).strip().splitlines()[0] if str(msg).strip() else type(exc).__name__
    code = getattr(exc, "error_code", None)
    if code == "RESOURCE_DOES_NOT_EXIST" or code == "INVALID_PARAMETER_VALUE" or code == "ENDPOINT_NOT_FOUND":
        msg = re.sub(r"^[A-Z_]+: ", "", msg)
    if code == "ENDPOINT_NOT_FOUND" or "error code 404" in msg:
        return f"{turi} is not an MLflow tracking server ({msg[:200]})"
    return msg if len(msg) <= 300 else msg[:297] + "..."


@contextmanager
def _fail_fast(turi: str) -> Iterator[None]:
    """MLflow's HTTP client without its retries (minutes on a dead server), quiet, on ``turi``; restored after."""
    forced = {"MLFLOW_TRACKING_URI": turi}
    defaults = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": HTTP_TIMEOUT_S,
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    saved = {k: os.environ.get(k) for k in [*forced, *defaults]}
    for k, v in defaults.items():
        if saved[k] is None:  # a value the user set wins
            os.environ[k] = v
    os.environ.update(forced)
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def _error(uri: str, message: str, registry: dict[str, object]) -> dict[str, object]:
    from graphcheck.version import __version__

    return {
        "model": uri,
        "status": "error",
        "error": message,
        "note": "",
        "graphcheck_version": __version__,
        "valid": None,
        "symbols": [],
        "requirements": [],
        "blocking": [],
        "diagnostics": [],
        "registry": registry,
    }

"""SARIF 2.1.0 output of the gate (``graphcheck gate --format sarif``), for GitHub code scanning.

One run; the driver lists a rule only for each code that occurs. Results: every failing
requirement (the code of its first failing condition, else GC201), every undecided one (GC202),
every unreadable model (GC203), and every finding of every model at its code's level (a finding
that blocks the gate through the policy's fail-on is an error). A model file has no lines, so each
location is the file at line 1 (code scanning needs a region), plus logical locations for the ONNX
node (kind "function") and the framework layer it belongs to (kind "module"). Paths are relative
to the repository (uriBaseId %SRCROOT%): $GITHUB_WORKSPACE, else the enclosing git work tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from graphcheck.render._gatecommon import GateItem, Where, batch_exit_code, gate_items, relative_path, repo_root
from graphcheck.report.codes import CODES, Code
from graphcheck.version import __version__

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
FINGERPRINT_KEY = "graphcheck/v1"
_LEVEL = {"error": "error", "warning": "warning", "info": "note", "note": "note"}

__all__ = ["render_sarif", "SARIF_SCHEMA", "FINGERPRINT_KEY"]


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-") if part)


def _information_uri() -> str | None:
    """The project's home page from the installed package's metadata ([project.urls]), if any."""
    try:
        from importlib.metadata import PackageNotFoundError, metadata

        md = metadata("graphcheck")
    except (ImportError, PackageNotFoundError):  # pragma: no cover - running from a source tree
        return None
    urls = {}
    for entry in md.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls[label.strip().lower()] = url.strip()
    for label in ("homepage", "home", "repository", "source", "documentation"):
        if urls.get(label, "").startswith(("https://", "http://")):
            return urls[label]
    homes = [h for h in md.get_all("Home-page") or [] if h.startswith(("https://", "http://"))]
    return homes[0] if homes else None


def _rule(code: str) -> dict[str, Any]:
    c: Code | None = CODES.get(code)
    if c is None:  # a code this version does not know (should not happen): a bare rule
        return {"id": code, "name": code, "shortDescription": {"text": code}}
    return {
        "id": c.code,
        "name": _pascal(c.name),
        "shortDescription": {"text": c.summary},
        "fullDescription": {"text": c.explanation},
        "help": {"text": f"{c.code} {c.name} ({c.severity}): {c.summary}\n\n{c.explanation}"},
        "defaultConfiguration": {"level": _LEVEL.get(c.severity, "warning")},
        "properties": {"tags": ["onnx", "input-shape", c.name]},
    }


def _artifact_location(model: str, root: Path) -> dict[str, Any]:
    rel = relative_path(model, root)
    if rel is not None:
        return {"uri": quote(rel, safe="/"), "uriBaseId": "%SRCROOT%"}
    if model.startswith("models:/") or "://" in model:
        return {"uri": quote(model, safe="/:@")}
    try:
        return {"uri": Path(model).resolve().as_uri()}
    except ValueError:  # pragma: no cover
        return {"uri": quote(model, safe="/")}


def _logical_locations(where: Where) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if where.node:
        node: dict[str, Any] = {"name": where.node, "fullyQualifiedName": where.node, "kind": "function"}
        if where.op:
            node["properties"] = {"onnxOp": where.op}
        out.append(node)
    if where.layer:
        layer: dict[str, Any] = {"name": where.layer, "fullyQualifiedName": where.layer, "kind": "module"}
        if where.layer_type:
            layer["properties"] = {"layerType": where.layer_type}
        out.append(layer)
    if where.input and not out:
        out.append({"name": where.input, "fullyQualifiedName": where.input, "kind": "parameter"})
    return out


def _location(item: GateItem, root: Path) -> dict[str, Any]:
    loc: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": _artifact_location(item.model, root),
            "region": {"startLine": 1},
        }
    }
    logical = _logical_locations(item.where)
    if logical:
        loc["logicalLocations"] = logical
    return loc


def _fingerprint(item: GateItem, uri: str) -> str:
    raw = "\x1f".join((item.code, uri, item.key))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def _properties(item: GateItem) -> dict[str, Any]:
    props: dict[str, Any] = {"gateItem": item.kind}
    if item.requirement is not None:
        props["requirement"] = item.requirement.get("requirement")
        if item.kind == "requirement":
            props["failing"] = item.requirement.get("failing")
            props["smallestFailing"] = dict(item.requirement.get("smallest_failing") or {})
    if item.diagnostic is not None:
        d = item.diagnostic
        for src, dst in (("fails_for", "failsFor"), ("needs", "needs"), ("fix", "fix"), ("formula", "formula")):
            if d.get(src):
                props[dst] = d[src]
        if item.blocking:
            props["blocking"] = True
    return props


def render_sarif(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A SARIF 2.1.0 log for the gate's results (``result_dict`` per model)."""

    root = repo_root()
    items = list(gate_items(results))
    codes: list[str] = []
    for it in items:
        if it.code not in codes:
            codes.append(it.code)
    codes.sort()
    index = {c: i for i, c in enumerate(codes)}
    seen: dict[str, int] = {}
    sarif_results: list[dict[str, Any]] = []
    for it in items:
        loc = _location(it, root)
        uri = loc["physicalLocation"]["artifactLocation"]["uri"]
        fp = _fingerprint(it, uri)
        seen[fp] = seen.get(fp, 0) + 1
        if seen[fp] > 1:  # the same thing twice in one model: keep both alerts apart
            fp = f"{fp}:{seen[fp]}"
        sarif_results.append(
            {
                "ruleId": it.code,
                "ruleIndex": index[it.code],
                "level": it.level,
                "message": {"text": it.message},
                "locations": [loc],
                "partialFingerprints": {FINGERPRINT_KEY: fp},
                "properties": _properties(it),
            }
        )
    driver: dict[str, Any] = {
        "name": "graphcheck",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": [_rule(c) for c in codes],
    }
    info = _information_uri()
    if info:
        driver["informationUri"] = info
    exit_code = batch_exit_code(results)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "invocations": [
                    {
                        "executionSuccessful": not any(r.get("status") == "error" for r in results),
                        "exitCode": exit_code,
                    }
                ],
                "results": sarif_results,
                "properties": {
                    "models": [{"model": str(r.get("model", "")), "status": str(r.get("status", ""))} for r in results],
                },
            }
        ],
    }

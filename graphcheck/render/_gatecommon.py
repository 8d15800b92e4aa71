"""What the SARIF and GitHub renderers of the gate share: paths relative to the repository, the
code of a failing requirement, and where a result sits in the model (ONNX node, framework layer).

Both renderers read the per-model result dicts of :func:`graphcheck.gate.result_dict` (or the
error dicts of :func:`graphcheck.gate.gate_path`), so they work on what crosses process
boundaries in batch mode.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphcheck.report.codes import CODES

GATE_FAILS = "GC201"
GATE_UNKNOWN = "GC202"
MODEL_UNREADABLE = "GC203"
INCOMPLETE = ("GC101", "GC102", "GC103", "GC901")

# "conv_a (Conv1D) [toy_1/conv_a_1/convolution] width (axis 3)" or "/Concat_2 (Concat) Concat input 1 axis 2"
_LAYER_WHERE = re.compile(r"^(?P<layer>.+?) \((?P<kind>[^()]*)\) \[(?P<node>[^\]]+)\]")
_NODE_WHERE = re.compile(r"^(?P<node>\S+) \((?P<op>[^()\s]+)\)")


def repo_root() -> Path:
    """The directory result paths are relative to: $GITHUB_WORKSPACE in GitHub Actions, else the
    enclosing git work tree of the current directory, else the current directory."""
    ws = os.environ.get("GITHUB_WORKSPACE")
    if ws:
        return Path(os.path.abspath(ws))
    cwd = Path.cwd()
    for d in [cwd, *cwd.parents]:
        if (d / ".git").exists():
            return d
    return cwd


def relative_path(model: str, root: Path | None = None) -> str | None:
    """The model's path relative to the repository root (POSIX separators), or None when it is not
    a file below the root (a registry URI, a file elsewhere)."""
    if "://" in model or model.startswith("models:/"):
        return None
    root = root if root is not None else repo_root()
    # symlinks are kept first (a model linked into a cache outside the repository, as DVC does, is still
    # the repository's file), then resolved
    candidates = [(Path(os.path.abspath(model)), Path(os.path.abspath(root)))]
    try:
        candidates.append((Path(model).resolve(), root.resolve()))
    except OSError:  # pragma: no cover
        pass
    for path, base in candidates:
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return None


@dataclass
class Where:
    """Where a result sits inside a model."""

    node: str = ""
    op: str = ""
    layer: str = ""
    layer_type: str = ""
    input: str = ""  # a model input (a fixed axis asked for another size)

    def text(self) -> str:
        if self.layer:
            kind = f" ({self.layer_type})" if self.layer_type else ""
            return f"{self.layer}{kind} [{self.node}]" if self.node else f"{self.layer}{kind}"
        if self.node:
            return f"{self.node} ({self.op})" if self.op else self.node
        return f"input {self.input}" if self.input else ""


def diagnostic_where(d: Mapping[str, Any]) -> Where:
    return Where(
        node=str(d.get("node") or ""),
        op=str(d.get("op") or ""),
        layer=str(d.get("layer") or ""),
        layer_type=str(d.get("layer_type") or ""),
    )


@dataclass
class Failure:
    """A failing requirement resolved to a code and a place."""

    code: str
    where: Where = field(default_factory=Where)


def requirement_failure(req: Mapping[str, Any], diagnostics: Sequence[Mapping[str, Any]]) -> Failure:
    """The code of a failing requirement's first failing condition, and its node and layer.

    Uses ``first_failure_code`` / ``first_failure_node`` / ``first_failure_op`` /
    ``first_failure_layer`` when the result carries them; otherwise the finding at the same node
    and for the same quantity as the ``first_failure`` text ("layer (Type) [node] what"). When no
    finding matches, the gate's own code GC201.
    """
    code = str(req.get("first_failure_code") or "")
    node = str(req.get("first_failure_node") or "")
    text = str(req.get("first_failure") or "")
    where = Where(node=node, op=str(req.get("first_failure_op") or ""), layer=str(req.get("first_failure_layer") or ""))
    if not node:
        m = _LAYER_WHERE.match(text)
        if m:
            where = Where(node=m["node"], layer=m["layer"], layer_type=m["kind"])
        else:
            m = _NODE_WHERE.match(text)
            if m:
                where = Where(node=m["node"], op=m["op"])
            elif text.startswith("input "):
                where = Where(input=text[len("input ") :].strip())
    match: Mapping[str, Any] | None = None
    if where.node:
        same_node = [d for d in diagnostics if d.get("node") == where.node]
        exact = [d for d in same_node if d.get("what") and text.endswith(f" {d['what']}")]
        if code:
            exact = [d for d in exact if d.get("code") == code] or [d for d in same_node if d.get("code") == code]
        pick = exact or (same_node if len({d.get("code") for d in same_node}) == 1 else [])
        # the condition's own code first: GC007 (pinned-dimension) sums up conditions found elsewhere
        pick = sorted(pick, key=lambda d: d.get("code") == "GC007")
        match = pick[0] if pick else None
    if match is not None:
        dw = diagnostic_where(match)
        where = Where(
            node=where.node,
            op=where.op or dw.op,
            layer=where.layer or dw.layer,
            layer_type=where.layer_type or dw.layer_type,
        )
        code = code or str(match.get("code") or "")
    if not code or code not in CODES:
        code = GATE_FAILS
    return Failure(code, where)


def smallest_text(req: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in dict(req.get("smallest_failing") or {}).items())


def failure_message(req: Mapping[str, Any], lines: bool = False) -> str:
    """'required L in 5..100 fails for 5 <= L <= 8; smallest failing: ...; first failing layer: ...: detail'."""
    parts = [f"required {req['requirement']} fails for {req['failing']}"]
    small = smallest_text(req)
    if small:
        parts.append(f"smallest failing: {small}")
    if req.get("first_failure"):
        first = f"first failing layer: {req['first_failure']}"
        if req.get("detail"):
            first += f": {req['detail']}"
        parts.append(first)
    elif req.get("detail"):
        parts.append(str(req["detail"]))
    fixes = [str(f.get("text", "")) for f in req.get("fixes") or []]
    if fixes:
        parts.append("verified fixes: " + "; ".join(fixes))
    return ("\n" if lines else "; ").join(parts)


def incomplete_message(result: Mapping[str, Any]) -> str:
    stops = [d for d in result.get("diagnostics") or [] if d.get("code") in INCOMPLETE]
    if stops:
        d = stops[0]
        at = f"{diagnostic_where(d).text()}: {d.get('message', '')}"
    else:
        at = "a node it cannot follow"
    return f"the gate's answer is unknown: the analysis is incomplete at {at} (--allow-unknown to pass anyway)"


@dataclass
class GateItem:
    """One line of the gate's output: a failing or undecided requirement, a finding, an error."""

    kind: str  # "requirement", "unknown", "incomplete", "finding", "error"
    code: str
    level: str  # "error", "warning", "note"
    model: str
    message: str
    where: Where = field(default_factory=Where)
    key: str = ""  # what identifies it within the model (fingerprints)
    requirement: Mapping[str, Any] | None = None
    diagnostic: Mapping[str, Any] | None = None
    blocking: bool = False


LEVEL = {"error": "error", "warning": "warning", "info": "note", "note": "note"}
# findings that are one condition's bound on the sizes (not GC007 pinned / GC008 no valid size)
CONDITION_CODES = {"GC001", "GC002", "GC003", "GC004", "GC005", "GC006", "GC009", "GC010"}


def _no_valid_size(req: Mapping[str, Any]) -> bool:
    """The gate's outcome for a model without requirements that accepts no size at all."""
    return not req.get("first_failure") and not req.get("smallest_failing") and req.get("requirement") == "any size"


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("code", "node", "order", "message"))


def gate_items(results: Sequence[Mapping[str, Any]]) -> Iterator[GateItem]:
    """Every item of every result: first the gate's verdicts (failing and undecided requirements,
    unreadable models) of all models, then the findings, model by model."""
    for r in results:
        model = str(r.get("model", ""))
        status = str(r.get("status", ""))
        diags = list(r.get("diagnostics") or [])
        if status == "error":
            err = str(r.get("error") or "cannot read the model")
            if err.startswith(f"{model}: "):  # the loader's message already starts with the path
                err = err[len(model) + 2 :]
            yield GateItem("error", MODEL_UNREADABLE, "error", model, err)
            continue
        reqs = list(r.get("requirements") or [])
        for req in reqs:
            if req.get("status") == "fail" and _no_valid_size(req):
                none = [d for d in diags if d.get("code") == "GC008"]
                text = "no input size at all is valid"
                yield GateItem(
                    "requirement",
                    "GC008" if none else GATE_FAILS,
                    "error",
                    model,
                    f"{text}: {none[0].get('message', '')}" if none else text,
                    diagnostic_where(none[0]) if none else Where(),
                    key="requirement|no valid size",
                    requirement=req,
                )
            elif req.get("status") == "fail":
                f = requirement_failure(req, diags)
                yield GateItem(
                    "requirement",
                    f.code,
                    "error",
                    model,
                    failure_message(req),
                    f.where,
                    key=f"requirement|{req.get('requirement')}",
                    requirement=req,
                )
            elif req.get("status") == "unknown":
                yield GateItem(
                    "unknown",
                    GATE_UNKNOWN,
                    "warning",
                    model,
                    f"cannot decide whether the model accepts {req.get('requirement')}: {req.get('reason')}",
                    key=f"unknown|{req.get('requirement')}",
                    requirement=req,
                )
        if status == "unknown" and not any(q.get("status") == "unknown" for q in reqs):
            stops = [d for d in diags if d.get("code") in INCOMPLETE]
            yield GateItem(
                "incomplete",
                GATE_UNKNOWN,
                "warning",
                model,
                incomplete_message(r),
                diagnostic_where(stops[0]) if stops else Where(),
                key="incomplete",
            )
    for r in results:
        model = str(r.get("model", ""))
        blocking = list(r.get("blocking") or [])
        no_size = any(q.get("status") == "fail" and _no_valid_size(q) for q in r.get("requirements") or [])
        for d in r.get("diagnostics") or []:
            if no_size and d.get("code") == "GC008":
                continue  # already the gate's verdict
            blocks = any(_same(d, b) for b in blocking)
            where = diagnostic_where(d)
            text = str(d.get("message", ""))
            if where.text():
                text = f"{where.text()}: {text}"
            if blocks:
                text += " (blocks the gate: the policy's fail-on)"
            # a condition finding (GC0xx) bounds the sizes; it is an error only through the verdict
            # of a requirement it fails (reported above), so on its own it is a note
            cond = str(d.get("code", "")) in CONDITION_CODES
            level = "error" if blocks else ("note" if cond else LEVEL.get(str(d.get("severity", "")), "warning"))
            yield GateItem(
                "finding",
                str(d.get("code", "")),
                level,
                model,
                text,
                where,
                key=f"finding|{d.get('node', '')}|{d.get('what', '')}|{','.join(d.get('symbols') or [])}",
                diagnostic=d,
                blocking=blocks,
            )


def counts(results: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {k: sum(1 for r in results if r.get("status") == k) for k in ("pass", "fail", "unknown", "error")}


def summary_text(results: Sequence[Mapping[str, Any]]) -> str:
    c = counts(results)
    n = len(results)
    return (
        f"{n} model{'s' if n != 1 else ''}: {c['pass']} passed, {c['fail']} failed, "
        f"{c['unknown']} unknown, {c['error']} error{'s' if c['error'] != 1 else ''}"
    )


def batch_exit_code(results: Sequence[Mapping[str, object]]) -> int:
    """The exit code of a gate run: 2 when any model errs or is undecided (or there are none), 1 when one fails."""
    statuses = {r["status"] for r in results}
    if not results or statuses & {"error", "unknown"}:
        return 2
    return 1 if "fail" in statuses else 0

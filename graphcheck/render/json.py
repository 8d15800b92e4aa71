"""JSON output (``--format json``); ``schema_version`` changes when a field changes meaning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphcheck.report.evaluate import Evaluation
from graphcheck.version import __version__

if TYPE_CHECKING:
    from graphcheck.report.fixes import Fix
    from graphcheck.report.report import Report

SCHEMA_VERSION = 1


def _symbol_entry(report: Report, name: str) -> dict[str, Any]:
    values = report.valid_set(name)
    # the exporter's names for the size (tf2onnx's unk__68, torch.export's s77), which name it too
    aliases = [k for k, v in report.analysis.aliases.items() if v == name]
    if values is None:
        return {"name": name, "aliases": aliases, "statement": None, "min": None, "max": None, "coupled": True}
    return {
        "name": name,
        "aliases": aliases,
        "statement": values.describe(name),
        "min": values.min(),
        "max": None if values.unbounded() else values.max(),
        "coupled": False,
    }


def evaluation_dict(ev: Evaluation, fixes: list[Fix] | None = None) -> dict[str, Any]:
    first = ev.first_failure
    return {
        "fixes": [f.to_dict() for f in fixes or []],
        "sizes": ev.sizes,
        "context": ev.context or None,
        "ok": ev.ok,
        "first_failure": None
        if first is None
        else {"code": first.code, "node": first.node, "op": first.op, "what": first.what, "formula": first.formula},
        "failures": len(ev.failures),
        "refused": ev.refused or None,
        "not_followed": None
        if ev.not_followed is None
        else {"node": ev.not_followed.node, "op": ev.not_followed.op, "what": ev.not_followed.what},
        "outputs": {k: (list(v) if v is not None else None) for k, v in ev.outputs.items()},
        "layers": [
            {
                "layer": row.layer,
                "type": row.kind,
                "outputs": {name: (list(s) if s is not None else None) for name, s in row.outputs},
                "failed": [r.code for r in row.failed],
            }
            for row in ev.layers
        ],
        "nodes": [
            {
                "node": n.node,
                "op": n.op,
                "outputs": {name: (list(s) if s is not None else None) for name, s in n.outputs},
                "failed": [r.code for r in n.failed],
            }
            for n in ev.nodes
        ],
    }


def _producer(report: Report) -> str | None:
    g = report.analysis.graph
    text = " ".join(x for x in (g.producer, g.producer_version) if x)
    return text or None


def report_dict(report: Report, evaluation: Evaluation | None = None, fixes: list[Fix] | None = None) -> dict[str, Any]:
    sol = report.solution
    return {
        "schema_version": SCHEMA_VERSION,
        "graphcheck_version": __version__,
        "model": report.name,
        # a live model's report (graphcheck.torch, .keras, .jax): the exporter that produced the
        # analysed graph and every one tried; every report: the producer the graph records
        "exporter": getattr(report, "exporter", "") or None,
        "producer": _producer(report),
        "attempts": [
            {"exporter": a.exporter, "outcome": a.outcome, "expected": a.expected}
            for a in getattr(report, "attempts", ())
        ],
        "inputs": [{"name": i.name, "dims": list(i.dims) if i.dims is not None else None} for i in report.inputs],
        "symbols": [_symbol_entry(report, s) for s in report.symbols],
        "free_symbols": [s.name for s in sol.free],
        "aliases": dict(report.analysis.aliases),  # exporter's name -> the symbol's (unk__68 -> signal_len)
        "valid": report.valid,
        "any_valid": report.any_valid,
        "exact": report.exact,
        "complete": report.complete,
        "smallest": report.smallest(),
        "outputs": [{"name": k, "dims": v} for k, v in report.output_dims.items()],
        "diagnostics": [d.to_dict() for d in report.diagnostics],
        # a model whose Ifs read inputs the caller sets: each mode's statement (``values``: input ->
        # value, null for "any other value"); the top-level answers hold in every mode
        "modes": [
            {"values": dict(v.values), "label": v.label, "valid": m.valid, "exact": m.exact} for v, m in report.modes
        ],
        # a model split by Ifs on the sizes: each case's path condition
        "cases": [" and ".join(str(c) for c in case.path) for case, _ in report.cases],
        "at": evaluation_dict(evaluation, fixes) if evaluation is not None else None,
    }

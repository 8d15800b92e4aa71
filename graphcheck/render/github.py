"""GitHub Actions output of the gate (``graphcheck gate --format github``): workflow commands.

One line per failing or undecided requirement, unreadable model and finding, as an annotation
(``::error file=models/asr.onnx,title=GC001 negative-dimension::...``), the gate's verdicts first
(GitHub shows a limited number of annotations per step), then a summary line. Levels: error,
warning, and notice for the codes of severity info. Messages are escaped as the Actions runner
requires (``%``, CR and LF in the message; also ``:`` and ``,`` in property values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphcheck.render._gatecommon import (
    GateItem,
    counts,
    failure_message,
    gate_items,
    relative_path,
    summary_text,
)
from graphcheck.report.codes import CODES

__all__ = ["render_github", "escape_data", "escape_property"]

_COMMAND = {"error": "error", "warning": "warning", "note": "notice"}


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, ``\\r`` and ``\\n`` percent-encoded."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: like the message, and ``:`` and ``,`` too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _title(code: str) -> str:
    c = CODES.get(code)
    return f"{code} {c.name}" if c is not None else code


def _line(item: GateItem) -> str:
    props = []
    rel = relative_path(item.model)
    if rel is not None:
        props.append(f"file={escape_property(rel)}")
    props.append(f"title={escape_property(_title(item.code))}")
    message = item.message
    if item.kind == "requirement" and item.requirement is not None and item.requirement.get("first_failure"):
        message = failure_message(item.requirement, lines=True)
    return f"::{_COMMAND.get(item.level, 'warning')} {','.join(props)}::{escape_data(f'{item.model}: {message}')}"


def render_github(results: Sequence[Mapping[str, Any]]) -> str:
    """Workflow-command lines for the gate's results (``result_dict`` per model) and a summary."""
    lines = [_line(item) for item in gate_items(results)]
    c = counts(results)
    verdict = "error" if c["fail"] or c["error"] else "warning" if c["unknown"] else "notice"
    label = "FAIL" if c["fail"] or c["error"] else "UNKNOWN" if c["unknown"] else "PASS"
    lines.append(f"::{verdict} title=graphcheck gate::{escape_data(f'{label}: {summary_text(results)}')}")
    return "\n".join(lines)

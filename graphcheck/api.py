"""The library's entry point: ``graphcheck.check`` and the report it returns.

:class:`Report` is :class:`graphcheck.report.report.Report` with what sits above it in the
house: its text (``str(report)``, ``explain``) and JSON renderings, and the verified fix
search. The frontends (``graphcheck.keras``, ``graphcheck.torch``) and the gate return it too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from graphcheck.errors import UsageError
from graphcheck.report import report as _core
from graphcheck.report.fixes import Fix, suggest_fixes

if TYPE_CHECKING:
    from graphcheck.model.load import ModelLike
    from graphcheck.report.deploy import DeployPlan

__all__ = ["Report", "check"]


class Report(_core.Report):
    """What graphcheck knows about a model's input sizes, with its renderings and fixes.

    ``str(report)`` is the text of ``graphcheck check``; ``report.explain(sizes)`` that of
    ``graphcheck explain``; ``report.to_dict()`` the JSON of ``--format json``;
    ``report.fixes(sizes)`` the verified changes under which the model accepts ``sizes``.
    """

    def fixes(self, sizes: Mapping[str, int]) -> list[Fix]:
        """Changes that make the model accept ``sizes``, each verified by re-inferring the changed model."""
        return suggest_fixes(self, sizes)

    def to_dict(self) -> dict[str, object]:
        from graphcheck.render.json import report_dict

        return report_dict(self)

    def explain(self, sizes: Mapping[str, int], nodes: bool = False) -> str:
        """The text of ``graphcheck explain``: every layer's (or node's) output shape at ``sizes``,
        the first failure marked, with verified fixes when it fails."""
        from graphcheck.render.text import render_explain

        ev = self.at(sizes)
        return render_explain(self, ev, self.fixes(sizes) if ev.ok is False else [], nodes=nodes)

    def deploy_plan(
        self,
        *,
        min: Mapping[str, int] | None = None,
        max: Mapping[str, int] | None = None,
        opt: Mapping[str, int] | None = None,
    ) -> DeployPlan:
        """Profiles of proven-valid sizes (boxes), per-size notes and torch.export Dims, within the
        given bounds per size (``max={"L": 16000}``); see :mod:`graphcheck.report.deploy`."""
        from graphcheck.report.deploy import Bounds, plan

        return plan(self, Bounds(dict(min or {}), dict(max or {}), dict(opt or {})))

    def emit(
        self,
        kind: str,
        *,
        min: Mapping[str, int] | None = None,
        max: Mapping[str, int] | None = None,
        opt: Mapping[str, int] | None = None,
    ) -> str:
        """A deployment artifact as text: ``"trtexec"``, ``"tensorrt-json"``, ``"triton"``,
        ``"torch-dynamic-shapes"`` or ``"mlflow-signature"`` (``graphcheck check --emit KIND``)."""
        from graphcheck.render.deploy import render_emit

        return render_emit(self.deploy_plan(min=min, max=max, opt=opt), kind)

    def __str__(self) -> str:
        """The text of ``graphcheck check``."""
        from graphcheck.render.text import render_check

        return render_check(self)


def check(
    model: ModelLike,
    dims: Mapping[str, int | str] | Sequence[str] | None = None,
    *,
    semantics: str = "spec",
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Analyse a model: a path, serialized bytes, or an in-memory ``onnx.ModelProto``.

    ``dims`` fixes or renames sizes: ``{"N": 1}`` fixes a symbol, ``{"signal:1": "L"}`` makes a
    fixed dimension symbolic ("which lengths would this model accept?"); the CLI's
    ``["N=1", "signal:1=L"]`` form is accepted too. ``semantics="ort"`` reproduces
    onnxruntime where it deviates from the ONNX spec (its pools truncate toward zero).
    ``progress(done, total)`` is called as the analysis walks a long graph.
    """
    from graphcheck.infer.engine import analyze, parse_dims
    from graphcheck.model.load import load

    if semantics not in ("spec", "ort"):
        raise UsageError(f"semantics must be 'spec' or 'ort', got {semantics!r}")
    if dims is None:
        dmap: dict[str, int | str] = {}
    elif isinstance(dims, Mapping):
        dmap = dict(dims)
    else:
        dmap = parse_dims(list(dims))
    graph = load(model)
    name = os.fspath(model) if isinstance(model, str | os.PathLike) else graph.source
    return Report(analyze(graph, dmap, semantics, progress), name)

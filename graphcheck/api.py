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
from graphcheck.report.fixes import Fix, input_size_fixes, suggest_fixes

if TYPE_CHECKING:
    from graphcheck.model.load import ModelLike
    from graphcheck.report.annotate import Annotated
    from graphcheck.report.deploy import DeployPlan

__all__ = ["Report", "check"]


class Report(_core.Report):
    """What graphcheck knows about a model's input sizes, with its renderings and fixes.

    ``str(report)`` is the text of ``graphcheck check``; ``report.explain(sizes)`` that of
    ``graphcheck explain``; ``report.to_dict()`` the JSON of ``--format json``;
    ``report.fixes(sizes)`` the verified changes under which the model accepts ``sizes``.
    """

    def fixes(self, sizes: Mapping[str, int]) -> list[Fix]:
        """Changes that make the model accept ``sizes``, each verified by re-inferring the changed model
        (for a model with modes or control-flow cases: in the mode or case those sizes are in)."""
        target, rest, _ = self.resolve(sizes)
        if target is self:
            return suggest_fixes(self, sizes)
        assert isinstance(target, Report)
        # changes to layers are searched in the walk of that mode or case; the sizes to feed come
        # from the valid set of the whole mode (a case's own set assumes its path)
        scope: _core.Report = self
        scope_sizes = dict(sizes)
        if self.modes:
            picked, rest_sizes, _ = self._split_modes(sizes)
            if len(picked) == 1:
                scope, scope_sizes = picked[0], rest_sizes
        layer_fixes = [f for f in target.fixes(rest) if f.param != "input_length"]
        return layer_fixes + input_size_fixes(scope, scope_sizes)

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

    def annotate(
        self,
        out: str | os.PathLike[str],
        *,
        at: Mapping[str, int] | None = None,
        model: ModelLike | None = None,
    ) -> Annotated:
        """Write the model to ``out`` with every value's exact shape (``graphcheck annotate``):
        dims as integers, or as expressions over the inputs' dim names in the grammar of
        :mod:`graphcheck.symbolic.dimtext`; with ``at``, integers at those sizes. The weights are
        copied byte for byte, never parsed. ``model`` is the analysed model when the report was
        made from bytes or an ``onnx.ModelProto`` (a path is read again by default)."""
        from graphcheck.report.annotate import annotate

        source: str | os.PathLike[str] | bytes | None
        if model is None or isinstance(model, str | os.PathLike | bytes):
            source = model
        elif isinstance(model, bytearray | memoryview):
            source = bytes(model)
        else:  # an onnx.ModelProto: its bytes (the caller holds it in memory already)
            source = model.SerializeToString()
        return annotate(self, out, at, source)

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

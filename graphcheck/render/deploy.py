"""Deployment artifacts as text, from a :class:`graphcheck.report.deploy.DeployPlan`.

``trtexec`` flags and a TensorRT profile JSON (one optimization profile per proven box), a Triton
``config.pbtxt`` fragment (dims of -1, dtypes, the valid set as comments), a torch.export
``dynamic_shapes`` dict (``Dim(min=, max=)``, ``8 * Dim(...)``), and an MLflow model signature with
the valid set as model metadata (the ``signature`` and ``metadata`` of an ``MLmodel`` file). No
serving library is imported: the texts are checked by the real parsers in the tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from graphcheck.report.deploy import DeployPlan, Profile, TensorInfo, TorchDim
from graphcheck.version import __version__

__all__ = ["EMIT_KINDS", "ONNX_TRITON", "ONNX_NUMPY", "render_emit", "deploy_dict", "trt_profiles"]

# ONNX TensorProto element types
ONNX_TRITON = {
    1: "TYPE_FP32",
    2: "TYPE_UINT8",
    3: "TYPE_INT8",
    4: "TYPE_UINT16",
    5: "TYPE_INT16",
    6: "TYPE_INT32",
    7: "TYPE_INT64",
    8: "TYPE_STRING",
    9: "TYPE_BOOL",
    10: "TYPE_FP16",
    11: "TYPE_FP64",
    12: "TYPE_UINT32",
    13: "TYPE_UINT64",
    16: "TYPE_BF16",
}
ONNX_NUMPY = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "str",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
}


def _comment_lines(plan: DeployPlan, mark: str, notes: tuple[str, ...] | None = None) -> list[str]:
    lines = [f"{mark} graphcheck {__version__}: {plan.model}", f"{mark} valid: {plan.valid.strip()}"]
    lines += [f"{mark} note: {n}" for n in (plan.notes if notes is None else notes)]
    return lines


# -- TensorRT ------------------------------------------------------------------------------------


def trt_profiles(plan: DeployPlan) -> list[dict[str, dict[str, list[int]]]]:
    """Per profile, per dynamic input: its min/opt/max shapes."""
    out = []
    for p in plan.require_profiles("TensorRT profiles"):
        entry: dict[str, dict[str, list[int]]] = {}
        for t in plan.dynamic_inputs:
            assert t.dims is not None
            entry[t.name] = {w: list(p.shape(t.dims, w)) for w in ("min", "opt", "max")}
        out.append(entry)
    return out


def _shape_flag(plan: DeployPlan, p: Profile, which: str) -> str:
    specs = []
    for t in plan.dynamic_inputs:
        assert t.dims is not None
        name = t.name if re.fullmatch(r"[\w./-]+", t.name) else f"'{t.name}'"
        specs.append(f"{name}:{'x'.join(map(str, p.shape(t.dims, which)))}")
    return ",".join(specs)


def render_trtexec(plan: DeployPlan) -> str:
    profiles = plan.require_profiles("trtexec flags")
    lines = _comment_lines(plan, "#")
    lines.append(f"# {len(profiles)} optimization profile(s), one per line; every shape inside each is proven valid")
    for p in profiles:
        flags = [f"--{w}Shapes={_shape_flag(plan, p, w)}" for w in ("min", "opt", "max")]
        lines.append(" ".join(flags))
    return "\n".join(lines)


def render_tensorrt_json(plan: DeployPlan) -> str:
    payload = {
        "graphcheck_version": __version__,
        "model": plan.model,
        "valid": plan.valid.strip(),
        "profiles": trt_profiles(plan),
        "notes": list(plan.notes),
    }
    return _compact(payload)


def _compact(payload: object) -> str:
    """Indented JSON with each list of sizes on one line."""
    text = json.dumps(payload, indent=2)
    return re.sub(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]", lambda m: "[" + re.sub(r",\s*", ", ", m.group(1)) + "]", text)


# -- Triton -----------------------------------------------------------------------------------------


def _triton_dims(t: TensorInfo) -> str:
    dims = t.dims if t.dims is not None else ("?",)
    return "[ " + ", ".join(str(d) if isinstance(d, int) else "-1" for d in dims) + " ]"


def _triton_tensor(t: TensorInfo) -> list[str]:
    dtype = ONNX_TRITON.get(t.elem_type, "TYPE_INVALID")
    shown = ", ".join(str(d) for d in t.dims) if t.dims is not None else "rank unknown"
    return [
        "  {",
        f'    name: "{_escape(t.name)}"',
        f"    data_type: {dtype}",
        f"    dims: {_triton_dims(t)}  # [{shown}]",
        "  }",
    ]


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _model_name(model: str) -> str:
    stem = re.split(r"[/\\]", model.rstrip("/\\"))[-1]
    stem = stem[: -len(".onnx")] if stem.lower().endswith(".onnx") else stem
    return re.sub(r"[^\w.-]", "_", stem) or "model"


def render_triton(plan: DeployPlan) -> str:
    lines = _comment_lines(plan, "#", ())  # the profiles' notes are about boxes, which Triton has not
    lines.append(
        "# dims of -1 are checked by neither Triton nor onnxruntime before the model runs: send only valid sizes"
    )
    for sn in plan.sets:
        if sn.statement and not sn.coupled:
            lines.append(f"#   {sn.name}: {sn.statement}")
    lines += [f'name: "{_model_name(plan.model)}"', 'platform: "onnxruntime_onnx"', "max_batch_size: 0", "input ["]
    for i, t in enumerate(plan.inputs):
        block = _triton_tensor(t)
        if i < len(plan.inputs) - 1:
            block[-1] += ","
        lines += block
    lines += ["]", "output ["]
    for i, t in enumerate(plan.outputs):
        block = _triton_tensor(t)
        if i < len(plan.outputs) - 1:
            block[-1] += ","
        lines += block
    lines.append("]")
    return "\n".join(lines)


# -- torch.export -------------------------------------------------------------------------------------


def _ident(name: str) -> str:
    s = re.sub(r"\W", "_", name)
    return s if s and not s[0].isdigit() else f"d_{s}"


def _dim_call(name: str, lo: int | None, hi: int | None) -> str:
    args = [f'"{name}"']
    if lo is not None:
        args.append(f"min={lo}")
    if hi is not None:
        args.append(f"max={hi}")
    return f"Dim({', '.join(args)})"


def _torch_expr(d: TorchDim) -> tuple[list[str], str | None]:
    """Definitions for one size and the expression naming it (None: static)."""
    v = _ident(d.name)
    if d.kind == "static":
        return [], None
    if d.kind == "dim":
        return [f"{v} = {_dim_call(v, d.min, d.max)}"], v
    if d.kind == "multiple":
        k = f"{v}_k"
        tail = f" + {d.offset}" if d.offset > 0 else (f" - {-d.offset}" if d.offset < 0 else "")
        return [f"{k} = {_dim_call(k, d.min, d.max)}", f"{v} = {d.step} * {k}{tail}"], v
    base = _ident(d.base)
    scale = f"{d.step} * " if d.step != 1 else ""
    tail = f" + {d.offset}" if d.offset > 0 else (f" - {-d.offset}" if d.offset < 0 else "")
    if not scale and not tail:
        return [], base
    return [f"{v} = {scale}{base}{tail}"], v


def render_torch(plan: DeployPlan) -> str:
    if not plan.torch:
        plan.require_profiles("torch.export dynamic_shapes")
    lines = _comment_lines(plan, "#", plan.torch_notes)
    lines.append("# keys are the ONNX input names: rename them to forward()'s parameters where they differ")
    lines += ["from torch.export import Dim", ""]
    names: dict[str, str | None] = {}
    statics: list[str] = []
    bases = [d for d in plan.torch if d.kind != "same"] + [d for d in plan.torch if d.kind == "same"]
    for d in bases:
        defs, expr = _torch_expr(d)
        lines += defs
        names[d.name] = expr
        if expr is None:
            value = d.value if d.kind == "static" else None
            statics.append(f"{d.name} = {value}")
    if statics:
        lines.append(f"# static (the example inputs must have these sizes): {', '.join(statics)}")
    lines += ["", "dynamic_shapes = {"]
    for t in plan.inputs:
        axes = [] if t.dims is None else [(i, names.get(d)) for i, d in enumerate(t.dims) if isinstance(d, str)]
        axes = [(i, e) for i, e in axes if e is not None]
        body = "{" + ", ".join(f"{i}: {e}" for i, e in axes) + "}" if axes else "None"
        lines.append(f'    "{_escape(t.name)}": {body},')
    lines.append("}")
    return "\n".join(lines)


# -- MLflow ------------------------------------------------------------------------------------------------


def mlflow_dict(plan: DeployPlan) -> dict[str, Any]:
    """The ``signature`` and ``metadata`` entries of an MLmodel file (``ModelSignature.from_dict``)."""

    def specs(ts: tuple[TensorInfo, ...]) -> str:
        out = []
        for t in ts:
            shape = [-1] if t.dims is None else [d if isinstance(d, int) else -1 for d in t.dims]
            dtype = ONNX_NUMPY.get(t.elem_type, "float32")
            out.append({"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": shape}, "name": t.name})
        return json.dumps(out)

    meta = {
        "version": __version__,
        "valid": plan.valid.strip(),
        "exact": plan.exact,
        "dims": {t.name: list(t.dims) if t.dims is not None else None for t in plan.inputs},
        "sizes": {sn.name: sn.statement for sn in plan.sets},
        "profiles": [{r.name: [r.min, r.opt, r.max] for r in p.ranges} for p in plan.profiles],
    }
    return {
        "signature": {"inputs": specs(plan.inputs), "outputs": specs(plan.outputs), "params": None},
        "metadata": {"graphcheck": meta},
    }


def render_mlflow(plan: DeployPlan) -> str:
    return _compact(mlflow_dict(plan))


EMIT_KINDS: dict[str, Callable[[DeployPlan], str]] = {
    "trtexec": render_trtexec,
    "tensorrt-json": render_tensorrt_json,
    "triton": render_triton,
    "torch-dynamic-shapes": render_torch,
    "mlflow-signature": render_mlflow,
}


def render_emit(plan: DeployPlan, kind: str) -> str:
    from graphcheck.errors import UsageError

    fn = EMIT_KINDS.get(kind)
    if fn is None:
        raise UsageError(f"--emit {kind!r}: expected one of {', '.join(EMIT_KINDS)}")
    return fn(plan)


def deploy_dict(plan: DeployPlan, kind: str) -> dict[str, Any]:
    """The ``deploy`` entry of ``--format json``: the artifact's text and what it was made from."""
    return {
        "kind": kind,
        "artifact": render_emit(plan, kind),
        "profiles": [
            [{"name": r.name, "min": r.min, "opt": r.opt, "max": r.max} for r in p.ranges] for p in plan.profiles
        ],
        "notes": list(plan.notes),
        "sizes": [
            {
                "name": sn.name,
                "statement": sn.statement,
                "coupled": sn.coupled,
                "window": list(sn.window) if sn.window else None,
                "failing_inside": sn.failing_inside or None,
            }
            for sn in plan.sets
        ],
        "problem": plan.problem or None,
    }

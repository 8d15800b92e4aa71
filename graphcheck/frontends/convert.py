"""The conversion worker: model files of other frameworks to ONNX, run as ``python -m graphcheck.frontends.convert``.

:mod:`graphcheck.frontends.workers` starts it with a jobs file (a JSON list: ``format``, ``source``,
the ``onnx`` and ``meta`` paths to write, ``dynamic`` axes, ``opset``) and the indices of the jobs to
run. For each job it writes the converted model to ``onnx`` and what the report needs to ``meta``
(the exporter, its attempts, the framework's layer names: :func:`~graphcheck.frontends.contract.provenance_dict`),
or ``{"error": one line}`` to ``meta``, then prints ``done <i>``. The parent enforces the time limit
and survives a crash; here, library output goes to stderr so stdout carries only the reports.

Per format (the graph each converter makes is what an ONNX export of the model would be):

* ``.keras`` / ``.h5``: ``keras.saving.load_model(path, compile=False)`` (``safe_mode`` on: no
  lambdas deserialized), then :func:`graphcheck.frontends.keras.export`, which keeps the saved
  ``Input``'s ``None`` dims dynamic and names layers as the live front end does;
* SavedModel: the serving signature (``serving_default``, else the first) through tf2onnx's
  SavedModel path (what ``python -m tf2onnx.convert --saved-model`` runs); ``None`` dims stay dynamic;
* ``.tflite``: ``tf2onnx.convert.from_tflite``; a ``-1`` in a tensor's shape signature stays dynamic;
  inputs and outputs are renamed to the model's signature names (``signal``, not
  ``serving_default_signal:0``);
* ``.pt2``: ``torch.export.load``, then ``torch.onnx.export`` (dynamo) of the program: its symbolic
  sizes stay dynamic and its ``range_constraints`` are kept (GC107), modules named by their path.

Sizes are then named as the front ends name them (``batch``, ``signal_len``), never ``unk__68``/``s77``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from graphcheck.errors import GraphcheckError
from graphcheck.frontends.contract import (
    Attempt,
    Exported,
    dim_name,
    mute_stderr,
    provenance_dict,
    rename_input_dims,
    rename_values,
)
from graphcheck.model.layers import FrameworkInfo, LayerInfo

if TYPE_CHECKING:
    import onnx

__all__ = ["convert", "main"]

TF_OPSET = 17  # as graphcheck.keras


class _NoCache(Exception):
    """An error that says nothing about the file (a package missing): not remembered in the cache."""


def _first_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    return line if len(line) <= 240 else line[:237] + "..."


# --------------------------------------------------------------------------- TensorFlow and Keras


def _tf() -> tuple[Any, Any, Any]:
    from graphcheck.frontends.keras import frameworks

    try:
        return frameworks()
    except Exception as exc:
        raise _NoCache(str(exc)) from None


def _keras_file(path: str, dynamic: Sequence[str], opset: int | None) -> Exported:
    from graphcheck.frontends.keras import export, quiet

    keras, _, _ = _tf()
    try:
        with quiet(), mute_stderr():
            model = keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise ValueError(f"keras.saving.load_model cannot load it ({_first_line(exc)})") from None
    if not hasattr(model, "inputs") or not hasattr(model, "layers"):
        raise ValueError(f"keras.saving.load_model gave a {type(model).__name__}, not a model")
    exported = export(model, opset, dynamic)
    return replace(exported, exporter=f"{exported.exporter}, after keras.saving.load_model")


def _tf_versions(tf: Any, tf2onnx: Any, opset: int) -> str:
    return f"tf2onnx {tf2onnx.__version__}, TensorFlow {tf.__version__}, opset {opset}"


def _tf_exported(proto: onnx.ModelProto, name: str, label: str, versions: str) -> Exported:
    """A TensorFlow file's graph from tf2onnx, its generated size names (``unk__68``) renamed as the
    Keras front end names them; layer names come from tf2onnx's name scopes (no live model)."""
    from graphcheck.frontends.keras import GENERATED

    rename_input_dims(proto, dim_name, lambda p: GENERATED.match(p) is not None, tie_batch=True)
    return Exported(proto, FrameworkInfo("keras", {}, name), f"{label} ({versions})", (Attempt(label, "used"),))


def _serving_signature(path: str) -> str:
    """``serving_default`` when the SavedModel has it, else its first signature."""
    from tensorflow.core.protobuf import saved_model_pb2

    pb = os.path.join(path, "saved_model.pb")
    sigs: list[str] = []
    if os.path.isfile(pb):
        with open(pb, "rb") as f:
            sm = saved_model_pb2.SavedModel.FromString(f.read())
        for mg in sm.meta_graphs:
            if "serve" in mg.meta_info_def.tags or len(sm.meta_graphs) == 1:
                sigs.extend(k for k in mg.signature_def if not k.startswith("__"))
    if not sigs:
        raise ValueError("the SavedModel has no serving signature (tf2onnx converts a signature)")
    return "serving_default" if "serving_default" in sigs else sigs[0]


def _saved_model(path: str, opset: int | None) -> Exported:
    _, tf, tf2onnx = _tf()
    from graphcheck.frontends.keras import quiet

    target = opset or TF_OPSET
    try:
        with quiet(), mute_stderr():
            from tf2onnx import tf_loader
            from tf2onnx.convert import _convert_common  # what tf2onnx's own --saved-model command runs

            sig = _serving_signature(path)
            graph_def, inputs, outputs, tables, renames = tf_loader.from_saved_model(
                path,
                None,
                None,
                tag="serve",
                signatures=[sig],
                return_initialized_tables=True,
                return_tensors_to_rename=True,
            )
            proto, _ = _convert_common(
                graph_def,
                name=os.path.basename(os.path.normpath(path)),
                continue_on_error=True,
                opset=target,
                input_names=inputs,
                output_names=outputs,
                tensors_to_rename=renames,
                initialized_tables=tables,
            )
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"tf2onnx cannot convert this SavedModel ({_first_line(exc)})") from None
    label = f"tf2onnx from_saved_model, signature {sig!r}"
    return _tf_exported(proto, os.path.basename(os.path.normpath(path)), label, _tf_versions(tf, tf2onnx, target))


def _tflite_signature_names(path: str) -> dict[str, str]:
    """The tensor names of the first signature's inputs and outputs -> their signature names."""
    from tf2onnx.tflite.Model import Model

    with open(path, "rb") as f:
        buf = bytearray(f.read())
    model = Model.GetRootAsModel(buf, 0)
    if model.SignatureDefsLength() < 1:
        return {}
    sd = model.SignatureDefs(0)
    graph = model.Subgraphs(sd.SubgraphIndex())
    out: dict[str, str] = {}
    for count, get in ((sd.InputsLength(), sd.Inputs), (sd.OutputsLength(), sd.Outputs)):
        for j in range(count):
            tm = get(j)
            tensor = graph.Tensors(tm.TensorIndex()).Name().decode()
            out[tensor] = tm.Name().decode()
    return out


def _tflite(path: str, opset: int | None) -> Exported:
    _, tf, tf2onnx = _tf()
    from graphcheck.frontends.keras import quiet

    target = opset or TF_OPSET
    try:
        with quiet(), mute_stderr():
            proto, _ = tf2onnx.convert.from_tflite(path, opset=target)
        names = _tflite_signature_names(path)
    except Exception as exc:
        raise ValueError(f"tf2onnx cannot convert this TFLite model ({_first_line(exc)})") from None
    taken = {v.name for v in (*proto.graph.input, *proto.graph.output)}
    mapping = {}
    for vi in (*proto.graph.input, *proto.graph.output):
        new = names.get(vi.name) or names.get(vi.name.removesuffix(":0"))
        if new and new not in taken:
            mapping[vi.name] = new
            taken.add(new)
    rename_values(proto, mapping)
    label = "tf2onnx from_tflite"
    return _tf_exported(proto, os.path.splitext(os.path.basename(path))[0], label, _tf_versions(tf, tf2onnx, target))


# --------------------------------------------------------------------------- torch.export


def _program_info(program: Any) -> FrameworkInfo:
    """Each module the program ran, by its path, with its class (from torch.export's nn_module_stack)."""
    layers: dict[str, LayerInfo] = {}
    root = ""
    for node in program.graph.nodes:
        for path, cls in (node.meta.get("nn_module_stack") or {}).values():
            kind = str(getattr(cls, "__name__", cls)).rsplit(".", 1)[-1]
            if path:
                layers.setdefault(str(path), LayerInfo(kind))
            elif not root:
                root = kind
    return FrameworkInfo("torch", layers, root)


def _pt2(path: str, opset: int | None) -> Exported:
    from graphcheck.frontends.torch import DYNAMO_OPSET, GENERATED, channels_first_name, import_torch, quiet

    try:
        torch = import_torch()
    except Exception as exc:
        raise _NoCache(str(exc)) from None
    try:
        with quiet():
            program = torch.export.load(path)
    except Exception as exc:
        raise ValueError(f"torch.export.load cannot load it ({_first_line(exc)})") from None
    label = "torch.onnx dynamo (torch.export.load)"
    try:
        with quiet():
            onnx_program = torch.onnx.export(
                program, dynamo=True, opset_version=opset or DYNAMO_OPSET, external_data=False, verbose=False
            )
    except Exception as exc:
        raise ValueError(f"torch.onnx.export cannot export the program ({_first_line(exc)})") from None
    if onnx_program is None:
        raise ValueError("torch.onnx.export returned no program")
    proto = onnx_program.model_proto
    rename_input_dims(proto, channels_first_name, lambda p: GENERATED.match(p) is not None)
    version = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    exporter = f"{label}, torch {torch.__version__.split('+')[0]}, opset {version}"
    return Exported(proto, _program_info(program), exporter, (Attempt(label, "used"),))


# --------------------------------------------------------------------------- the worker


_CONVERTERS: dict[str, Callable[[str, Sequence[str], int | None], Exported]] = {
    "keras": _keras_file,
    "h5": _keras_file,
    "savedmodel": lambda p, d, o: _saved_model(p, o),
    "tflite": lambda p, d, o: _tflite(p, o),
    "pt2": lambda p, d, o: _pt2(p, o),
}


def convert(job: dict[str, Any]) -> dict[str, object]:
    """Run one job: writes ``job["onnx"]`` and returns the meta data (or ``{"error": ...}``)."""
    import onnx

    try:
        exported = _CONVERTERS[job["format"]](job["source"], job.get("dynamic") or (), job.get("opset"))
        onnx.save_model(exported.proto, job["onnx"])
    except _NoCache as exc:
        return {"error": str(exc), "cache": False}
    except (ValueError, GraphcheckError) as exc:
        return {"error": str(exc)}
    except Exception as exc:  # anything else the framework raises on a file it cannot take
        return {"error": f"the conversion failed ({_first_line(exc)})"}
    return provenance_dict(exported)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    report = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # what the frameworks print goes to stderr; stdout carries only "done <i>"
    sys.stdout = sys.stderr
    with open(args[0]) as f:
        jobs = json.load(f)
    for i in map(int, args[1:]):
        meta = convert(jobs[i])
        with open(jobs[i]["meta"], "w") as f:
            json.dump(meta, f)
        report.write(f"done {i}\n")
        report.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

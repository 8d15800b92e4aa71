"""Declared input sizes read from serving artifacts: a Triton ``config.pbtxt`` (parsed by tritonclient's
protobuf model config), a TensorRT profile JSON or ``trtexec`` flags, an MLflow model signature (an
``MLmodel`` file, a model directory, or the JSON of ``--emit mlflow-signature``).

Each becomes a :class:`Declaration`: per profile, per input, a range per axis (``None``: any size,
Triton's and MLflow's -1). A file that cannot be read as its kind raises :class:`ArtifactError`, one
line (exit 2).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphcheck.errors import UsageError

__all__ = ["ArtifactError", "Declaration", "DeclaredTensor", "read_declaration", "TRITON_ONNX", "NUMPY_ONNX"]

Range = tuple[int, int] | None  # None: any size (-1)

TRITON_ONNX = {
    "TYPE_FP32": 1,
    "TYPE_UINT8": 2,
    "TYPE_INT8": 3,
    "TYPE_UINT16": 4,
    "TYPE_INT16": 5,
    "TYPE_INT32": 6,
    "TYPE_INT64": 7,
    "TYPE_STRING": 8,
    "TYPE_BOOL": 9,
    "TYPE_FP16": 10,
    "TYPE_FP64": 11,
    "TYPE_UINT32": 12,
    "TYPE_UINT64": 13,
    "TYPE_BF16": 16,
}
NUMPY_ONNX = {
    "float32": 1,
    "uint8": 2,
    "int8": 3,
    "uint16": 4,
    "int16": 5,
    "int32": 6,
    "int64": 7,
    "str": 8,
    "object": 8,
    "bool": 9,
    "float16": 10,
    "float64": 11,
    "uint32": 12,
    "uint64": 13,
}


class ArtifactError(UsageError):
    """A declared artifact that cannot be read (exit 2, one line)."""


@dataclass(frozen=True)
class DeclaredTensor:
    name: str
    dims: tuple[Range, ...] | None  # None: no shape declared
    elem_type: int | None = None  # ONNX element type, when declared
    opt: tuple[int, ...] | None = None  # TensorRT's opt shape


@dataclass(frozen=True)
class Declaration:
    kind: str  # "triton", "tensorrt", "mlflow"
    source: str
    profiles: tuple[tuple[DeclaredTensor, ...], ...]  # Triton and MLflow: one
    all_inputs: bool  # every model input must be declared (Triton, MLflow); TensorRT: the dynamic ones
    metadata_valid: str = ""  # the valid set recorded with an MLflow signature

    def label(self, i: int) -> str:
        if len(self.profiles) > 1:
            return f"{self.source} profile {i}"
        return self.source


def read_declaration(path: str) -> Declaration:
    """Read a declared artifact; its kind is told by its name and content."""
    p = Path(path)
    if p.is_dir():
        if (p / "MLmodel").is_file():
            return _mlmodel(p / "MLmodel")
        if (p / "config.pbtxt").is_file():
            return _triton(p / "config.pbtxt")
        raise ArtifactError(f"{path}: a directory without MLmodel or config.pbtxt")
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: cannot read ({exc})") from None
    if p.name == "MLmodel":
        return _mlmodel(p, text)
    if p.suffix == ".pbtxt":
        return _triton(p, text)
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArtifactError(f"{path}: invalid JSON ({exc})") from None
        if isinstance(data, dict) and "signature" in data:
            return _signature(str(p), data["signature"], data.get("metadata"))
        return _trt_json(str(p), data)
    if "--minShapes" in text or "--maxShapes" in text:
        return _trtexec(str(p), text)
    raise ArtifactError(
        f"{path}: not a declared artifact graphcheck reads (config.pbtxt, a TensorRT profile .json, "
        f"trtexec flags, an MLmodel file or directory)"
    )


# -- Triton -------------------------------------------------------------------------------------------


def _triton(p: Path, text: str | None = None) -> Declaration:
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2
    except ImportError:
        raise ArtifactError(
            "reading config.pbtxt needs tritonclient's model config (pip install 'graphcheck[triton]')"
        ) from None
    text = p.read_text() if text is None else text
    config = model_config_pb2.ModelConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ArtifactError(f"{p}: not a Triton model config ({str(exc).splitlines()[0]})") from None
    batch = config.max_batch_size
    if batch < 0:
        raise ArtifactError(f"{p}: max_batch_size must be >= 0, got {batch}")
    tensors = []
    for t in config.input:
        dims: list[Range] = [None if d == -1 else (int(d), int(d)) for d in t.dims]
        if any(d is not None and d[0] < 1 for d in dims):
            raise ArtifactError(f"{p}: input {t.name!r} has a dim below -1 or 0 ({list(t.dims)})")
        if batch > 0:
            dims.insert(0, (1, batch))
        dtype_name = model_config_pb2.DataType.Name(t.data_type)
        tensors.append(DeclaredTensor(t.name, tuple(dims), TRITON_ONNX.get(dtype_name)))
    if not tensors:
        raise ArtifactError(f"{p}: the config declares no input")
    return Declaration("triton", str(p), (tuple(tensors),), True)


# -- TensorRT -----------------------------------------------------------------------------------------


def _shape(where: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ArtifactError(f"{where}: a shape must be a list of integers, got {value!r}")
    if any(v < 1 for v in value):
        raise ArtifactError(f"{where}: sizes must be >= 1, got {value}")
    return tuple(value)


def _profile_tensor(
    where: str, name: str, mn: tuple[int, ...], opt: tuple[int, ...], mx: tuple[int, ...]
) -> DeclaredTensor:
    if not len(mn) == len(opt) == len(mx):
        raise ArtifactError(f"{where}: input {name!r}: min, opt and max have different ranks")
    for a, o, b in zip(mn, opt, mx):
        if not a <= o <= b:
            raise ArtifactError(f"{where}: input {name!r}: needs min <= opt <= max per axis, got {mn}, {opt}, {mx}")
    return DeclaredTensor(name, tuple((a, b) for a, b in zip(mn, mx)), None, opt)


def _trt_json(path: str, data: Any) -> Declaration:
    profiles = data.get("profiles") if isinstance(data, dict) else data
    if not isinstance(profiles, list) or not profiles:
        raise ArtifactError(f'{path}: expected {{"profiles": [{{input: {{min, opt, max}}}}, ...]}}')
    out = []
    for i, prof in enumerate(profiles):
        where = f"{path} profile {i}"
        if not isinstance(prof, dict) or not prof:
            raise ArtifactError(f'{where}: expected {{input: {{"min": [...], "opt": [...], "max": [...]}}}}')
        tensors = []
        for name, shapes in prof.items():
            if not isinstance(shapes, dict):
                raise ArtifactError(f"{where}: input {name!r}: expected min, opt and max shapes")
            got = {}
            for key in ("min", "opt", "max"):
                v = shapes.get(key, shapes.get(f"{key}_shape"))
                if v is None:
                    raise ArtifactError(f"{where}: input {name!r} has no {key} shape")
                got[key] = _shape(f"{where} input {name!r} {key}", v)
            tensors.append(_profile_tensor(where, name, got["min"], got["opt"], got["max"]))
        out.append(tuple(tensors))
    return Declaration("tensorrt", path, tuple(out), False)


_SPEC = re.compile(r"^(?:'(?P<q>[^']+)'|(?P<n>[^:]+)):(?P<s>\d+(?:x\d+)*)$")


def _trtexec_spec(where: str, spec: str) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for item in spec.split(","):
        m = _SPEC.match(item.strip())
        if not m:
            raise ArtifactError(f"{where}: expected NAME:AxBxC, got {item.strip()!r}")
        name = m.group("q") or m.group("n")
        out[name] = _shape(where, [int(x) for x in m.group("s").split("x")])
    return out


def _trtexec(path: str, text: str) -> Declaration:
    body = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    try:
        words = shlex.split(body)
    except ValueError as exc:
        raise ArtifactError(f"{path}: cannot split the flags ({exc})") from None
    sets: list[dict[str, str]] = []
    i = 0
    while i < len(words):
        w = words[i]
        m = re.fullmatch(r"--(min|opt|max)Shapes(?:=(.*))?", w)
        if m:
            value = m.group(2)
            if value is None:
                i += 1
                if i >= len(words):
                    raise ArtifactError(f"{path}: {w} needs a value")
                value = words[i]
            if not sets or m.group(1) in sets[-1]:
                sets.append({})
            sets[-1][m.group(1)] = value
        i += 1
    if not sets:
        raise ArtifactError(f"{path}: no --minShapes/--optShapes/--maxShapes")
    profiles = []
    for k, s in enumerate(sets):
        where = f"{path} profile {k}"
        missing = [x for x in ("min", "opt", "max") if x not in s]
        if missing and len(missing) < 3 and "opt" in missing and "min" in s and "max" in s:
            s["opt"] = s["min"]  # trtexec takes opt = min... only when both bounds are given
        missing = [x for x in ("min", "opt", "max") if x not in s]
        if missing:
            raise ArtifactError(f"{where}: --{missing[0]}Shapes is missing")
        shapes = {x: _trtexec_spec(where, s[x]) for x in ("min", "opt", "max")}
        if not set(shapes["min"]) == set(shapes["opt"]) == set(shapes["max"]):
            raise ArtifactError(f"{where}: min, opt and max name different inputs")
        tensors = [
            _profile_tensor(where, n, shapes["min"][n], shapes["opt"][n], shapes["max"][n]) for n in shapes["min"]
        ]
        profiles.append(tuple(tensors))
    return Declaration("tensorrt", path, tuple(profiles), False)


# -- MLflow -------------------------------------------------------------------------------------------


def _mlmodel(p: Path, text: str | None = None) -> Declaration:
    try:
        import yaml
    except ImportError:
        raise ArtifactError("reading an MLmodel file needs PyYAML (pip install 'graphcheck[mlflow]')") from None
    try:
        data = yaml.safe_load(p.read_text() if text is None else text)
    except yaml.YAMLError as exc:
        raise ArtifactError(f"{p}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or "signature" not in data:
        raise ArtifactError(f"{p}: the MLflow model has no signature")
    return _signature(str(p), data["signature"], data.get("metadata"))


def _signature(path: str, sig: Any, metadata: Any) -> Declaration:
    if not isinstance(sig, dict) or "inputs" not in sig:
        raise ArtifactError(f"{path}: a signature needs inputs")
    try:
        specs = json.loads(sig["inputs"]) if isinstance(sig["inputs"], str) else sig["inputs"]
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: the signature's inputs are not JSON ({exc})") from None
    if not isinstance(specs, list) or not specs:
        raise ArtifactError(f"{path}: the signature declares no input")
    tensors = []
    for spec in specs:
        if not isinstance(spec, dict) or spec.get("type") != "tensor" or "tensor-spec" not in spec:
            raise ArtifactError(f"{path}: a column-based signature ({spec!r}) declares no tensor shapes")
        ts = spec["tensor-spec"]
        shape = ts.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
            raise ArtifactError(f"{path}: input {spec.get('name')!r}: shape must be a list of integers")
        if any(d < -1 or d == 0 for d in shape):
            raise ArtifactError(f"{path}: input {spec.get('name')!r}: sizes are -1 or >= 1, got {shape}")
        name = spec.get("name")
        if not isinstance(name, str):
            raise ArtifactError(f"{path}: a tensor spec without a name cannot be matched to a model input")
        dims = tuple(None if d == -1 else (d, d) for d in shape)
        tensors.append(DeclaredTensor(name, dims, NUMPY_ONNX.get(str(ts.get("dtype")))))
    valid = ""
    if isinstance(metadata, dict) and isinstance(metadata.get("graphcheck"), dict):
        valid = str(metadata["graphcheck"].get("valid", ""))
    return Declaration("mlflow", path, (tuple(tensors),), True, valid)

"""Reading ONNX models into :class:`graphcheck.model.ir.Graph`.

This is the only module that touches onnx protobufs. A model file is memory-mapped
and walked at the protobuf wire level: nodes, value infos and small tensors are handed
to onnx's own (C-backed) parser one message at a time, while each initializer's
header (name, type, dims) is read by hand and its weight bytes are skipped by their
length, never parsed, copied or even paged in. External data is never read.
"""

from __future__ import annotations

import functools
import gc
import mmap
import os
import stat
import sys
from array import array
from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import Any

import onnx
from onnx import numpy_helper

from graphcheck.errors import ModelLoadError
from graphcheck.model.ir import AttrValue, DimSpec, Function, Graph, Node, SubGraph, TensorData, ValueInfo
from graphcheck.model.validate import check_attributes

__all__ = ["load", "load_bytes", "from_proto", "ModelLike"]

ModelLike = str | os.PathLike[str] | bytes | onnx.ModelProto  # what graphcheck.check accepts

SMALL_TENSOR = 4096  # element count up to which int32/int64 constants (shapes, indices) are decoded
PARSE_WHOLE = 1 << 16  # tensor messages up to this many bytes are parsed by onnx's C parser
SMALL_OTHER = 8  # element count up to which other constants (scales, pad values, bools) are decoded
_INT_TYPES = {2, 3, 4, 5, 6, 7, 9, 12, 13}  # uint8 int8 uint16 int16 int32 int64 bool uint32 uint64
_FLOAT_TYPES = {1, 10, 11, 16}  # float, float16, double, bfloat16
_SHAPE_INT_TYPES = {6, 7}
_ITEMSIZE = {c: array(c).itemsize for c in "fBbHhiqdIQ"}


def _decodable(elem_type: int, numel: int) -> bool:
    if elem_type in _SHAPE_INT_TYPES:
        return numel <= SMALL_TENSOR
    return numel <= SMALL_OTHER and elem_type in _INT_TYPES | _FLOAT_TYPES


# ---------------------------------------------------------------------------
# entry points


def load(model: ModelLike) -> Graph:
    """Load a model from a path, serialized bytes, or an in-memory ``onnx.ModelProto``."""
    if isinstance(model, onnx.ModelProto):
        return from_proto(model)
    if isinstance(model, bytes | bytearray | memoryview):
        return load_bytes(memoryview(model), "<bytes>")
    path = os.fspath(model)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):  # a FIFO would block the open forever
            raise ModelLoadError(f"{path}: not a regular file, not an ONNX model")
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise ModelLoadError(f"{path}: empty file, not an ONNX model")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                mv = memoryview(mm)
                try:
                    return load_bytes(mv, path)
                finally:
                    mv.release()
    except IsADirectoryError:
        raise ModelLoadError(f"{path}: is a directory, not an ONNX model") from None
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: no such file") from None
    except PermissionError:
        raise ModelLoadError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read ({exc.strerror or exc})") from None


def load_bytes(buf: memoryview, source: str) -> Graph:
    paused = gc.isenabled()
    gc.disable()  # many small acyclic objects: repeated collections cost more than they free
    try:
        g = _Scanner(buf, source).model()
        check_attributes(g, source, _schema_attributes)
        return g
    except ModelLoadError as exc:
        msg = str(exc)
        raise ModelLoadError(msg if msg.startswith(source) else f"{source}: not a valid ONNX model ({msg})") from None
    except Exception as exc:  # protobuf's DecodeError, RecursionError on hostile nesting, ...
        raise ModelLoadError(f"{source}: not a valid ONNX model ({_short(exc)})") from None
    finally:
        if paused:
            gc.enable()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


# ---------------------------------------------------------------------------
# wire-level scanning


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ModelLoadError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ModelLoadError("malformed varint")


def _fields(buf: memoryview, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield (field number, wire type, value-or-start, end) for each field in buf[pos:end].

    For varints the third item is the value; for length-delimited fields it is the
    start offset and the fourth the end offset.
    """
    while pos < end:
        key = buf[pos]
        if key < 0x80:  # (one-byte keys and lengths, the usual case, without a call)
            pos += 1
        else:
            key, pos = _varint(buf, pos, end)
        fnum, wt = key >> 3, key & 7
        if fnum == 0:
            raise ModelLoadError("field number 0")
        if wt == 0:
            v, pos = _varint(buf, pos, end)
            yield fnum, 0, v, pos
        elif wt == 2:
            if pos < end and buf[pos] < 0x80:
                n = buf[pos]
                pos += 1
            else:
                n, pos = _varint(buf, pos, end)
            if n > end - pos:
                raise ModelLoadError("length-delimited field runs past the end of the data (truncated file?)")
            yield fnum, 2, pos, pos + n
            pos += n
        elif wt == 1:
            if pos + 8 > end:
                raise ModelLoadError("truncated fixed64")
            yield fnum, 1, pos, pos + 8
            pos += 8
        elif wt == 5:
            if pos + 4 > end:
                raise ModelLoadError("truncated fixed32")
            yield fnum, 5, pos, pos + 4
            pos += 4
        else:
            raise ModelLoadError(f"unsupported wire type {wt}")


def _str(buf: memoryview, a: int, b: int) -> str:
    return bytes(buf[a:b]).decode("utf-8", errors="replace")


def _t(x: object) -> str:
    """A protobuf string field as text: onnx's parser hands a field holding invalid UTF-8 over as
    ``bytes`` (a hostile or corrupted file), which is decoded with replacement characters."""
    if isinstance(x, str):
        return x
    if isinstance(x, bytes | bytearray | memoryview):
        return bytes(x).decode("utf-8", errors="replace")
    return str(x)


def _ts(xs: Iterable[object]) -> tuple[str, ...]:
    out = tuple(xs)
    try:
        "".join(out)  # type: ignore[arg-type]  # the usual case, all text: nothing to decode
        return out  # type: ignore[return-value]
    except TypeError:
        return tuple(_t(x) for x in out)


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


class _Scanner:
    def __init__(self, buf: memoryview, source: str) -> None:
        self.buf = buf
        self.source = source

    def model(self) -> Graph:
        buf = self.buf
        end = len(buf)
        graph_span: tuple[int, int] | None = None
        opsets: dict[str, int] = {}
        metadata: dict[str, str] = {}
        functions: list[onnx.FunctionProto] = []
        producer = producer_version = ""
        ir_version = 0
        for fnum, wt, a, b in _fields(buf, 0, end):
            if fnum == 1 and wt == 0:
                ir_version = a
            elif fnum == 2 and wt == 2:
                producer = _str(buf, a, b)
            elif fnum == 3 and wt == 2:
                producer_version = _str(buf, a, b)
            elif fnum == 7 and wt == 2:
                graph_span = (a, b)
            elif fnum == 8 and wt == 2:
                op = onnx.OperatorSetIdProto.FromString(buf[a:b])
                opsets[_t(op.domain)] = op.version
            elif fnum == 14 and wt == 2:
                kv = onnx.StringStringEntryProto.FromString(buf[a:b])
                metadata[_t(kv.key)] = _t(kv.value)
            elif fnum == 25 and wt == 2:
                functions.append(onnx.FunctionProto.FromString(buf[a:b]))
        if graph_span is None:
            raise ModelLoadError(f"{self.source}: not an ONNX model (no graph found)")
        g = self.graph(*graph_span)
        g.opsets = opsets
        g.metadata = metadata
        g.functions = {(_t(f.domain), _t(f.name)): _function(f) for f in functions}
        g.producer, g.producer_version, g.ir_version = producer, producer_version, ir_version
        g.source = self.source
        return g

    def graph(self, pos: int, end: int) -> Graph:
        buf = self.buf
        nodes: list[Node] = []
        inits: dict[str, TensorData] = {}
        inputs: list[ValueInfo] = []
        outputs: list[ValueInfo] = []
        value_info: dict[str, ValueInfo] = {}
        gmeta: dict[str, str] = {}
        name = ""
        for fnum, wt, a, b in _fields(buf, pos, end):
            if wt != 2:
                continue
            if fnum == 1:
                raw = bytes(buf[a:b])
                node = _plain_node(raw, len(nodes))
                nodes.append(node if node is not None else _node(onnx.NodeProto.FromString(raw), len(nodes)))
            elif fnum == 2:
                name = _str(buf, a, b)
            elif fnum == 5:
                t = self.tensor(a, b)
                inits[t.name] = t
            elif fnum == 11:
                inputs.append(_value_info(onnx.ValueInfoProto.FromString(buf[a:b])))
            elif fnum == 12:
                outputs.append(_value_info(onnx.ValueInfoProto.FromString(buf[a:b])))
            elif fnum == 13:
                vi = _value_info(onnx.ValueInfoProto.FromString(buf[a:b]))
                value_info[vi.name] = vi
            elif fnum == 15:
                sp = self.sparse(a, b)
                inits[sp.name] = sp
            elif fnum == 16:
                kv = onnx.StringStringEntryProto.FromString(buf[a:b])
                gmeta[_t(kv.key)] = _t(kv.value)
        inputs = [i for i in inputs if i.name not in inits]
        g = Graph(name, inputs, outputs, inits, nodes, {}, value_info)
        g.graph_metadata = gmeta
        return g

    def tensor(self, pos: int, end: int) -> TensorData:
        """Read a TensorProto's header; decode values only for small in-file tensors.

        A small message is handed to onnx's C parser whole (copying a few KB is cheaper than
        scanning it in Python); a large one has its header scanned here and its payload skipped.
        """
        if end - pos <= PARSE_WHOLE:
            return _tensor_from_proto(onnx.TensorProto.FromString(self.buf[pos:end]))
        buf = self.buf
        dims: list[int] = []
        elem_type = 0
        name = ""
        external = False
        for fnum, wt, a, b in _fields(buf, pos, end):
            if fnum == 1:
                if wt == 0:
                    dims.append(_signed(a))
                elif wt == 2:
                    p = a
                    while p < b:
                        v, p = _varint(buf, p, b)
                        dims.append(_signed(v))
            elif fnum == 2 and wt == 0:
                elem_type = a
            elif fnum == 8 and wt == 2:
                name = _str(buf, a, b)
            elif fnum == 14 and wt == 0:
                external = a == 1
        numel = 1
        for d in dims:
            numel *= max(d, 0)
        values = None
        if not external and _decodable(elem_type, numel):
            values = _decode(onnx.TensorProto.FromString(buf[pos:end]))
        return TensorData(elem_type, tuple(dims), values, name)

    def sparse(self, pos: int, end: int) -> TensorData:
        sp = onnx.SparseTensorProto.FromString(self.buf[pos:end])
        return TensorData(sp.values.data_type, tuple(sp.dims), None, _t(sp.values.name))


# ---------------------------------------------------------------------------
# proto-object conversion (shared by both routes)


def from_proto(model: onnx.ModelProto) -> Graph:
    """Convert an in-memory ModelProto without reading large tensor payloads."""
    try:
        g = _graph_from_proto(model.graph)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"<ModelProto>: not a valid ONNX model ({_short(exc)})") from None
    g.opsets = {_t(op.domain): op.version for op in model.opset_import}
    g.metadata = {_t(kv.key): _t(kv.value) for kv in model.metadata_props}
    g.functions = {(_t(f.domain), _t(f.name)): _function(f) for f in model.functions}
    g.producer, g.producer_version, g.ir_version = model.producer_name, model.producer_version, model.ir_version
    g.source = "<ModelProto>"
    check_attributes(g, g.source, _schema_attributes)
    return g


def _graph_from_proto(gp: onnx.GraphProto) -> Graph:
    inits = {_t(t.name): _tensor_from_proto(t) for t in gp.initializer}
    for sp in gp.sparse_initializer:
        inits[_t(sp.values.name)] = TensorData(sp.values.data_type, tuple(sp.dims), None, _t(sp.values.name))
    inputs = [vi for vi in map(_value_info, gp.input) if vi.name not in inits]
    outputs = [_value_info(v) for v in gp.output]
    value_info = {vi.name: vi for vi in map(_value_info, gp.value_info)}
    nodes = [_node(n, i) for i, n in enumerate(gp.node)]
    g = Graph(_t(gp.name), inputs, outputs, inits, nodes, {}, value_info)
    g.graph_metadata = {_t(kv.key): _t(kv.value) for kv in gp.metadata_props}
    return g


@functools.lru_cache(maxsize=4096)
def _schema_attributes(op: str, opset: int) -> frozenset[str] | None:
    """The attribute names of ONNX op ``op`` in ``opset`` by onnx's schema; None when it has none."""
    try:
        return frozenset(onnx.defs.get_schema(op, opset, "").attributes)
    except Exception:  # not an ONNX op (or not yet in that opset): the rules say what they know
        return None


def _tensor_from_proto(t: onnx.TensorProto) -> TensorData:
    raw = t.raw_data
    if raw and len(raw) <= 64:  # a small constant held as raw bytes (an exporter's many [0], 1, -1): decoded once
        key = (t.data_type, tuple(t.dims), raw, t.name, t.data_location)
        hit = _SMALL_TENSORS.get(key)
        if hit is None:
            if len(_SMALL_TENSORS) >= _SMALL_TENSORS_LIMIT:
                _SMALL_TENSORS.clear()
            hit = _SMALL_TENSORS[key] = _tensor_data(t)
        return hit
    return _tensor_data(t)


_SMALL_TENSORS_LIMIT = 4096  # small raw constants decoded and remembered (memory only; emptied when full)
_SMALL_TENSORS: dict[tuple[object, ...], TensorData] = {}


def _tensor_data(t: onnx.TensorProto) -> TensorData:
    dims = tuple(t.dims)
    numel = 1
    for d in dims:
        numel *= max(d, 0)
    values = None
    external = t.data_location == onnx.TensorProto.EXTERNAL
    if not external and _decodable(t.data_type, numel):
        values = _decode(t)
    return TensorData(t.data_type, dims, values, _t(t.name))


# element types whose little-endian raw_data the standard library reads as it is (the usual
# constants: shapes, axes, scales), without numpy's per-call overhead
_RAW_CODES = {1: "f", 2: "B", 3: "b", 4: "H", 5: "h", 6: "i", 7: "q", 11: "d", 12: "I", 13: "Q"}
_LITTLE = sys.byteorder == "little"


def _decode(t: onnx.TensorProto) -> tuple[Any, ...] | None:
    dt = t.data_type
    code = _RAW_CODES.get(dt)
    if code is not None and _LITTLE and t.data_location != onnx.TensorProto.EXTERNAL:
        numel = 1
        for d in t.dims:
            numel *= d
        raw = t.raw_data
        if raw:
            return tuple(array(code, raw)) if len(raw) == numel * _ITEMSIZE[code] else None
        if dt == 7 and len(t.int64_data) == numel:
            return tuple(t.int64_data)
        if dt == 1 and len(t.float_data) == numel:
            return tuple(t.float_data)
        if dt == 6 and len(t.int32_data) == numel:
            return tuple(t.int32_data)
    try:
        arr = numpy_helper.to_array(t)
    except Exception:
        return None
    flat = arr.reshape(-1).tolist()
    if t.data_type in _INT_TYPES:
        return tuple(int(v) for v in flat)
    return tuple(float(v) for v in flat)


def _value_info(v: onnx.ValueInfoProto) -> ValueInfo:
    tp = v.type
    which = tp.WhichOneof("value")
    if which != "tensor_type":
        kind = {"sequence_type": "sequence", "map_type": "map", "optional_type": "optional"}.get(which or "", "unknown")
        if which == "sparse_tensor_type":
            kind = "tensor"
            tt = tp.sparse_tensor_type
            return ValueInfo(_t(v.name), tt.elem_type, _shape(tt) if tt.HasField("shape") else None, kind)
        return ValueInfo(_t(v.name), 0, None, kind)
    tt = tp.tensor_type
    return ValueInfo(_t(v.name), tt.elem_type, _shape(tt) if tt.HasField("shape") else None)


def _shape(tt: Any) -> tuple[DimSpec, ...]:
    out: list[DimSpec] = []
    for d in tt.shape.dim:
        which = d.WhichOneof("value")
        if which == "dim_value":
            out.append(int(d.dim_value))
        elif which == "dim_param" and d.dim_param:
            out.append(_t(d.dim_param))
        else:
            out.append(None)
    return tuple(out)


_A = onnx.AttributeProto


def _attr(a: onnx.AttributeProto) -> AttrValue:
    t = a.type
    if t == 2:  # INT
        return int(a.i)
    if t == 7:  # INTS
        return tuple(a.ints)
    if t == 4:  # TENSOR
        return _tensor_from_proto(a.t)
    if t == 1:  # FLOAT
        return float(a.f)
    if t == 3:  # STRING
        return a.s.decode("utf-8", errors="replace")
    if t == 6:  # FLOATS
        return tuple(a.floats)
    if t == 8:  # STRINGS
        return tuple(x.decode("utf-8", errors="replace") for x in a.strings)
    if t == _A.SPARSE_TENSOR:
        return TensorData(a.sparse_tensor.values.data_type, tuple(a.sparse_tensor.dims), None, "")
    if t == _A.GRAPH:
        return _subgraph(a.g)
    if t == _A.GRAPHS:
        return tuple(_subgraph(g) for g in a.graphs)
    if t == _A.TENSORS:
        return tuple(_tensor_from_proto(x) for x in a.tensors)
    return ()


def _subgraph(gp: onnx.GraphProto) -> SubGraph:
    """A body graph: its nodes (and theirs, recursively: protobuf's own nesting limit bounds the
    depth, and a deeper file is a load error), initializers (large ones keep only their header, as
    at the top level) and interface."""
    body = _graph_from_proto(gp)
    return SubGraph(_t(gp.name), tuple(_t(i.name) for i in gp.input), tuple(_t(o.name) for o in gp.output), body)


assert (_A.INT, _A.INTS, _A.TENSOR, _A.FLOAT, _A.STRING, _A.FLOATS, _A.STRINGS) == (2, 7, 4, 1, 3, 6, 8)

_NODE_META = ("pkg.torch.onnx.name_scopes", "pkg.torch.onnx.class_hierarchy", "pkg.graphcheck.layer")


def _node(n: onnx.NodeProto, index: int) -> Node:
    attrs = {_t(a.name): _attr(a) for a in n.attribute if not a.ref_attr_name} if n.attribute else {}
    op_type = _t(n.op_type)
    name = _t(n.name) or f"{op_type}_{index}"
    meta = {_t(p.key): _t(p.value) for p in n.metadata_props if p.key in _NODE_META} if n.metadata_props else {}
    domain = _t(n.domain)
    domain = domain if domain != "ai.onnx" else ""
    return Node(index, name, op_type, domain, _ts(n.input), _ts(n.output), attrs, meta)


_ATTRS_LIMIT = 4096  # small attributes decoded and remembered by their bytes (memory only; emptied when full)
_ATTRS: dict[bytes, tuple[str, AttrValue]] = {}
_NODE_STR = {1, 2, 3, 4, 6, 7, 8}  # NodeProto's string fields: input, output, name, op_type, doc, domain, overload
_ATTR_FROM = onnx.AttributeProto.FromString


def _plain_node(raw: bytes, index: int) -> Node | None:
    """A NodeProto read at the wire level, as :func:`_node` reads it from onnx's parser: names and
    attributes only, without building the message (a third of the cost per node of an 11k-node
    graph). None for anything but the plain form (a key or length past two bytes, text that is not
    UTF-8, metadata, a field it does not know): onnx's parser then reads the node as always."""
    ins: list[str] = []
    outs: list[str] = []
    name = op_type = domain = ""
    attrs: dict[str, AttrValue] = {}
    q, n = 0, len(raw)
    try:
        while q < n:
            key = raw[q]
            if key >= 0x80 or key & 7 != 2:
                return None
            ln = raw[q + 1]
            q += 2
            if ln >= 0x80:
                hi = raw[q]
                if hi >= 0x80:
                    return None
                ln = (ln & 0x7F) | (hi << 7)
                q += 1
            if q + ln > n:
                return None
            field = key >> 3
            if field == 5:
                blob = raw[q : q + ln]
                got = _ATTRS.get(blob)
                if got is None:
                    a = _ATTR_FROM(blob)
                    if a.ref_attr_name:
                        return None
                    got = (_t(a.name), _attr(a))
                    if ln <= 256:  # the same small attribute again and again (an exporter's Constants)
                        if len(_ATTRS) >= _ATTRS_LIMIT:
                            _ATTRS.clear()
                        _ATTRS[blob] = got
                attrs[got[0]] = got[1]
            elif field in _NODE_STR:
                text = raw[q : q + ln].decode()
                if field == 1:
                    ins.append(text)
                elif field == 2:
                    outs.append(text)
                elif field == 3:
                    name = text
                elif field == 4:
                    op_type = text
                elif field == 7:
                    domain = text
            else:
                return None
            q += ln
    except (IndexError, UnicodeDecodeError):
        return None
    except Exception:  # an attribute onnx's parser refuses: it says why, reading the whole node
        return None
    return Node(
        index,
        name or f"{op_type}_{index}",
        op_type,
        domain if domain != "ai.onnx" else "",
        tuple(ins),
        tuple(outs),
        attrs,
        {},
    )


def _function(f: onnx.FunctionProto) -> Function:
    nodes = []
    refs: dict[int, dict[str, str]] = {}
    for i, n in enumerate(f.node):
        nodes.append(_node(n, i))
        r = {_t(a.name): _t(a.ref_attr_name) for a in n.attribute if a.ref_attr_name}
        if r:
            refs[i] = r
    defaults = {_t(a.name): _attr(a) for a in f.attribute_proto}
    return Function(
        _t(f.domain),
        _t(f.name),
        _ts(f.input),
        _ts(f.output),
        _ts(f.attribute) + tuple(_t(a.name) for a in f.attribute_proto),
        defaults,
        tuple(nodes),
        {_t(op.domain): op.version for op in f.opset_import},
        refs,
    )


def exact(v: float | int) -> Fraction:
    """A model's float constant as the exact rational it encodes."""
    return Fraction(v)

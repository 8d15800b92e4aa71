"""Hostile and odd ONNX models, made from a seed: ``make_input(seed)`` gives the bytes of one input.

Three families, as a new user's (or an attacker's) files would be:

* **mutated protobufs**: a seed model (the fixtures, the zoo, generated ones) with bits flipped,
  bytes replaced, inserted or deleted, truncated, or spliced with another seed;
* **mutated graphs**: a seed model changed through onnx's API: a Conv/Pool attribute set to a
  hostile value (huge kernels and pads, zero or negative strides, lists of the wrong length,
  the wrong attribute type), input dims set to huge or negative values, graph inputs and outputs
  duplicated, inputs left dangling, nodes dropped, duplicated, reordered or given another op;
* **generated graphs**: conv/pool stacks with hostile attributes, long chains of shape arithmetic
  (Shape -> Gather -> Add/Mul/Div/... -> Reshape), towers of Div whose expressions would double at
  each level, graphs with cycles, unknown ops and opsets, and legal but huge dims (2**40), chains
  of thousands of layers each a finding, sizes taken mod the first primes (periods past the limit).

Everything is deterministic in the seed (``random.Random(seed)``), so a failing input is replayed
by its number alone. Generation itself never raises: a mutation that onnx refuses to serialize
falls back to the unmutated bytes.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent.parent

HOSTILE_INTS = (
    0, -1, 1, 2, 3, 7, 64, 1000, 2**31 - 1, 2**31, 2**32 + 1, 2**40, 2**53 + 1, 2**62, 2**63 - 1, -(2**63), -(2**40),
)  # fmt: skip
WINDOW_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool")
WINDOW_ATTRS = ("kernel_shape", "pads", "strides", "dilations", "output_padding", "output_shape", "group", "ceil_mode")
AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "", "same", "BOGUS")
ARITH = ("Add", "Sub", "Mul", "Div", "Mod", "Max", "Min")


LEGAL_HUGE = (64, 1000, 2**31 - 1, 2**31, 2**32 + 1, 2**40, 2**53 + 1, 2**62, 2**63 - 1)


def _pick_int(rnd: random.Random, hostile: float = 0.5) -> int:
    if rnd.random() < hostile:
        return rnd.choice(HOSTILE_INTS)
    return rnd.randint(-2, 9)


def _legal_or_hostile(rnd: random.Random, lo: int) -> int:
    """Mostly legal however large (the analysis must stay exact), sometimes not legal at all."""
    if rnd.random() < 0.75:
        return max(lo, rnd.choice(LEGAL_HUGE + (lo, lo + 1, lo + 2)))
    return rnd.choice(HOSTILE_INTS)


def _model(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    inits: list[onnx.TensorProto] | None = None,
    opset: int = 18,
) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "fuzz", inputs, outputs, initializer=inits or [])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="graphcheck-fuzz")
    m.ir_version = 9
    return m


def _node(op: str, ins: list[str], outs: list[str], name: str, attrs: dict[str, object]) -> onnx.NodeProto:
    """``helper.make_node``, but an empty list is an empty INTS attribute (onnx cannot infer its type)."""
    node = helper.make_node(op, ins, outs, name=name)
    for k, v in attrs.items():
        typ = onnx.AttributeProto.INTS if isinstance(v, list) and not v else None
        node.attribute.append(helper.make_attribute(k, v, attr_type=typ))
    return node


def _i64(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


# ----------------------------------------------------------------------------------------- seeds


@functools.lru_cache(maxsize=1)
def file_seeds() -> tuple[bytes, ...]:
    """The committed models: the fixtures and the zoo (small real exports of every exporter)."""
    paths = sorted((ROOT / "fixtures").glob("*.onnx")) + sorted((ROOT / "fixtures" / "zoo" / "models").glob("*.onnx"))
    return tuple(p.read_bytes() for p in paths if p.stat().st_size <= 2_000_000)


def seed_bytes(rnd: random.Random) -> bytes:
    if rnd.random() < 0.5 and file_seeds():
        return rnd.choice(file_seeds())
    return generated(rnd).SerializeToString()


# ------------------------------------------------------------------------------------ generators


def conv_stack(rnd: random.Random, hostile: float = 0.3) -> onnx.ModelProto:
    """Conv/ConvTranspose/pool/Pad layers on x[N, C, spatial...], attributes sometimes hostile."""
    n = rnd.choice((1, 1, 2, 3))
    c = 2
    dims: list[int | str] = ["N", c] + [rnd.choice(("L", "H", "W", "D"))[0] + str(i) for i in range(n)]
    if rnd.random() < 0.15:  # legal but huge fixed sizes stay exact
        dims[2 + rnd.randrange(n)] = rnd.choice((2**40, 2**31, 10**12 + 7))
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    x = "x"
    for i in range(rnd.randint(1, 6)):
        op = rnd.choice(("Conv", "Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "Pad", "Relu"))
        out = f"t{i}"
        k = [rnd.randint(1, 5) for _ in range(n)]
        attrs: dict[str, object] = {}

        def ints(length: int, lo: int, hi: int) -> list[int]:
            if rnd.random() < hostile:
                ln = length if rnd.random() < 0.85 else rnd.choice((0, 1, length + 1, 2 * length + 1))
                return [_legal_or_hostile(rnd, lo) if rnd.random() < 0.5 else rnd.randint(lo, hi) for _ in range(ln)]
            return [rnd.randint(lo, hi) for _ in range(length)]

        if op == "Relu":
            nodes.append(helper.make_node("Relu", [x], [out], name=out))
        elif op == "Pad":
            pads = [0, 0] + ints(n, 0, 3) + [0, 0] + ints(n, -1, 3)
            inits.append(_i64(f"p{i}", pads))
            nodes.append(helper.make_node("Pad", [x, f"p{i}"], [out], name=out))
        else:
            attrs["kernel_shape"] = ints(n, 1, 5) if rnd.random() < 0.5 else k
            k = [v if isinstance(v, int) else 1 for v in attrs["kernel_shape"]]  # type: ignore[union-attr]
            attrs["strides"] = ints(n, 1, 3)
            if op != "MaxPool" or rnd.random() < 0.5:
                attrs["pads"] = ints(2 * n, 0, 3)
            if rnd.random() < 0.5:
                attrs["dilations"] = ints(n, 1, 3)
            if rnd.random() < 0.4:
                attrs["auto_pad"] = rnd.choice(AUTO_PADS)
                if attrs["auto_pad"] not in ("NOTSET", "") and rnd.random() < 0.8:
                    attrs.pop("pads", None)
            if op in ("MaxPool", "AveragePool", "LpPool") and rnd.random() < 0.4:
                attrs["ceil_mode"] = rnd.choice((0, 1, 1, 2, -1))
            if op == "ConvTranspose" and rnd.random() < 0.4:
                attrs["output_padding"] = ints(n, 0, 2)
            if op == "ConvTranspose" and rnd.random() < 0.2:
                attrs["output_shape"] = ints(n, 1, 40)
            if op == "AveragePool" and rnd.random() < 0.3:
                attrs["count_include_pad"] = rnd.choice((0, 1))
            ins = [x]
            if op in ("Conv", "ConvTranspose"):
                wshape = [c, c] + [max(1, min(v, 64)) for v in k]
                inits.append(numpy_helper.from_array(np.full(wshape, 0.1, np.float32), f"w{i}"))
                ins.append(f"w{i}")
                if rnd.random() < 0.2:
                    attrs["group"] = rnd.choice((0, 1, 2, 3, -1))
            nodes.append(_node(op, ins, [out], out, attrs))
        x = out
    if rnd.random() < 0.3:
        nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"))
        x = "gap"
    opset = rnd.choice((17, 18, 19, 21))
    if rnd.random() < 0.9:  # mostly attributes the op has at that opset (the others are a load error)
        for nd in nodes:
            try:
                known = onnx.defs.get_schema(nd.op_type, opset, "").attributes
            except Exception:
                continue
            keep = [a for a in nd.attribute if a.name in known]
            del nd.attribute[:]
            nd.attribute.extend(keep)
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)]
    return _model(nodes, inputs, [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits, opset)


def shape_chain(rnd: random.Random, length: int | None = None) -> onnx.ModelProto:
    """Shape -> Gather -> a long chain of integer arithmetic on the size -> a size-consuming op."""
    length = length if length is not None else rnd.choice((5, 50, 500, 2000, 5000))
    nodes: list[onnx.NodeProto] = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "i2"], ["v0"], name="g0", axis=0),
    ]
    inits = [_i64("i2", [2]), _i64("one", [1]), _i64("zero", [0])]
    consts: dict[int, str] = {}

    def const(v: int) -> str:
        if v not in consts:
            consts[v] = f"k{len(consts)}"
            inits.append(_i64(consts[v], [v]))
        return consts[v]

    v = "v0"
    mixed = rnd.random() < 0.5
    for i in range(1, length + 1):
        op = rnd.choice(ARITH)
        if mixed and i > 2 and rnd.random() < 0.3:
            other = f"v{rnd.randrange(max(0, i - 4), i)}"  # reuse an earlier value: expressions share
        else:
            other = const(rnd.choice((1, 2, 3, 4, 7, -1, 0, 2**40)) if rnd.random() < 0.2 else rnd.randint(1, 4))
        nodes.append(helper.make_node(op, [v, other], [f"v{i}"], name=f"a{i}"))
        v = f"v{i}"
    end = rnd.choice(("reshape", "range", "constantofshape", "slice", "expand"))
    if end == "reshape":
        nodes.append(helper.make_node("Concat", ["zero", v, "one"], ["tgt"], name="cat", axis=0))
        nodes.append(helper.make_node("Reshape", ["x", "tgt"], ["y"], name="reshape"))
    elif end == "range":
        nodes.append(helper.make_node("Squeeze", [v], ["vs"], name="sq"))
        inits.append(_i64("z0", []))
        inits[-1].CopyFrom(numpy_helper.from_array(np.array(0, np.int64), "z0"))
        inits.append(numpy_helper.from_array(np.array(1, np.int64), "d1"))
        nodes.append(helper.make_node("Range", ["z0", "vs", "d1"], ["y"], name="range"))
    elif end == "constantofshape":
        nodes.append(helper.make_node("ConstantOfShape", [v], ["y"], name="cos"))
    elif end == "slice":
        nodes.append(helper.make_node("Slice", ["x", "zero", v, "i2"], ["y"], name="slice"))
    else:
        nodes.append(helper.make_node("Concat", ["one", "one", v], ["tgt"], name="cat", axis=0))
        nodes.append(helper.make_node("Expand", ["x", "tgt"], ["y"], name="expand"))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "L"])]
    return _model(nodes, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)


def div_tower(rnd: random.Random, depth: int | None = None) -> onnx.ModelProto:
    """``v = v/a + v/b`` (integer Div) repeated: each level doubles the expression if nothing caps it."""
    depth = depth if depth is not None else rnd.choice((4, 10, 20, 40, 200))
    inits = [_i64("i2", [2]), _i64("zero", [0]), _i64("one", [1])]
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "i2"], ["v0"], name="g0", axis=0),
    ]
    dens = sorted({rnd.randint(2, 9) for _ in range(4)} | {2, 3})
    for d in dens:
        inits.append(_i64(f"d{d}", [d]))
    v = "v0"
    for i in range(1, depth + 1):
        a, b = rnd.sample(dens, 2)
        op = rnd.choice(("Add", "Add", "Sub", "Mul"))
        nodes.append(helper.make_node("Div", [v, f"d{a}"], [f"p{i}"], name=f"da{i}"))
        nodes.append(helper.make_node("Div", [v, f"d{b}"], [f"q{i}"], name=f"db{i}"))
        nodes.append(helper.make_node(op, [f"p{i}", f"q{i}"], [f"v{i}"], name=f"s{i}"))
        v = f"v{i}"
    if rnd.random() < 0.5:
        nodes.append(helper.make_node("Concat", ["zero", v, "one"], ["tgt"], name="cat", axis=0))
        nodes.append(helper.make_node("Reshape", ["x", "tgt"], ["y"], name="reshape"))
    else:
        nodes.append(helper.make_node("Slice", ["x", "zero", v, "i2"], ["y"], name="slice"))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "L"])]
    return _model(nodes, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)


def odd_graph(rnd: random.Random) -> onnx.ModelProto:
    """Graph-level oddities: duplicated I/O, dangling inputs, cycles, unknown ops and domains."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node("Add", ["a", "x"], ["b"], name="add"),
        helper.make_node("MaxPool", ["b"], ["c"], name="pool", kernel_shape=[3], strides=[2]),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, "L"])]
    outputs = [helper.make_tensor_value_info("c", TensorProto.FLOAT, None)]
    kind = rnd.randrange(9)
    if kind == 0:
        inputs.append(inputs[0])
        outputs.append(outputs[0])
    elif kind == 1:
        nodes[1].input[1] = "dangling"
    elif kind == 2:  # a cycle
        nodes[0].input[0] = "c"
    elif kind == 3:
        nodes.append(helper.make_node("FancyOp", ["c"], ["d"], name="fancy", domain="com.example"))
        outputs = [helper.make_tensor_value_info("d", TensorProto.FLOAT, None)]
    elif kind == 4:  # two nodes writing the same output
        nodes.append(helper.make_node("Relu", ["x"], ["b"], name="again"))
    elif kind == 5:
        rnd.shuffle(nodes)
    elif kind == 6:  # outputs naming nothing, inputs with no type
        outputs.append(helper.make_tensor_value_info("nowhere", TensorProto.FLOAT, None))
        inputs.append(onnx.ValueInfoProto(name="untyped"))
    elif kind == 7:  # empty names
        for nd in nodes:
            nd.name = ""
        nodes.append(helper.make_node("Identity", [""], ["e"], name=""))
    else:
        inputs[0] = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, rnd.choice(("", "a b", "é", "x:1"))])
    m = _model(nodes, inputs, outputs, opset=rnd.choice((18, 18, 1, 7, 10, 99, 0)))
    if rnd.random() < 0.2:
        del m.opset_import[:]
    return m


def big_chain(rnd: random.Random) -> onnx.ModelProto:
    """A long chain of small convs and activations, named as the torch exporter names modules."""
    layers = rnd.choice((500, 2000, 5000))
    nodes, inits = [], [numpy_helper.from_array(np.full((2, 2, 1), 0.1, np.float32), "w")]
    x = "x"
    for i in range(layers):
        op = "Conv" if i % 2 == 0 else "Relu"
        ins = [x, "w"] if op == "Conv" else [x]
        nodes.append(helper.make_node(op, ins, [f"y{i}"], name=f"/blocks/blocks.{i // 2}/{op}"))
        x = f"y{i}"
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, "L"])]
    m = _model(nodes, inputs, [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits)
    m.producer_name = "pytorch"
    return m


def finding_chain(rnd: random.Random) -> onnx.ModelProto:
    """A chain of unpadded kernel-2 convs: every layer shortens the length by one, so every layer is a
    finding (the report, blind sizes and deviation checks must stay linear in them)."""
    layers = rnd.choice((500, 2000, 5000))
    nodes = []
    x = "x"
    for i in range(layers):
        nodes.append(helper.make_node("Conv", [x, "w"], [f"c{i}"], name=f"conv{i}", kernel_shape=[2]))
        x = f"c{i}"
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "L"])]
    inits = [numpy_helper.from_array(np.full((1, 1, 2), 0.5, np.float32), "w")]
    return _model(nodes, inputs, [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits)


PRIMES = (2, 3, 5, 7, 11, 13, 17, 19)


def mod_primes(rnd: random.Random) -> onnx.ModelProto:
    """A size taken mod (or divided by) the first primes and recombined: periods up to 9,699,690, past
    the solver's limit, through a window op (onnxruntime deviates there) into Slice/Reshape/Range/
    Pad/Expand/ConstantOfShape. The sets of long periods must cost the budget, not spin."""
    nodes: list[onnx.NodeProto] = []
    inits = [_i64("i2", [2]), _i64("zero", [0]), _i64("one", [1])]
    x = "x"
    if rnd.random() < 0.6:
        op = rnd.choice(("MaxPool", "AveragePool", "Conv"))
        k, s = rnd.randint(2, 5), rnd.randint(1, 3)
        ins = ["x"]
        if op == "Conv":
            inits.append(numpy_helper.from_array(np.full((3, 3, k), 0.1, np.float32), "w"))
            ins.append("w")
        nodes.append(helper.make_node(op, ins, ["p0"], name="window", kernel_shape=[k], strides=[s]))
        x = "p0"
    nodes += [
        helper.make_node("Shape", [x], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "i2"], ["v0"], name="g0", axis=0),
    ]
    n = rnd.randint(4, 8)
    primes = PRIMES[:n] if rnd.random() < 0.7 else tuple(rnd.sample(PRIMES, n))
    vals = ["v0"]
    for i, p in enumerate(primes):
        inits.append(_i64(f"p{p}", [p]))
        src = rnd.choice(vals[:1] * 3 + vals)
        nodes.append(helper.make_node(rnd.choice(("Mod", "Mod", "Div")), [src, f"p{p}"], [f"m{i}"], name=f"m{i}"))
        if i:
            comb = rnd.choice(("Add", "Add", "Sub", "Mul", "Max", "Min"))
            nodes.append(helper.make_node(comb, [vals[-1], f"m{i}"], [f"c{i}"], name=f"c{i}"))
            vals.append(f"c{i}")
        else:
            vals.append(f"m{i}")
    v = vals[-1]
    outs = []
    for j in range(rnd.randint(1, 3)):
        y = f"y{j}"
        kind = rnd.choice(("slice", "reshape", "range", "pad", "expand", "constantofshape"))
        if kind == "slice":
            nodes.append(helper.make_node("Slice", [x, "zero", v, "i2"], [y], name=y))
        elif kind == "reshape":
            nodes.append(helper.make_node("Concat", ["zero", v, "one"], [f"t{j}"], name=f"t{j}", axis=0))
            nodes.append(helper.make_node("Reshape", [x, f"t{j}"], [y], name=y))
        elif kind == "range":
            nodes.append(helper.make_node("Squeeze", [v], [f"q{j}"], name=f"q{j}"))
            inits.append(numpy_helper.from_array(np.array(0, np.int64), f"z{j}"))
            inits.append(numpy_helper.from_array(np.array(1, np.int64), f"d{j}"))
            nodes.append(helper.make_node("Range", [f"z{j}", f"q{j}", f"d{j}"], [y], name=y))
        elif kind == "pad":
            pads = ["zero", "zero", v, "zero", "zero", "zero"]
            nodes.append(helper.make_node("Concat", pads, [f"pp{j}"], name=f"pp{j}", axis=0))
            nodes.append(helper.make_node("Pad", [x, f"pp{j}"], [f"pd{j}"], name=f"pd{j}"))
            k, s = rnd.randint(2, 9), rnd.randint(1, 4)
            nodes.append(helper.make_node("MaxPool", [f"pd{j}"], [y], name=y, kernel_shape=[k], strides=[s]))
        elif kind == "expand":
            nodes.append(helper.make_node("Concat", ["one", "one", v], [f"e{j}"], name=f"e{j}", axis=0))
            nodes.append(helper.make_node("Expand", [x, f"e{j}"], [y], name=y))
        else:
            nodes.append(helper.make_node("ConstantOfShape", [v], [y], name=y))
        outs.append(helper.make_tensor_value_info(y, TensorProto.FLOAT, None))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "L"])]
    return _model(nodes, inputs, outs, inits)


GENERATORS: tuple[tuple[Callable[[random.Random], onnx.ModelProto], float], ...] = (
    (conv_stack, 0.42),
    (shape_chain, 0.14),
    (div_tower, 0.14),
    (odd_graph, 0.18),
    (big_chain, 0.04),
    (finding_chain, 0.02),
    (mod_primes, 0.06),
)


def generated(rnd: random.Random) -> onnx.ModelProto:
    gens, weights = zip(*GENERATORS)
    return rnd.choices(gens, weights)[0](rnd)


# ------------------------------------------------------------------------------ graph mutations


def _mutate_attr(rnd: random.Random, m: onnx.ModelProto) -> None:
    nodes = [n for n in m.graph.node if n.op_type in WINDOW_OPS] or list(m.graph.node)
    if not nodes:
        return
    node = rnd.choice(nodes)
    names = [a.name for a in node.attribute] + list(WINDOW_ATTRS)
    if rnd.random() < 0.9:  # mostly an attribute the op has (any other is a load error)
        opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 18)
        try:
            names = [a.name for a in node.attribute] + sorted(onnx.defs.get_schema(node.op_type, opset, "").attributes)
        except Exception:
            pass
    name = rnd.choice(names)
    keep = [a for a in node.attribute if a.name != name]
    old = next((a for a in node.attribute if a.name == name), None)
    length = len(old.ints) if old is not None and old.ints else rnd.randint(1, 4)
    form = rnd.random()
    if form < 0.6:
        if rnd.random() < 0.15:
            length = rnd.choice((0, 1, length + 1, 2 * length + 1, 64))
        lo = 0 if name in ("pads", "output_padding", "ceil_mode") else 1
        values = [_legal_or_hostile(rnd, lo) if rnd.random() < 0.6 else rnd.randint(lo, lo + 4) for _ in range(length)]
        new = helper.make_attribute(name, values, attr_type=onnx.AttributeProto.INTS)
    elif form < 0.75:
        new = helper.make_attribute(name, _pick_int(rnd, 0.5))
    elif form < 0.85:
        new = helper.make_attribute(name, rnd.choice(AUTO_PADS))
    elif form < 0.95:
        new = helper.make_attribute(name, [rnd.choice((0.5, -1.0, float("nan"), 1e30))])
    else:
        new = helper.make_attribute("auto_pad", rnd.choice(AUTO_PADS))
    del node.attribute[:]
    node.attribute.extend(keep + [new])


def _mutate_dims(rnd: random.Random, m: onnx.ModelProto) -> None:
    ins = [v for v in m.graph.input if v.type.HasField("tensor_type")]
    if not ins:
        return
    vi = rnd.choice(ins)
    shape = vi.type.tensor_type.shape
    if not shape.dim or rnd.random() < 0.1:
        for _ in range(rnd.randint(0, 6)):
            shape.dim.add().dim_param = "D"
        return
    d = rnd.choice(shape.dim)
    r = rnd.random()
    if r < 0.6:
        d.dim_value = _pick_int(rnd, 0.9)
    elif r < 0.8:
        d.dim_param = rnd.choice(("", "N", "L", "x:1", "é", "a-b", "2", "L" * 200))
    else:
        d.Clear()


def _mutate_io(rnd: random.Random, m: onnx.ModelProto) -> None:
    g = m.graph
    r = rnd.randrange(5)
    if r == 0 and g.input:
        g.input.append(rnd.choice(g.input))
    elif r == 1 and g.output:
        g.output.append(rnd.choice(g.output))
    elif r == 2 and g.node:
        n = rnd.choice(g.node)
        if n.input:
            n.input[rnd.randrange(len(n.input))] = rnd.choice(("dangling", "", n.output[0] if n.output else "x"))
    elif r == 3 and g.output:
        g.output[rnd.randrange(len(g.output))].name = "nowhere"
    elif g.initializer:
        t = rnd.choice(g.initializer)
        if t.data_type == TensorProto.INT64 and rnd.random() < 0.7:
            vals = [_pick_int(rnd, 0.7) for _ in range(max(1, int(np.prod(t.dims)) if t.dims else 1))]
            t.CopyFrom(numpy_helper.from_array(np.array(vals, np.int64).reshape(tuple(t.dims) or ()), t.name))
        else:
            del t.dims[:]
            t.dims.extend([_pick_int(rnd, 0.5) for _ in range(rnd.randint(0, 4))])


def _mutate_nodes(rnd: random.Random, m: onnx.ModelProto) -> None:
    g = m.graph
    if not g.node:
        return
    i = rnd.randrange(len(g.node))
    r = rnd.randrange(6)
    nodes = list(g.node)
    if r == 0:
        del nodes[i]
    elif r == 1:
        nodes.insert(i, nodes[i])
    elif r == 2:
        rnd.shuffle(nodes)
    elif r == 3:
        ops = ("Conv", "MaxPool", "Reshape", "Gather", "Concat", "Slice", "Div", "Resize", "Loop", "NoSuchOp", "If")
        nodes[i].op_type = rnd.choice(ops)
    elif r == 4:
        nodes[i].domain = rnd.choice(("com.microsoft", "ai.onnx.ml", "x", "ai.onnx"))
    else:
        nodes[i].name = rnd.choice(("", "/a/b/Conv", "a/b_1/conv", "/", "//", "/x." * 50, "é/ü", "\x00"))
    del g.node[:]
    g.node.extend(nodes)


def _mutate_opset(rnd: random.Random, m: onnx.ModelProto) -> None:
    del m.opset_import[:]
    for _ in range(rnd.randint(0, 2)):
        m.opset_import.append(helper.make_opsetid(rnd.choice(("", "ai.onnx", "com.microsoft")), _pick_int(rnd, 0.5)))


GRAPH_MUTATIONS = (_mutate_attr, _mutate_attr, _mutate_attr, _mutate_dims, _mutate_io, _mutate_nodes, _mutate_opset)


def mutate_graph(rnd: random.Random, data: bytes) -> bytes:
    try:
        m = onnx.ModelProto.FromString(data)
    except Exception:
        return data
    for _ in range(rnd.randint(1, 3)):
        try:
            rnd.choice(GRAPH_MUTATIONS)(rnd, m)
        except Exception:  # onnx.helper refuses some (an empty attribute list): keep the others
            pass
    try:
        return m.SerializeToString()
    except Exception:
        return data


# ------------------------------------------------------------------------------- byte mutations


def mutate_bytes(rnd: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        if not b:
            break
        r = rnd.randrange(7)
        i = rnd.randrange(len(b))
        if r == 0:
            for _ in range(rnd.randint(1, 16)):
                j = rnd.randrange(len(b))
                b[j] ^= 1 << rnd.randrange(8)
        elif r == 1:
            b[i] = rnd.choice((0, 0x7F, 0x80, 0xFF, rnd.randrange(256)))
        elif r == 2:
            del b[i:]  # truncation
        elif r == 3:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif r == 4:
            del b[i : i + rnd.randint(1, 64)]
        elif r == 5:
            j = rnd.randrange(len(b))
            b[i:i] = b[j : j + rnd.randint(1, 256)]
        else:  # a varint made enormous
            b[i:i] = b"\xff" * rnd.randint(1, 12) + b"\x01"
    return bytes(b)


def splice(rnd: random.Random, a: bytes, b: bytes) -> bytes:
    if not a or not b:
        return a or b
    return a[: rnd.randrange(len(a))] + b[rnd.randrange(len(b)) :]


def make_input(seed: int) -> tuple[str, bytes]:
    """One fuzz input: its family and its bytes."""
    rnd = random.Random(seed)
    r = rnd.random()
    if r < 0.35:
        return "generated", generated(rnd).SerializeToString()
    if r < 0.7:
        return "graph-mutation", mutate_graph(rnd, seed_bytes(rnd))
    if r < 0.93:
        return "byte-mutation", mutate_bytes(rnd, seed_bytes(rnd))
    return "splice", splice(rnd, seed_bytes(rnd), seed_bytes(rnd))

"""Deterministic generators for the speed benchmark's large models.

    python bench/models.py                 # generate (or confirm up to date) every model
    python bench/models.py --verify        # ... then onnx.checker + onnxruntime runs at two sizes
    python bench/models.py --models conv1d_stack_1000 resnet152

Models are written to ``bench/models/`` (gitignored). Each file has a ``.stamp`` sidecar
holding a hash of this generator's source and the model's parameters: a model is
regenerated only when it is missing or the stamp does not match (so editing this file
regenerates everything; deleting ``bench/models/`` always works). Everything is built
with onnx.helper + numpy from fixed seeds; nothing is downloaded.

* ``conv1d_stack_{N}`` (N = 1000, 4000): x[N, 16, L] -> N x (Conv1d 16->16, Relu) ->
  GlobalAveragePool -> Flatten -> Gemm(16 -> 10). Kernels 3/5, dilations 1/2/4, mostly
  "same" padding; every 50th conv is unpadded (the length shrinks by 2) and two convs
  have stride 2, so a minimum length exists.
* ``resnet152``: torchvision's ResNet-152 v1.5 layout, image[N, 3, H, W], BatchNormalization
  kept as separate nodes, ~60M float32 weights inline (~240 MB).
* ``gpt2_48``: a 48-layer GPT-2-style decoder in the torch exporter's style (shape values
  through Shape -> Gather -> Unsqueeze -> Concat, the causal mask sliced from a constant
  (1, 1, 1024, 1024) bool buffer with Slice bounds from Shape values, tanh-approximated
  Gelu since opset 17 has no Gelu), input_ids[batch, seq], d_model 384, 6 heads,
  vocabulary 8192, ~92M float32 weights inline (~366 MB).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = Path(__file__).resolve().parent
MODELS_DIR = HERE / "models"
OPSET = 17

# name -> (builder, params); params are part of the up-to-date stamp
SPECS: dict[str, tuple[str, dict]] = {
    "conv1d_stack_1000": ("conv1d_stack", {"layers": 1000, "seed": 1000}),
    "conv1d_stack_4000": ("conv1d_stack", {"layers": 4000, "seed": 4000}),
    "conv1d_valid_1000": ("conv1d_stack", {"layers": 1000, "seed": 1000, "unpadded": True}),
    "conv1d_valid_4000": ("conv1d_stack", {"layers": 4000, "seed": 4000, "unpadded": True}),
    "resnet152": ("resnet", {"blocks": [3, 8, 36, 3], "seed": 152}),
    "gpt2_48": ("gpt2", {"layers": 48, "d": 384, "heads": 6, "vocab": 8192, "ctx": 1024, "seed": 48}),
    "conv_chain_500": ("conv_chain", {"layers": 500}),
    "conv_chain_5000": ("conv_chain", {"layers": 5000}),
    "gpt2_legacy_48": ("gpt2_legacy", {"layers": 48, "d": 256, "heads": 4, "vocab": 50257, "ctx": 1024, "seed": 48}),
}
ALL = list(SPECS)


def model_path(name: str) -> Path:
    return MODELS_DIR / f"{name}.onnx"


# ---------------------------------------------------------------------------
# helpers


class _Builder:
    """Collects nodes and initializers; names are made unique with a counter."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def init(self, hint: str, arr: np.ndarray) -> str:
        name = self.name(hint)
        arr = np.asarray(arr, order="C")  # (ascontiguousarray would make scalars 1-d)
        t = TensorProto()
        t.name = name
        t.data_type = helper.np_dtype_to_tensor_dtype(arr.dtype)
        t.dims.extend(arr.shape)
        t.raw_data = arr.tobytes()
        self.inits.append(t)
        return name

    def const_i64(self, hint: str, values: list[int] | int) -> str:
        """A small int64 initializer (shape constants, axes, split sizes); scalar when an int."""
        arr = np.array(values, dtype=np.int64)
        return self.init(hint, arr)

    def randn(self, hint: str, shape: tuple[int, ...], scale: float) -> str:
        arr = self.rng.standard_normal(shape, dtype=np.float32)
        arr *= np.float32(scale)
        return self.init(hint, arr)

    def node(self, op: str, inputs: list[str], n_out: int = 1, hint: str | None = None, **attrs) -> list[str]:
        base = self.name(hint or op.lower())
        outs = [base] if n_out == 1 else [f"{base}:{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=base, **attrs))
        return outs

    def op(self, op: str, *inputs: str, hint: str | None = None, **attrs) -> str:
        return self.node(op, list(inputs), 1, hint, **attrs)[0]

    def model(self, graph_name: str, inputs, outputs, doc: str) -> onnx.ModelProto:
        g = helper.make_graph(self.nodes, graph_name, inputs, outputs, initializer=self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="graphcheck-bench")
        m.ir_version = 8
        m.doc_string = doc
        return m


# ---------------------------------------------------------------------------
# (a) Conv1d stack


def conv1d_stack(layers: int, seed: int, unpadded: bool = False) -> onnx.ModelProto:
    b = _Builder(seed)
    C = 16
    cfg_rng = np.random.default_rng(seed + 1)
    stride2_at = {layers // 3, (2 * layers) // 3}
    x = "x"
    for i in range(layers):
        if unpadded:  # every layer a finding: out = L - 2 each time
            k, d, s = 3, 1, 1
            pads = [0, 0]
        elif i in stride2_at:
            k, d, s = 3, 1, 2
            pads = [1, 1]  # out = floor((L - 1) / 2) + 1
        elif i % 50 == 25:
            k, d, s = 3, 1, 1
            pads = [0, 0]  # out = L - 2
        else:
            k = int(cfg_rng.choice([3, 5]))
            d = int(cfg_rng.choice([1, 1, 2, 4]))
            s = 1
            p = d * (k - 1) // 2
            pads = [p, p]  # "same"
        w = b.randn("w", (C, C, k), math.sqrt(2.0 / (C * k)))
        bias = b.randn("b", (C,), 0.01)
        y = b.op("Conv", x, w, bias, hint="conv", kernel_shape=[k], dilations=[d], strides=[s], pads=pads)
        x = b.op("Relu", y, hint="relu")
    g = b.op("GlobalAveragePool", x)
    f = b.op("Flatten", g, axis=1)
    wfc = b.randn("fc_w", (10, C), 0.25)
    bfc = b.randn("fc_b", (10,), 0.01)
    b.nodes.append(helper.make_node("Gemm", [f, wfc, bfc], ["logits"], name="fc", transB=1))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", C, "L"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])]
    return b.model(f"conv1d_stack_{layers}", inputs, outputs, f"{layers}-layer Conv1d stack (graphcheck bench)")


def conv_chain(layers: int) -> onnx.ModelProto:
    """x[N, 1, L] -> layers x Conv(kernel 2, unpadded, one channel): every layer shortens the length by
    one, so each is a finding (GC001, ``L - i >= 1``); the report's cost per finding is what it times."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 2], [0.5, 0.5])
    nodes = []
    x = "x"
    for i in range(layers):
        nodes.append(helper.make_node("Conv", [x, "w"], [f"c{i}"], name=f"conv{i}", kernel_shape=[2]))
        x = f"c{i}"
    g = helper.make_graph(
        nodes,
        f"conv_chain_{layers}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "L"])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", 1, f"L - {layers}"])],
        initializer=[w],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="graphcheck-bench")
    m.ir_version = 8
    return m


def conv1d_min_length(layers: int, seed: int, unpadded: bool = False) -> int:
    """The smallest L the stack accepts, by walking the same configuration backwards."""
    if unpadded:
        return 2 * layers + 1
    cfg_rng = np.random.default_rng(seed + 1)
    stride2_at = {layers // 3, (2 * layers) // 3}
    cfg = []
    for i in range(layers):
        if i in stride2_at:
            cfg.append((3, 1, 2, 1))
        elif i % 50 == 25:
            cfg.append((3, 1, 1, 0))
        else:
            k = int(cfg_rng.choice([3, 5]))
            d = int(cfg_rng.choice([1, 1, 2, 4]))
            cfg.append((k, d, 1, d * (k - 1) // 2))
    for L in range(1, 100000):
        n = L
        ok = True
        for k, d, s, p in cfg:
            n = (n + 2 * p - d * (k - 1) - 1) // s + 1
            if n < 1:
                ok = False
                break
        if ok:
            return L
    raise AssertionError("no valid length")


# ---------------------------------------------------------------------------
# (b) ResNet-152


def resnet(blocks: list[int], seed: int) -> onnx.ModelProto:
    b = _Builder(seed)

    def conv_bn(x: str, cin: int, cout: int, k: int, s: int, p: int, relu: bool, gamma: float = 1.0) -> str:
        w = b.randn("conv_w", (cout, cin, k, k), math.sqrt(2.0 / (cin * k * k)))
        y = b.op("Conv", x, w, hint="conv", kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p])
        scale = b.init("bn_scale", np.full((cout,), gamma, np.float32))
        bias = b.init("bn_bias", np.zeros((cout,), np.float32))
        mean = b.init("bn_mean", np.zeros((cout,), np.float32))
        var = b.init("bn_var", np.ones((cout,), np.float32))
        y = b.op("BatchNormalization", y, scale, bias, mean, var, hint="bn", epsilon=1e-5)
        return b.op("Relu", y, hint="relu") if relu else y

    x = conv_bn("image", 3, 64, 7, 2, 3, True)
    x = b.op("MaxPool", x, hint="maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for stage, (n, width) in enumerate(zip(blocks, [64, 128, 256, 512])):
        for j in range(n):
            s = 2 if (j == 0 and stage > 0) else 1
            cout = width * 4
            h = conv_bn(x, cin, width, 1, 1, 0, True)
            h = conv_bn(h, width, width, 3, s, 1, True)
            h = conv_bn(h, width, cout, 1, 1, 0, False, gamma=0.2)  # small last gamma keeps activations tame
            skip = conv_bn(x, cin, cout, 1, s, 0, False) if j == 0 else x
            x = b.op("Relu", b.op("Add", h, skip, hint="add"), hint="relu")
            cin = cout
    x = b.op("GlobalAveragePool", x, hint="gap")
    x = b.op("Flatten", x, hint="flatten", axis=1)
    w = b.randn("fc_w", (1000, 2048), math.sqrt(1.0 / 2048))
    bias = b.randn("fc_b", (1000,), 0.01)
    b.nodes.append(helper.make_node("Gemm", [x, w, bias], ["logits"], name="fc", transB=1))
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])]
    return b.model("resnet152", inputs, outputs, "ResNet-152 layout, random weights (graphcheck bench)")


# ---------------------------------------------------------------------------
# (c) GPT-2-style decoder


def gpt2(layers: int, d: int, heads: int, vocab: int, ctx: int, seed: int) -> onnx.ModelProto:
    b = _Builder(seed)
    hd = d // heads
    std = 0.02
    zero = b.const_i64("zero", 0)
    one = b.const_i64("one", 1)
    ax0 = b.const_i64("axes0", [0])
    zero_1d = b.const_i64("zero_1d", [0])
    ax2 = b.const_i64("axes2", [2])
    ax3 = b.const_i64("axes3", [3])
    c_heads = b.const_i64("n_head", [heads])
    c_hd = b.const_i64("head_dim", [hd])
    c_d = b.const_i64("d_model", [d])
    split_sizes = b.const_i64("split", [d, d, d])
    mask = b.init("attn_bias", np.tril(np.ones((ctx, ctx), dtype=bool)).reshape(1, 1, ctx, ctx))
    neg = b.init("mask_value", np.array(np.finfo(np.float32).min, dtype=np.float32))
    scale = b.init("attn_scale", np.array(math.sqrt(hd), dtype=np.float32))
    half = b.init("half", np.array(0.5, np.float32))
    onef = b.init("one_f", np.array(1.0, np.float32))
    three = b.init("three", np.array(3.0, np.float32))
    c_gelu = b.init("gelu_c", np.array(0.044715, np.float32))
    c_sqrt = b.init("gelu_s", np.array(math.sqrt(2.0 / math.pi), np.float32))

    wte = b.randn("wte", (vocab, d), std)
    wpe = b.randn("wpe", (ctx, d), 0.01)
    tok = b.op("Gather", wte, "input_ids", hint="wte_gather", axis=0)
    ids_shape = b.op("Shape", "input_ids", hint="ids_shape")
    seq = b.op("Gather", ids_shape, one, hint="seq_len", axis=0)  # scalar
    pos = b.op("Range", zero, seq, one, hint="positions")
    pos = b.op("Unsqueeze", pos, ax0, hint="positions_2d")
    pe = b.op("Gather", wpe, pos, hint="wpe_gather", axis=0)
    h = b.op("Add", tok, pe, hint="embed")

    def layer_norm(x: str) -> str:
        g = b.init("ln_g", np.ones((d,), np.float32))
        be = b.init("ln_b", np.zeros((d,), np.float32))
        return b.op("LayerNormalization", x, g, be, hint="ln", axis=-1, epsilon=1e-5)

    def linear(x: str, din: int, dout: int, out_scale: float = std) -> str:
        w = b.randn("w", (din, dout), out_scale)
        bias = b.init("bias", np.zeros((dout,), np.float32))
        return b.op("Add", b.op("MatMul", x, w, hint="matmul"), bias, hint="add")

    def dim(x: str, i: int) -> str:
        """Shape(x)[i] as a 1-element int64 tensor, the exporter's Shape -> Gather -> Unsqueeze."""
        shp = b.op("Shape", x, hint="shape")
        idx = b.const_i64("idx", i)
        g = b.op("Gather", shp, idx, hint="gather", axis=0)
        return b.op("Unsqueeze", g, ax0, hint="unsqueeze")

    def split_heads(x: str, perm: list[int]) -> str:
        shape = b.op("Concat", dim(x, 0), dim(x, 1), c_heads, c_hd, hint="concat", axis=0)
        r = b.op("Reshape", x, shape, hint="reshape")
        return b.op("Transpose", r, hint="transpose", perm=perm)

    for _ in range(layers):
        a = layer_norm(h)
        qkv = linear(a, d, 3 * d)
        q, k, v = b.node("Split", [qkv, split_sizes], 3, "split", axis=2)
        q = split_heads(q, [0, 2, 1, 3])
        kt = split_heads(k, [0, 2, 3, 1])
        v = split_heads(v, [0, 2, 1, 3])
        att = b.op("Div", b.op("MatMul", q, kt, hint="qk"), scale, hint="scale")
        # causal mask: bias[:, :, klen - qlen : klen, :klen] with lengths from Shape values
        qlen = dim(q, 2)
        klen = dim(kt, 3)
        start = b.op("Sub", klen, qlen, hint="mask_start")
        m = b.op("Slice", mask, start, klen, ax2, hint="mask_rows")
        m = b.op("Slice", m, zero_1d, klen, ax3, hint="mask_cols")
        att = b.op("Where", m, att, neg, hint="masked")
        att = b.op("Softmax", att, hint="softmax", axis=-1)
        o = b.op("MatMul", att, v, hint="av")
        o = b.op("Transpose", o, hint="merge_t", perm=[0, 2, 1, 3])
        merged = b.op("Concat", dim(o, 0), dim(o, 1), c_d, hint="merge_shape", axis=0)
        o = b.op("Reshape", o, merged, hint="merge")
        o = linear(o, d, d, std / math.sqrt(2 * layers))
        h = b.op("Add", h, o, hint="residual")
        a = layer_norm(h)
        f = linear(a, d, 4 * d)
        # Gelu, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = b.op("Pow", f, three, hint="gelu_pow")
        inner = b.op("Add", f, b.op("Mul", cube, c_gelu, hint="gelu_mul"), hint="gelu_add")
        t = b.op("Tanh", b.op("Mul", inner, c_sqrt, hint="gelu_mul"), hint="gelu_tanh")
        f = b.op("Mul", b.op("Mul", f, half, hint="gelu_half"), b.op("Add", t, onef, hint="gelu_add"), hint="gelu")
        f = linear(f, 4 * d, d, std / math.sqrt(2 * layers))
        h = b.op("Add", h, f, hint="residual")
    h = layer_norm(h)
    lm = b.randn("lm_head", (d, vocab), std)
    b.nodes.append(helper.make_node("MatMul", [h, lm], ["logits"], name="lm_head"))
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", vocab])]
    return b.model("gpt2_48", inputs, outputs, f"{layers}-layer GPT-2-style decoder, random weights (graphcheck bench)")


# ---------------------------------------------------------------------------
# (d) GPT-2 exported by torch.onnx's legacy (TorchScript) exporter without constant folding


def gpt2_legacy(layers: int, d: int, heads: int, vocab: int, ctx: int, seed: int) -> onnx.ModelProto:
    """transformers' GPT2LMHeadModel from a config (random weights, nothing downloaded), exported the
    way many files in the wild were: ``torch.onnx.export(dynamo=False, do_constant_folding=False)``.
    Every scalar, axis list and shape piece is then its own Constant node (about a third of the
    nodes) and every head reshape a Shape -> Gather -> Unsqueeze -> Concat chain. Needs torch and
    transformers (``pip install -e '.[zoo]'``). An attention mask is an input too: without one,
    transformers' mask code uses ``aten::diff``, which the legacy exporter cannot export."""
    import io
    import warnings

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    torch.manual_seed(seed)
    cfg = GPT2Config(n_layer=layers, n_embd=d, n_head=heads, vocab_size=vocab, n_positions=ctx)
    lm = GPT2LMHeadModel(cfg).eval()

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lm = lm

        def forward(self, input_ids, attention_mask):  # type: ignore[no-untyped-def]
            return self.lm(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits

    ids = torch.randint(0, vocab, (1, 8))
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Logits().eval(),
            (ids, torch.ones_like(ids)),
            buf,
            dynamo=False,
            do_constant_folding=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}},
            opset_version=OPSET,
        )
    return onnx.load_from_string(buf.getvalue())


BUILDERS: dict[str, Callable[..., onnx.ModelProto]] = {
    "conv1d_stack": conv1d_stack,
    "resnet": resnet,
    "gpt2": gpt2,
    "gpt2_legacy": gpt2_legacy,
    "conv_chain": conv_chain,
}


# ---------------------------------------------------------------------------
# generation with up-to-date stamps


def _stamp(name: str) -> str:
    kind, params = SPECS[name]
    src = Path(__file__).read_bytes()
    h = hashlib.sha256(src)
    h.update(json.dumps([name, kind, params, onnx.__version__], sort_keys=True).encode())
    return h.hexdigest()


def up_to_date(name: str) -> bool:
    path = model_path(name)
    stamp = path.with_suffix(".stamp")
    if not path.exists() or not stamp.exists():
        return False
    try:
        info = json.loads(stamp.read_text())
    except ValueError:
        return False
    return info.get("stamp") == _stamp(name) and info.get("size") == path.stat().st_size


def generate(name: str, force: bool = False, log: Callable[[str], None] = print) -> Path:
    """Write ``bench/models/<name>.onnx`` unless it is already present and up to date."""
    path = model_path(name)
    if not force and up_to_date(name):
        return path
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    kind, params = SPECS[name]
    t0 = time.perf_counter()
    model = BUILDERS[kind](**params)
    t1 = time.perf_counter()
    tmp = path.with_suffix(".onnx.tmp")
    with open(tmp, "wb") as f:
        f.write(model.SerializeToString())
    os.replace(tmp, path)
    t2 = time.perf_counter()
    size = path.stat().st_size
    path.with_suffix(".stamp").write_text(
        json.dumps({"stamp": _stamp(name), "size": size, "nodes": len(model.graph.node)})
    )
    log(
        f"generated {path.relative_to(HERE.parent)}: {len(model.graph.node)} nodes, {size / 1e6:.1f} MB "
        f"(build {t1 - t0:.1f} s, write {t2 - t1:.1f} s)"
    )
    return path


def node_count(name: str) -> int | None:
    stamp = model_path(name).with_suffix(".stamp")
    try:
        return int(json.loads(stamp.read_text())["nodes"])
    except (OSError, ValueError, KeyError):
        return None


def ensure(names: list[str], log: Callable[[str], None] = print) -> dict[str, Path]:
    return {n: generate(n, log=log) for n in names}


# ---------------------------------------------------------------------------
# verification


def verify(name: str) -> list[str]:
    """onnx.checker on the file, then onnxruntime runs at two dynamic sizes. Returns report lines."""
    import onnxruntime as ort

    ort.set_default_logger_severity(4)  # the expected failure below would print an error line
    path = str(model_path(name))
    lines = []
    t0 = time.perf_counter()
    onnx.checker.check_model(path, full_check=True)  # the path form; full_check adds strict shape inference
    lines.append(f"{name}: onnx.checker.check_model(path, full_check=True) ok ({time.perf_counter() - t0:.1f} s)")
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    kind, params = SPECS[name]
    if kind == "conv_chain":
        n = params["layers"]
        feeds = [{"x": rng.standard_normal((1, 1, n + 1), dtype=np.float32)}]
        expect = [(1, 1, 1)]
        note = f" (minimum length L = {n + 1})"
        bad = {"x": rng.standard_normal((1, 1, n), dtype=np.float32)}
    elif kind == "conv1d_stack":
        lmin = conv1d_min_length(params["layers"], params["seed"], params.get("unpadded", False))
        feeds = [
            {"x": rng.standard_normal((1, 16, lmin), dtype=np.float32)},
            {"x": rng.standard_normal((2, 16, lmin + 37), dtype=np.float32)},
        ]
        expect = [(1, 10), (2, 10)]
        note = f" (minimum length L = {lmin} by direct walk)"
        bad = {"x": rng.standard_normal((1, 16, lmin - 1), dtype=np.float32)}
    elif kind == "resnet":
        feeds = [
            {"image": rng.standard_normal((1, 3, 224, 224), dtype=np.float32)},
            {"image": rng.standard_normal((2, 3, 160, 192), dtype=np.float32)},
        ]
        expect = [(1, 1000), (2, 1000)]
        note, bad = "", None
    else:
        v = params["vocab"]
        feeds = [
            {"input_ids": rng.integers(0, v, (1, 8), dtype=np.int64)},
            {"input_ids": rng.integers(0, v, (2, 33), dtype=np.int64)},
        ]
        expect = [(1, 8, v), (2, 33, v)]
        note = ""
        bad = {"input_ids": rng.integers(0, v, (1, params["ctx"] + 1), dtype=np.int64)}
        if kind == "gpt2_legacy":  # the attention mask has the ids' shape
            for feed in [*feeds, bad]:
                feed["attention_mask"] = np.ones_like(feed["input_ids"])
    for feed, want in zip(feeds, expect):
        t0 = time.perf_counter()
        (out,) = sess.run(None, feed)
        shp = {k: v.shape for k, v in feed.items()}
        assert out.shape == want, (out.shape, want)
        finite = bool(np.isfinite(out).all())
        lines.append(
            f"{name}: onnxruntime run {shp} -> {out.shape} ok, finite={finite} ({time.perf_counter() - t0:.2f} s)"
        )
    lines[-1] += note
    if kind == "gpt2":  # (the legacy export is transformers' own GPT-2: its mask is theirs)
        # causality (the sliced mask is the right one): changing the last token leaves earlier logits alone
        ids = feeds[1]["input_ids"].copy()
        (a,) = sess.run(None, {"input_ids": ids})
        ids[:, -1] = (ids[:, -1] + 1) % params["vocab"]
        (c,) = sess.run(None, {"input_ids": ids})
        causal = np.allclose(a[:, :-1], c[:, :-1], atol=1e-5) and not np.allclose(a[:, -1], c[:, -1], atol=1e-5)
        lines.append(
            f"{name}: causal mask check {'ok' if causal else 'FAILED'} (earlier positions ignore a later token)"
        )
    if bad is not None:
        shp = {k: v.shape for k, v in bad.items()}
        ro = ort.RunOptions()
        ro.log_severity_level = 4
        try:
            sess.run(None, bad, ro)
            lines.append(f"{name}: onnxruntime run {shp} unexpectedly succeeded")
        except Exception as exc:  # noqa: BLE001
            lines.append(f"{name}: onnxruntime run {shp} fails as expected ({type(exc).__name__}: {str(exc)[:120]})")
    del sess
    return lines


def verify_ort_symbolic(name: str) -> str:
    """Run ORT's symbolic_shape_infer (loaded by file, without onnxruntime.tools' __init__)."""
    import importlib.util

    import onnxruntime

    src = Path(onnxruntime.__file__).parent / "tools" / "symbolic_shape_infer.py"
    spec = importlib.util.spec_from_file_location("_ort_symbolic_shape_infer", src)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    m = onnx.load(str(model_path(name)))
    t0 = time.perf_counter()
    out = mod.SymbolicShapeInference.infer_shapes(m, auto_merge=True, guess_output_rank=False)
    dt = time.perf_counter() - t0
    o = out.graph.output[0].type.tensor_type.shape
    dims = [x.dim_param or x.dim_value for x in o.dim]
    return f"{name}: ORT symbolic_shape_infer(auto_merge=True) ok, output {dims} ({dt:.1f} s)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", choices=ALL, default=ALL)
    ap.add_argument("--force", action="store_true", help="regenerate even when up to date")
    ap.add_argument("--verify", action="store_true", help="onnx.checker + onnxruntime at two sizes + ORT symbolic")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    for n in args.models:
        if not args.force and up_to_date(n):
            print(f"{n}: up to date ({model_path(n).stat().st_size / 1e6:.1f} MB, {node_count(n)} nodes)")
        else:
            generate(n, force=args.force)
    print(f"generation: {time.perf_counter() - t0:.1f} s")
    if args.verify:
        import os as _os
        import tempfile

        cwd = _os.getcwd()
        with tempfile.TemporaryDirectory() as tmp:
            _os.chdir(tmp)  # ORT's symbolic inference writes sym_shape_infer_temp.onnx on failure
            try:
                for n in args.models:
                    for line in verify(n):
                        print(line, flush=True)
                    print(verify_ort_symbolic(n), flush=True)
            finally:
                _os.chdir(cwd)
    return 0


if __name__ == "__main__":
    sys.exit(main())

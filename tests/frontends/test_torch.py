"""graphcheck.torch on real PyTorch modules, through both exporters, findings in module names.

Each classic case states its valid set derived by hand from the layer formulas (PyTorch's
``out = floor((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1``), checks graphcheck's statement
and exact membership against it, runs PyTorch eagerly and the exported model in onnxruntime at a
failing size and at the smallest valid one. Fix suggestions are applied to the module itself (the
submodule rebuilt with the new parameter), re-exported by the same exporter and run in onnxruntime at
the size that failed.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import pytest

from tests.frontends._shared import assert_membership, findings, layers_with, ort, ort_ok

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import graphcheck  # noqa: E402
import graphcheck.torch as gt  # noqa: E402
from graphcheck.errors import GraphcheckError, UsageError  # noqa: E402
from graphcheck.frontends.contract import Exported  # noqa: E402
from graphcheck.report.fixes import Fix  # noqa: E402
from graphcheck.report.report import Report  # noqa: E402

SEED = 1234
EXPORTERS = ("dynamo", "legacy")


# --------------------------------------------------------------------------- modules


class KernelTooLong(nn.Module):
    """(a) kernels of 11 and 5, no padding."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_a = nn.Conv1d(1, 8, 11)
        self.conv_b = nn.Conv1d(8, 8, 5)
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv_b(F.relu(self.conv_a(x))))
        return self.head(self.gap(x).flatten(1))


class LongStride(nn.Module):
    """(b) a stride-16 conv (kernel 3) before a kernel-3 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_stride = nn.Conv1d(1, 8, 3, stride=16)
        self.conv_b = nn.Conv1d(8, 8, 3)
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv_b(F.relu(self.conv_stride(x))))
        return self.head(self.gap(x).flatten(1))


class ForgottenChannel(nn.Module):
    """(c) Conv1d(1, 8, 7) meant for (N, 1, L), fed (N, L): PyTorch reads it as unbatched (C, L)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 8, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x))


class Chomp1d(nn.Module):
    """Drops the last ``chomp`` steps (the right padding), as in the TCN reference code."""

    def __init__(self, chomp: int) -> None:
        super().__init__()
        self.chomp = chomp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, : -self.chomp]


class TemporalBlock(nn.Module):
    def __init__(self, c: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c, c, 3, padding=2 * dilation, dilation=dilation)
        self.chomp = Chomp1d(2 * dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.chomp(self.conv(x)))


class TCN(nn.Module):
    """(d) causal dilated TCN (pad both sides, chomp the right), then one dilated conv, no padding."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_in = nn.Conv1d(1, 8, 1)
        self.blocks = nn.Sequential(*(TemporalBlock(8, d) for d in (1, 2, 4, 8)))
        self.conv_valid = nn.Conv1d(8, 8, 3, dilation=4)
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_valid(self.blocks(self.conv_in(x)))
        return self.head(self.gap(x).flatten(1))


class FlattenLinear(nn.Module):
    """(e) Conv1d -> MaxPool1d -> Conv1d -> Flatten -> Linear(4 * 29 = 116), designed for L = 64."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, 4, 3)
        self.pool1 = nn.MaxPool1d(2)
        self.conv2 = nn.Conv1d(4, 4, 3)
        self.flatten = nn.Flatten()
        self.head = nn.Linear(116, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.pool1(F.relu(self.conv1(x))))
        return self.head(self.flatten(F.relu(x)))


class DoubleConv(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv_b = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv_b(F.relu(self.conv_a(x))))


class UNet(nn.Module):
    """(f) three MaxPool2d(2) downsamplings, ConvTranspose2d(2, stride 2) upsamplings, cat skips."""

    def __init__(self, c: int = 4) -> None:
        super().__init__()
        self.enc1, self.enc2, self.enc3 = DoubleConv(1, c), DoubleConv(c, 2 * c), DoubleConv(2 * c, 2 * c)
        self.down = nn.MaxPool2d(2)
        self.bottleneck = DoubleConv(2 * c, 2 * c)
        self.up3 = nn.ConvTranspose2d(2 * c, 2 * c, 2, stride=2)
        self.dec3 = DoubleConv(4 * c, 2 * c)
        self.up2 = nn.ConvTranspose2d(2 * c, 2 * c, 2, stride=2)
        self.dec2 = DoubleConv(4 * c, c)
        self.up1 = nn.ConvTranspose2d(c, c, 2, stride=2)
        self.dec1 = DoubleConv(2 * c, c)
        self.out_conv = nn.Conv2d(c, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(self.down(e1))
        e3 = self.enc3(self.down(e2))
        b = self.bottleneck(self.down(e3))
        d3 = self.dec3(torch.cat([self.up3(b), e3], dim=1))
        d2 = self.dec2(torch.cat([self.up2(d3), e2], dim=1))
        return self.out_conv(self.dec1(torch.cat([self.up1(d2), e1], dim=1)))


class SelfAttention(nn.Module):
    """Multi-head self-attention written out the BERT/GPT-2 way (shapes from ``x.shape``)."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / self.head_dim**0.5, dim=-1)
        return self.out_proj((att @ v).transpose(1, 2).reshape(b, s, d))


class LearnedPositions(nn.Module):
    """A learned (max_len, d) table added to the whole sequence (Whisper/ViT style)."""

    def __init__(self, max_len: int, d: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(max_len, d) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table


class TinyTransformer(nn.Module):
    """(g) token embedding + 64 learned positions (looked up, or added as a table) + one block."""

    def __init__(self, added_table: bool = False) -> None:
        super().__init__()
        self.added_table = added_table
        self.tok_emb = nn.Embedding(50, 16)
        self.pos_emb: nn.Module = LearnedPositions(64, 16) if added_table else nn.Embedding(64, 16)
        self.attn = SelfAttention(16, 2)
        self.norm = nn.LayerNorm(16)
        self.lm_head = nn.Linear(16, 50)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.tok_emb(input_ids)
        if self.added_table:
            x = self.pos_emb(x)
        else:
            positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
            x = x + self.pos_emb(positions)
        return self.lm_head(self.norm(x + self.attn(x)))


def _signal(n: int = 64) -> tuple[torch.Tensor, ...]:
    return (torch.randn(2, 1, n),)


CASES: dict[str, tuple[Callable[[], nn.Module], Callable[[], tuple[torch.Tensor, ...]]]] = {
    "kernel_too_long": (KernelTooLong, _signal),
    "long_stride": (LongStride, _signal),
    "forgotten_channel": (ForgottenChannel, lambda: (torch.randn(1, 100),)),
    "tcn": (TCN, _signal),
    "flatten_linear": (FlattenLinear, _signal),
    "unet": (UNet, lambda: (torch.randn(1, 1, 64, 48),)),
    "position_lookup": (TinyTransformer, lambda: (torch.randint(0, 50, (2, 16)),)),
    "position_table": (lambda: TinyTransformer(added_table=True), lambda: (torch.randint(0, 50, (2, 64)),)),
}

# (c): the user declares both axes of the (N, L) input dynamic, as they meant them
FORGOTTEN_SPEC: dict[str, dict[str, Any]] = {
    "dynamo": {"dynamic_shapes": ({0: "batch", 1: "x_len"},)},
    "legacy": {"dynamic_axes": {"x": {0: "batch", 1: "x_len"}}},
}


@functools.cache
def module(name: str) -> nn.Module:
    torch.manual_seed(SEED)
    return CASES[name][0]().eval()


@functools.cache
def exported(name: str, exporter: str, fallback: bool = True) -> Exported:
    """The export of a case's module (shared by the tests: a dynamo export takes a second or two)."""
    torch.manual_seed(SEED + 1)
    spec = FORGOTTEN_SPEC[exporter] if name == "forgotten_channel" else {}
    return gt.export(module(name), CASES[name][1](), exporter=exporter, fallback=fallback, **spec)


def built(name: str, exporter: str, fallback: bool = True) -> onnx.ModelProto:
    return exported(name, exporter, fallback).proto


def report(name: str, exporter: str, fallback: bool = True) -> Report:
    """What ``gt.check(module, example, exporter=...)`` answers, from the shared export."""
    return gt.report_for(exported(name, exporter, fallback))


def eager_ok(mod: nn.Module, *args: torch.Tensor) -> bool:
    try:
        with torch.no_grad():
            mod(*args)
    except (RuntimeError, IndexError, ValueError):
        return False
    return True


exporters = pytest.mark.parametrize("exporter", EXPORTERS)


# --------------------------------------------------------------------------- the API


@exporters
def test_check_exports_in_memory_and_names_dims_after_the_inputs(exporter: str) -> None:
    rep = gt.check(module("kernel_too_long"), _signal(), exporter=exporter)
    assert rep.name == "KernelTooLong"
    assert [(i.name, i.dims) for i in rep.inputs] == [("x", ("batch", "1", "x_len"))]
    assert rep.framework is not None and rep.framework.framework == "torch"
    conv_a = rep.framework.layers["conv_a"]
    assert (conv_a.kind, conv_a.config["kernel_size"], conv_a.config["in_channels"]) == ("Conv1d", (11,), 1)
    assert rep.framework.layers["head"].config["out_features"] == 2
    again = report("kernel_too_long", exporter)
    assert rep.valid == again.valid
    assert [d.message for d in rep.diagnostics] == [d.message for d in again.diagnostics]
    assert gt.check(module("kernel_too_long"), _signal(), exporter=exporter, dims={"batch": 1}).valid == "x_len >= 15"


@exporters
def test_default_dynamic_axes_and_names(exporter: str) -> None:
    # float (N, C, H, W): batch and both spatial axes; int (N, S) token ids: both axes
    assert [i.dims for i in report("unet", exporter).inputs] == [("batch", "1", "x_h", "x_w")]
    assert [i.dims for i in report("position_lookup", exporter).inputs] == [("batch", "input_ids_len")]


def test_user_named_dims_are_kept() -> None:
    rep = gt.check(module("kernel_too_long"), _signal(), exporter="legacy", dynamic_axes={"x": {0: "N", 2: "length"}})
    assert rep.valid == "length >= 15   (N: any >= 1)"
    named = gt.check(module("kernel_too_long"), _signal(), input_names=["signal"], exporter="legacy")
    assert [i.dims for i in named.inputs] == [("batch", "1", "signal_len")]


def test_dynamo_declared_ranges_are_renamed_with_the_dims() -> None:
    # torch.export's range_constraints name its own symbols; they follow the renaming, so the
    # declared-range check (GC107) speaks of input_ids_len: torch declares [0, inf], the table caps 64
    rep = report("position_lookup", "dynamo")
    assert any(d.code == "GC107" and "input_ids_len" in d.message for d in rep.diagnostics)
    meta = {p.key: p.value for p in built("position_lookup", "dynamo").graph.metadata_props}
    ranges = meta["pkg.torch.export.ExportedProgram.range_constraints"]
    assert "input_ids_len" in ranges and "batch" in ranges


def test_usage_errors_are_one_line() -> None:
    with pytest.raises(UsageError, match="exporter must be"):
        gt.check(module("kernel_too_long"), _signal(), exporter="onnx")
    with pytest.raises(UsageError, match="dynamic_shapes or dynamic_axes, not both"):
        gt.check(module("kernel_too_long"), _signal(), dynamic_shapes=({0: "n"},), dynamic_axes={"x": [0]})
    with pytest.raises(UsageError, match="no input named 'signal': the inputs are x"):
        gt.check(module("kernel_too_long"), _signal(), dynamic_axes={"signal": {2: "L"}})
    with pytest.raises(UsageError, match="rank 3: no axis 3"):
        gt.check(module("kernel_too_long"), _signal(), dynamic_shapes={"x": {3: "L"}})
    with pytest.raises(GraphcheckError) as exc:  # the example does not fit the module
        gt.check(module("kernel_too_long"), (torch.randn(2, 3, 64),), exporter="legacy")
    assert "\n" not in str(exc.value) and "KernelTooLong" in str(exc.value)


@exporters
def test_exported_file_keeps_the_module_names(exporter: str, tmp_path: Path) -> None:
    """graphcheck.check(path) on the exported file names the same modules (scopes / dynamo metadata)."""
    path = tmp_path / f"kernel_too_long_{exporter}.onnx"
    onnx.save(built("kernel_too_long", exporter), str(path))
    from_file = graphcheck.check(str(path))
    live = report("kernel_too_long", exporter)
    assert from_file.valid == live.valid == "x_len >= 15   (batch: any >= 1)"
    assert [d.layer for d in findings(from_file, "GC001")] == ["conv_a", "conv_b"]
    if exporter == "dynamo":  # the dynamo exporter records the module classes too
        assert layers_with(from_file, "GC001") == [("conv_a", "Conv1d"), ("conv_b", "Conv1d")]


# --------------------------------------------------------------------------- the classic cases


@exporters
def test_a_kernel_longer_than_the_sequence(exporter: str) -> None:
    # conv_a (k 11): L - 10; conv_b (k 5): L - 14 >= 1  <=>  L >= 15
    rep = report("kernel_too_long", exporter)
    assert rep.valid == "x_len >= 15   (batch: any >= 1)"
    assert layers_with(rep, "GC001") == [("conv_a", "Conv1d"), ("conv_b", "Conv1d")]
    by_layer = {d.layer: d for d in findings(rep, "GC001")}
    assert by_layer["conv_a"].fails_for == "x_len <= 10"
    assert by_layer["conv_b"].fails_for == "x_len <= 14"
    assert_membership(rep, "x_len", lambda n: n >= 15, 60)
    mod = module("kernel_too_long")
    assert [eager_ok(mod, torch.randn(1, 1, n)) for n in (14, 15)] == [False, True]
    assert ort_ok(built("kernel_too_long", exporter), [{"x": (2, 1, 14)}, {"x": (1, 1, 15)}]) == [False, True]


@exporters
def test_b_a_long_stride(exporter: str) -> None:
    # conv_stride (k 3, s 16): floor((L - 3) / 16) + 1 >= 1 <=> L >= 3
    # conv_b (k 3): floor((L - 3) / 16) + 1 - 2 >= 1 <=> L - 3 >= 32 <=> L >= 35
    rep = report("long_stride", exporter)
    assert rep.valid == "x_len >= 35   (batch: any >= 1)"
    by_layer = {d.layer: d for d in findings(rep, "GC001")}
    assert by_layer["conv_stride"].fails_for == "x_len in {1, 2}"
    assert (by_layer["conv_b"].fails_for, by_layer["conv_b"].layer_type) == ("x_len <= 34", "Conv1d")
    assert_membership(rep, "x_len", lambda n: n >= 35, 120)
    mod = module("long_stride")
    assert [eager_ok(mod, torch.randn(1, 1, n)) for n in (34, 35)] == [False, True]
    assert ort_ok(built("long_stride", exporter), [{"x": (1, 1, 34)}, {"x": (1, 1, 35)}]) == [False, True]


@exporters
def test_c_forgotten_channel_is_read_as_unbatched(exporter: str) -> None:
    # (N, L) into Conv1d(1, 8, 7): PyTorch takes a 2-D input as unbatched (C, L), so the "batch"
    # is the channel count and must equal in_channels = 1; the length needs L - 6 >= 1
    mod = module("forgotten_channel")
    assert eager_ok(mod, torch.randn(1, 7)) and not eager_ok(mod, torch.randn(4, 100))
    rep = report("forgotten_channel", exporter)
    assert [i.dims for i in rep.inputs] == [("batch", "x_len")]
    assert rep.valid == "batch = 1; x_len >= 7"
    assert layers_with(rep, "GC010") == [("conv", "Conv1d")]
    assert layers_with(rep, "GC007") == [("conv", "Conv1d")]  # batch declared dynamic, pinned to 1
    assert findings(rep, "GC010")[0].fails_for == "batch >= 2"
    assert_membership(rep, "x_len", lambda n: n >= 7, 40, batch=1)
    assert_membership(rep, "batch", lambda n: n == 1, 20, x_len=100)
    shapes = [{"x": (4, 100)}, {"x": (1, 6)}, {"x": (1, 7)}]
    assert ort_ok(built("forgotten_channel", exporter), shapes) == [False, False, True]


@exporters
def test_d_causal_dilated_tcn(exporter: str) -> None:
    # each block: conv (k 3, dilation d, padding 2d): L + 4d - 2d = L + 2d, chomp 2d: L, for every
    # L >= 1, so the residual adds match; conv_valid (k 3, dilation 4) spans 9: L - 8 >= 1 <=> L >= 9
    rep = report("tcn", exporter)
    assert rep.valid == "x_len >= 9   (batch: any >= 1)"
    assert layers_with(rep, "GC001") == [("conv_valid", "Conv1d")]
    assert findings(rep, "GC001")[0].fails_for == "x_len <= 8"
    assert not findings(rep, "GC003")
    assert_membership(rep, "x_len", lambda n: n >= 9, 60)
    mod = module("tcn")
    assert [eager_ok(mod, torch.randn(1, 1, n)) for n in (8, 9)] == [False, True]
    assert ort_ok(built("tcn", exporter), [{"x": (1, 1, 1)}, {"x": (1, 1, 8)}, {"x": (1, 1, 9)}]) == [
        False,
        False,
        True,
    ]


# conv1 L - 2; pool1 floor((L - 2) / 2); conv2 floor((L - 2) / 2) - 2; Linear(116):
# 4 * (floor((L - 2) / 2) - 2) = 116 <=> floor((L - 2) / 2) = 31 <=> L in {64, 65}
def _flatten_ok(n: int) -> bool:
    return n >= 8 and 4 * ((n - 2) // 2 - 2) == 116


def test_e_flatten_linear_pins_the_length_legacy() -> None:
    rep = report("flatten_linear", "legacy")
    assert rep.valid == "x_len in {64, 65}   (batch: any >= 1)"
    assert layers_with(rep, "GC005") == [("head", "Linear")]
    assert layers_with(rep, "GC007") == [("head", "Linear")]
    assert_membership(rep, "x_len", _flatten_ok, 200)
    mod = module("flatten_linear")
    assert [eager_ok(mod, torch.randn(1, 1, n)) for n in (63, 64, 65, 66)] == [False, True, True, False]
    shapes = [{"x": (1, 1, n)} for n in (63, 64, 65, 66)]
    assert ort_ok(built("flatten_linear", "legacy"), shapes) == [False, True, True, False]


def test_e_flatten_linear_dynamo_falls_back_to_legacy() -> None:
    # torch.export refuses Dim.DYNAMIC here ("tracing inferred a static shape of 64": MaxPool1d has no
    # symbolic-size support in torch 2.13) and Dim.AUTO declares [64, 64]: the chain goes on to the
    # legacy exporter, says so (GC108, with the guard and the module torch was in), and analyses its graph
    rep = report("flatten_linear", "dynamo")
    assert rep.exporter.startswith("torch.onnx legacy (TorchScript), torch 2.13")
    assert [(a.exporter, a.outcome.split(":")[0].split(" x")[0]) for a in rep.attempts] == [
        ("torch.onnx dynamo (torch.export, Dim.DYNAMIC)", "failed"),
        ("torch.onnx dynamo (torch.export, Dim.AUTO)", "specialized"),
        ("torch.onnx legacy (TorchScript)", "used"),
    ]
    (spec,) = findings(rep, "GC108")
    assert "fixed x_len (x:2, asked dynamic) to 64" in spec.message
    assert "guard Eq(x_len - 2, 62) at tests/frontends/test_torch.py:" in spec.message
    assert (spec.layer, spec.layer_type) == ("pool1", "MaxPool1d")
    assert "test_torch.py" in spec.message and "self.pool1(" in spec.message
    assert rep.valid == "x_len in {64, 65}   (batch: any >= 1)"
    assert_membership(rep, "x_len", _flatten_ok, 200)


def test_e_flatten_linear_dynamo_only() -> None:
    # fallback=False keeps to the dynamo exporter: the Dim.AUTO graph keeps the ONNX input symbolic
    # and torch.export declares [64, 64]
    proto = built("flatten_linear", "dynamo", False)
    assert [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [
        "batch",
        1,
        "x_len",
    ]
    # onnxruntime runs the exported graph at 64 and 65 (not only the declared 64)
    shapes = [{"x": (1, 1, n)} for n in (63, 64, 65, 66)]
    assert ort_ok(proto, shapes) == [False, True, True, False]
    rep = report("flatten_linear", "dynamo", False)
    assert rep.exporter.startswith("torch.onnx dynamo (torch.export, Dim.AUTO)")
    # the view(batch, -1) Reshape target 4*floor(L/2) - 12 can be negative for small L; it is never
    # -1 (a multiple of 4 minus 12), so it is followed exactly: < 0 is invalid, 0 copies
    assert rep.complete
    assert rep.valid == "x_len in {64, 65}   (batch: any >= 1)"
    assert all(rep.accepts({"x_len": n}) is _flatten_ok(n) for n in range(1, 200))
    # torch.export declared [64, 64]: it excludes 65, which works (GC107)
    assert any(d.code == "GC107" and "65" in d.message for d in rep.diagnostics)
    assert [d.code for d in findings(rep, "GC108")] == ["GC108"]


@exporters
def test_f_unet_skips_need_multiples_of_8(exporter: str) -> None:
    # padding-1 3x3 convs keep sizes; MaxPool2d(2) floors n/2; ConvTranspose2d(2, stride 2) doubles.
    # The cats need floor(H/4), floor(H/2) and H even <=> H % 8 == 0; the same for W
    rep = report("unet", exporter)
    assert rep.valid == "x_h % 8 == 0; x_w % 8 == 0   (batch: any >= 1)"
    assert layers_with(rep, "GC004")  # the cats (top-level torch.cat: no module of their own)
    down = {d.layer for d in findings(rep, "GC001")}
    assert down == {"down"}  # the one MaxPool2d module, used three times
    assert_membership(rep, "x_h", lambda n: n % 8 == 0, 64, x_w=8)
    assert_membership(rep, "x_w", lambda n: n % 8 == 0, 64, x_h=16)
    mod = module("unet")
    assert [eager_ok(mod, torch.randn(1, 1, h, 48)) for h in (60, 64)] == [False, True]
    shapes = [{"x": (1, 1, h, w)} for h, w in ((8, 8), (64, 48), (60, 48), (64, 44), (12, 16))]
    assert ort_ok(built("unet", exporter), shapes) == [True, True, False, False, False]


@exporters
def test_g_position_lookup_caps_the_length(exporter: str) -> None:
    # pos_emb = Embedding(64, 16) read at arange(S) = 0..S-1: S - 1 <= 63 <=> S <= 64
    rep = report("position_lookup", exporter)
    assert rep.valid == "input_ids_len <= 64   (batch: any >= 1)"
    assert layers_with(rep, "GC009") == [("pos_emb", "Embedding")]
    assert_membership(rep, "input_ids_len", lambda n: n <= 64, 140)
    mod = module("position_lookup")
    assert [eager_ok(mod, torch.zeros(1, n, dtype=torch.long)) for n in (64, 65)] == [True, False]
    shapes = [{"input_ids": (1, n)} for n in (1, 64, 65)]
    assert ort_ok(built("position_lookup", exporter), shapes) == [True, True, False]


@exporters
def test_g_added_position_table_pins_the_length(exporter: str) -> None:
    # (N, S, 16) + (64, 16) broadcasts only if S == 64 or S == 1 (one position against all 64)
    mod = module("position_table")
    assert [eager_ok(mod, torch.zeros(1, n, dtype=torch.long)) for n in (1, 2, 63, 64, 65)] == [
        True,
        False,
        False,
        True,
        False,
    ]
    rep = report("position_table", exporter)
    assert layers_with(rep, "GC003") == [("pos_emb", "LearnedPositions")]
    assert layers_with(rep, "GC007") == [("pos_emb", "LearnedPositions")]
    # torch.export refuses Dim.DYNAMIC (the broadcast pins S) and Dim.AUTO declares [64, 64]: the
    # dynamo chain ends at the legacy exporter, whose graph, like the module, takes S in {1, 64}
    assert rep.exporter.startswith("torch.onnx legacy")
    assert rep.valid == "input_ids_len in {1, 64}   (batch: any >= 1)"
    assert_membership(rep, "input_ids_len", lambda n: n in (1, 64), 140)
    shapes = [{"input_ids": (1, n)} for n in (1, 2, 63, 64, 65)]
    assert ort_ok(built("position_table", exporter), shapes) == [True, False, False, True, False]
    if exporter == "dynamo":  # torch's guard, at the module and the line that added it
        (spec,) = findings(rep, "GC108")
        line = inspect.getsourcelines(LearnedPositions.forward)[1] + 1
        assert f"guard Eq(input_ids_len, 64) at tests/frontends/test_torch.py:{line}" in spec.message
        assert (spec.layer, spec.layer_type) == ("pos_emb", "LearnedPositions")


def test_g_added_position_table_dynamo_only() -> None:
    # with Dim.AUTO torch.export specializes S to the example's 64 and bakes it into the attention's
    # view(b, s, 3, 2, 8): the element count 3072*N must equal 48*N*S, so the exported graph takes
    # S = 64 only (the module, and the legacy export, also take S = 1)
    rep = report("position_table", "dynamo", False)
    assert rep.valid == "input_ids_len = 64   (batch: any >= 1)"
    assert layers_with(rep, "GC006") == [("attn", "SelfAttention")]
    assert_membership(rep, "input_ids_len", lambda n: n == 64, 140)
    shapes = [{"input_ids": (1, n)} for n in (1, 2, 63, 64, 65)]
    assert ort_ok(built("position_table", "dynamo", False), shapes) == [False, False, False, True, False]


# --------------------------------------------------------------------------- fixes, applied

_CONV = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "padding_mode")
_REBUILD: dict[type, tuple[str, ...]] = {
    nn.Conv1d: _CONV,
    nn.Conv2d: _CONV,
    nn.MaxPool1d: ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    nn.MaxPool2d: ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    nn.AvgPool1d: ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
}


def apply_fix(mod: nn.Module, fix: Fix) -> nn.Module:
    """A copy of the module with the submodule the fix names rebuilt with the new parameter."""
    new = copy.deepcopy(mod)
    old = new.get_submodule(fix.layer)
    keys = _REBUILD[type(old)]
    assert fix.param in keys, f"{fix.param} is not a parameter of {fix.layer_type}"
    kwargs = {k: getattr(old, k) for k in keys}
    if isinstance(old, nn.Conv1d | nn.Conv2d):
        kwargs["bias"] = old.bias is not None
    kwargs[fix.param] = fix.value
    parent_path, _, attr = fix.layer.rpartition(".")
    setattr(new.get_submodule(parent_path) if parent_path else new, attr, type(old)(**kwargs))
    return new.eval()


FIX_CASES = [
    # kernel_too_long at L = 12: conv_a gives 2 steps, conv_b's kernel 5 does not fit.
    # conv_b: padding p: 2 + 2p >= 5 <=> p >= 2 ('same' would do too); kernel: k <= 2.
    # conv_a: 12 - k + 1 >= 5 <=> k <= 8. The smallest valid length is 15.
    (
        "kernel_too_long",
        12,
        {
            ("conv_b", "padding", "same"),
            ("conv_b", "padding", 2),
            ("conv_b", "kernel_size", 2),
            ("conv_a", "kernel_size", 8),
            ("", "input_length", 15),
        },
    ),
    # long_stride at L = 20: conv_stride gives floor(17/16) + 1 = 2, conv_b needs 3. conv_b: p >= 1,
    # k <= 2, 'same'; conv_stride: floor(17/s) + 1 >= 3 <=> s <= 8 (it is stride 16: no 'same'
    # for it in PyTorch, and it is not the failing layer anyway). Input: 35.
    (
        "long_stride",
        20,
        {
            ("conv_b", "padding", "same"),
            ("conv_b", "padding", 1),
            ("conv_b", "kernel_size", 2),
            ("conv_stride", "stride", 8),
            ("", "input_length", 35),
        },
    ),
    # tcn at L = 5: conv_valid (k 3, d 4) spans 9: p: 5 + 2p - 8 >= 1 <=> p >= 2; k: 5 - 4(k-1) >= 1
    # <=> k <= 2; d: 5 - 2d >= 1 <=> d <= 2; input 9. Not 'same': onnxruntime refuses SAME padding
    # on a dilated Conv (the explicit padding=2 is the same change, and runs).
    (
        "tcn",
        5,
        {
            ("conv_valid", "padding", 2),
            ("conv_valid", "kernel_size", 2),
            ("conv_valid", "dilation", 2),
            ("", "input_length", 9),
        },
    ),
]


@exporters
@pytest.mark.parametrize("name, length, expected", FIX_CASES, ids=[c[0] for c in FIX_CASES])
def test_fixes_applied_to_the_module_run_in_onnxruntime(
    exporter: str, name: str, length: int, expected: set[tuple[str, str, object]]
) -> None:
    mod = module(name)
    proto = built(name, exporter)
    rep = report(name, exporter)
    sizes = {"x_len": length}
    assert rep.accepts(sizes) is False
    fixes = rep.fixes(sizes)
    got = {(f.layer, f.param, f.value) for f in fixes}
    assert expected <= got, f"missing: {expected - got}"
    x = torch.randn(1, 1, length)
    jobs: list[tuple[onnx.ModelProto, list[dict[str, tuple[int, ...]]]]] = []
    refused = []  # fixes whose export onnxruntime refuses at every size (see below)
    for f in fixes:
        if f.param == "input_length":
            assert isinstance(f.value, int)
            assert eager_ok(mod, torch.randn(1, 1, f.value)), f.text  # pad the input to that length
            jobs.append((proto, [{"x": (1, 1, f.value)}]))
            continue
        changed = apply_fix(mod, f)
        assert eager_ok(changed, x), f.text
        again = gt.export(changed, _signal(), exporter=exporter)
        assert gt.report_for(again).accepts(sizes) is True, f.text
        jobs.append((again.proto, [{"x": (1, 1, length)}]))
        # the legacy exporter writes Conv1d(padding='same', dilation=4) as auto_pad=SAME_UPPER with
        # dilations [4]: valid ONNX, run by PyTorch and by the dynamo export (explicit pads), but
        # onnxruntime refuses dilation with SAME auto_pad at every size
        dilated_same = f.value == "same" and getattr(mod.get_submodule(f.layer), "dilation", (1,)) != (1,)
        refused.append(exporter == "legacy" and dilated_same)
    jobs.append((proto, [{"x": (1, 1, length)}]))  # the original still fails there
    results = ort(jobs)
    for f, bad, r in zip(fixes, refused, results):
        if bad:
            assert "Dilation not supported for AutoPadType::SAME_UPPER" in r[0].error, f.text
        else:
            assert r[0].nonempty, f"{f.text}: {r[0].error}"
    assert results[-1][0].nonempty is False


def test_input_length_fixes_for_pinned_and_divisible_sizes() -> None:
    # flatten at 100: only 64 and 65 work, the nearest is 65 (crop); U-Net at 60 x 48: pad to 64;
    # the position lookup at 100 tokens: at most 64
    cases = [
        ("flatten_linear", {"x_len": 100}, 65, {"x": (1, 1, 65)}),
        ("unet", {"x_h": 60, "x_w": 48}, 64, {"x": (1, 1, 64, 48)}),
        ("position_lookup", {"input_ids_len": 100}, 64, {"input_ids": (1, 64)}),
    ]
    jobs = []
    for name, sizes, target, shape in cases:
        fix = [f for f in report(name, "legacy").fixes(sizes) if f.param == "input_length"]
        assert [f.value for f in fix] == [target], name
        jobs.append((built(name, "legacy"), [shape]))
    assert [r[0].nonempty for r in ort(jobs)] == [True, True, True]

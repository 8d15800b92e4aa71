"""graphcheck.keras on real Keras 3 models: exported by tf2onnx in memory, findings in layer names.

Each classic case states its valid set derived by hand from the layer formulas
(``out = floor((in + pads - dilation*(kernel-1) - 1) / stride) + 1``; 'same' keeps ``ceil(in/stride)``;
'causal' pads ``(kernel-1)*dilation`` on the left), checks graphcheck's statement and exact membership
against it, and runs the exported model in onnxruntime at a failing size and at the smallest valid one.
Fix suggestions are applied to the Keras model itself (the layer rebuilt with the new parameter, or a
ZeroPadding1D inserted), re-exported, and run in onnxruntime at the size that failed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import pytest

from tests.frontends._shared import assert_membership, findings, layers_with, ort, ort_ok, symbolic

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")

import graphcheck  # noqa: E402
import graphcheck.keras as gk  # noqa: E402
from graphcheck.errors import GraphcheckError  # noqa: E402
from graphcheck.frontends.contract import Exported  # noqa: E402
from graphcheck.report.fixes import Fix  # noqa: E402
from graphcheck.report.report import Report  # noqa: E402

layers = keras.layers
ops = keras.ops
SEED = 1234


# --------------------------------------------------------------------------- models


def kernel_too_long() -> Any:
    """(a) 'valid' kernels of 11 and 5 on a 1-channel signal."""
    inp = keras.Input((None, 1), name="signal")
    x = layers.Conv1D(8, 11, padding="valid", name="conv_a")(inp)
    x = layers.Conv1D(8, 5, padding="valid", activation="relu", name="conv_b")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inp, layers.Dense(2, name="head")(x), name="kernel_too_long")


def long_stride() -> Any:
    """(b) a stride-16 conv (kernel 3) before a kernel-3 conv."""
    inp = keras.Input((None, 1), name="signal")
    x = layers.Conv1D(8, 3, strides=16, padding="valid", name="conv_stride")(inp)
    x = layers.Conv1D(8, 3, padding="valid", name="conv_b")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inp, layers.Dense(2, name="head")(x), name="long_stride")


def channels_as_length() -> Any:
    """(c) the signal on the channel axis: Input((1, 100)) (PyTorch's (C, L) layout in Keras)."""
    inp = keras.Input((1, 100), name="signal")
    x = layers.Conv1D(8, 7, padding="same", name="conv")(inp)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inp, layers.Dense(2, name="head")(x), name="channels_as_length")


def tcn() -> Any:
    """(d) causal dilated TCN with residual adds, then one dilated 'valid' conv."""
    inp = keras.Input((None, 1), name="signal")
    x = layers.Conv1D(8, 3, padding="causal", dilation_rate=1, name="tcn_d1")(inp)
    for d in (2, 4, 8):
        y = layers.Conv1D(8, 3, padding="causal", dilation_rate=d, activation="relu", name=f"tcn_d{d}")(x)
        x = layers.Add(name=f"res_d{d}")([x, y])
    x = layers.Conv1D(8, 3, dilation_rate=4, padding="valid", name="conv_valid")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inp, layers.Dense(2, name="head")(x), name="tcn")


def flatten_dense(length: int | None = 64) -> Any:
    """(e) Conv1D -> MaxPooling1D -> Conv1D -> Flatten -> Dense, built for length 64."""
    inp = keras.Input((length, 1), name="signal")
    x = layers.Conv1D(4, 3, padding="valid", name="conv1")(inp)
    x = layers.MaxPooling1D(2, name="pool1")(x)
    x = layers.Conv1D(4, 3, padding="valid", name="conv2")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(inp, layers.Dense(3, name="head")(x), name="flatten_dense")


def _block(x: Any, c: int, name: str) -> Any:
    x = layers.Conv2D(c, 3, padding="same", activation="relu", name=f"{name}_a")(x)
    return layers.Conv2D(c, 3, padding="same", activation="relu", name=f"{name}_b")(x)


def unet() -> Any:
    """(f) three 2x2 max-pool downsamplings, Conv2DTranspose upsamplings, Concatenate skips."""
    inp = keras.Input((None, None, 1), name="image")
    e1 = _block(inp, 4, "enc1")
    e2 = _block(layers.MaxPooling2D(2, name="down1")(e1), 8, "enc2")
    e3 = _block(layers.MaxPooling2D(2, name="down2")(e2), 8, "enc3")
    b = _block(layers.MaxPooling2D(2, name="down3")(e3), 8, "bottleneck")
    u3 = layers.Conv2DTranspose(8, 2, strides=2, name="up3")(b)
    d3 = _block(layers.Concatenate(name="skip3")([u3, e3]), 8, "dec3")
    u2 = layers.Conv2DTranspose(8, 2, strides=2, name="up2")(d3)
    d2 = _block(layers.Concatenate(name="skip2")([u2, e2]), 4, "dec2")
    u1 = layers.Conv2DTranspose(4, 2, strides=2, name="up1")(d2)
    d1 = _block(layers.Concatenate(name="skip1")([u1, e1]), 4, "dec1")
    return keras.Model(inp, layers.Conv2D(2, 1, name="out_conv")(d1), name="unet")


class GatherPositions(layers.Layer):  # type: ignore[misc]
    """Learned positions read with ``tf.gather(table, tf.range(seq_len))``."""

    def __init__(self, max_len: int, dim: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.max_len, self.dim = max_len, dim

    def build(self, input_shape: Any) -> None:
        self.table = self.add_weight(shape=(self.max_len, self.dim), name="table")

    def call(self, x: Any) -> Any:
        return x + tf.gather(self.table, tf.range(tf.shape(x)[1]))


class LearnedPositions(GatherPositions):
    """A learned (max_len, dim) table added to the whole sequence: ``x + table``."""

    def call(self, x: Any) -> Any:
        return x + self.table


class EmbeddingPositions(layers.Layer):  # type: ignore[misc]
    """The common Keras 3 way: ``keras.layers.Embedding(max_len, dim)(ops.arange(seq_len))``."""

    def __init__(self, max_len: int, dim: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.table = layers.Embedding(max_len, dim, name="pos_table")

    def call(self, x: Any) -> Any:
        return x + self.table(ops.arange(ops.shape(x)[1]))


def transformer(positions: type) -> Any:
    """(g) token embedding + 64 learned positions + one attention block + LM head."""
    inp = keras.Input((None,), dtype="int32", name="tokens")
    x = layers.Embedding(50, 16, name="tok_emb")(inp)
    x = positions(64, 16, name="pos_emb")(x)
    a = layers.MultiHeadAttention(2, 8, name="attn")(x, x)
    x = layers.LayerNormalization(name="norm1")(layers.Add(name="res1")([x, a]))
    return keras.Model(inp, layers.Dense(50, name="lm_head")(x), name="tiny_transformer")


MODELS: dict[str, Callable[[], Any]] = {
    "kernel_too_long": kernel_too_long,
    "long_stride": long_stride,
    "channels_as_length": channels_as_length,
    "tcn": tcn,
    "flatten_dense": flatten_dense,
    "unet": unet,
    "gather_positions": lambda: transformer(GatherPositions),
    "learned_positions": lambda: transformer(LearnedPositions),
    "embedding_positions": lambda: transformer(EmbeddingPositions),
}


@functools.cache
def _model(name: str) -> Any:
    keras.utils.set_random_seed(SEED)
    return MODELS[name]()


@functools.cache
def exported(name: str, dynamic: tuple[str, ...] = ()) -> Exported:
    """The export of a Keras model (shared by the tests: TF exports take about a second).

    ``dynamic``: input axes exported as dynamic though the model was built for a fixed size.
    """
    return gk.export(_model(name), dynamic=dynamic)


def built(name: str, dynamic: tuple[str, ...] = ()) -> tuple[Any, onnx.ModelProto]:
    """The Keras model and its exported graph."""
    return _model(name), exported(name, dynamic).proto


def report(name: str, dims: dict[str, int | str] | None = None) -> Report:
    """What ``gk.check(model, dims)`` answers, from the shared export."""
    return gk.report_for(exported(name, tuple(gk.symbolic_axes(dims or {}))), dims)


# --------------------------------------------------------------------------- the API


def test_check_exports_in_memory_and_names_dims_after_the_inputs() -> None:
    model, _ = built("kernel_too_long")
    rep = gk.check(model)
    assert rep.name == "kernel_too_long"
    assert [(i.name, i.dims) for i in rep.inputs] == [("signal", ("batch", "signal_len", "1"))]
    assert rep.framework is not None and rep.framework.framework == "keras"
    conv_a = rep.framework.layers["conv_a"]
    assert conv_a.kind == "Conv1D"
    assert conv_a.config["kernel_size"] == (11,) and conv_a.config["padding"] == "valid"
    assert rep.framework.layers["head"].config["units"] == 2
    # the same answer as the two steps the tests below use
    again = report("kernel_too_long")
    assert rep.valid == again.valid
    assert [d.message for d in rep.diagnostics] == [d.message for d in again.diagnostics]
    # dims work as in graphcheck.check
    assert gk.check(model, {"batch": 1}).valid == "signal_len >= 15"


def test_dim_names_follow_the_rank() -> None:
    assert [i.dims for i in report("unet").inputs] == [("batch", "image_h", "image_w", "1")]
    assert [i.dims for i in report("learned_positions").inputs] == [("batch", "tokens_len")]


def test_an_unbuilt_model_is_a_one_line_error() -> None:
    seq = keras.Sequential([layers.Dense(2)])
    with pytest.raises(GraphcheckError, match="no symbolic inputs") as exc:
        gk.check(seq)
    assert "\n" not in str(exc.value)


def test_exported_file_keeps_the_layer_names(tmp_path: Path) -> None:
    """graphcheck.check(path) on the exported file names the same Keras layers (tf2onnx scopes)."""
    _, proto = built("kernel_too_long")
    path = tmp_path / "kernel_too_long.onnx"
    onnx.save(proto, str(path))
    from_file = graphcheck.check(str(path))
    live = report("kernel_too_long")
    assert from_file.valid == live.valid == "signal_len >= 15   (batch: any >= 1)"
    assert [d.layer for d in findings(from_file, "GC001")] == [d.layer for d in findings(live, "GC001")]
    assert [d.layer for d in findings(from_file, "GC001")] == ["conv_a", "conv_b"]
    assert from_file.layers.framework == "keras"


# --------------------------------------------------------------------------- the classic cases


def test_a_kernel_longer_than_the_sequence() -> None:
    # conv_a (k 11, valid): L - 10; conv_b (k 5, valid): (L - 10) - 4 = L - 14 >= 1  <=>  L >= 15
    rep = report("kernel_too_long")
    assert rep.valid == "signal_len >= 15   (batch: any >= 1)"
    assert layers_with(rep, "GC001") == [("conv_a", "Conv1D"), ("conv_b", "Conv1D")]
    by_layer = {d.layer: d for d in findings(rep, "GC001")}
    assert by_layer["conv_a"].fails_for == "signal_len <= 10"
    assert by_layer["conv_b"].fails_for == "signal_len <= 14"
    assert_membership(rep, "signal_len", lambda n: n >= 15, 60)
    _, proto = built("kernel_too_long")
    assert ort_ok(proto, [{"signal": (2, 10, 1)}, {"signal": (2, 14, 1)}, {"signal": (1, 15, 1)}]) == [
        False,
        False,
        True,
    ]


def test_b_a_long_stride() -> None:
    # conv_stride (k 3, s 16): n1 = floor((L - 3) / 16) + 1 >= 1 <=> L >= 3
    # conv_b (k 3): n1 - 2 >= 1 <=> floor((L - 3) / 16) >= 2 <=> L - 3 >= 32 <=> L >= 35
    rep = report("long_stride")
    assert rep.valid == "signal_len >= 35   (batch: any >= 1)"
    by_layer = {d.layer: d for d in findings(rep, "GC001")}
    assert by_layer["conv_stride"].fails_for == "signal_len in {1, 2}"
    assert by_layer["conv_b"].fails_for == "signal_len <= 34"
    assert by_layer["conv_b"].layer_type == "Conv1D"
    assert_membership(rep, "signal_len", lambda n: n >= 35, 120)
    _, proto = built("long_stride")
    assert ort_ok(proto, [{"signal": (1, 34, 1)}, {"signal": (1, 35, 1)}]) == [False, True]


def test_c_forgotten_channel_keras_refuses_so_the_signal_lands_on_the_channel_axis() -> None:
    # Keras will not build Conv1D on Input((L,)): it checks the rank when the layer is called.
    for shape in ((None,), (100,)):
        with pytest.raises(ValueError, match="expected min_ndim=3, found ndim=2"):
            layers.Conv1D(8, 7, name="conv")(keras.Input(shape))
    # The closest model Keras does build: the signal put on the channel axis, Input((1, 100))
    # (the (C, L) layout of PyTorch). With 'valid' padding Keras refuses that too (one step is
    # shorter than the kernel); with 'same' it builds a conv over ONE step with 100 input channels.
    with pytest.raises(ValueError, match="zero or negative"):
        layers.Conv1D(8, 7, padding="valid")(keras.Input((1, 100)))
    rep = report("channels_as_length")
    assert [i.dims for i in rep.inputs] == [("batch", "1", "100")]
    assert rep.valid == "any size   (batch: any >= 1)"
    assert rep.framework is not None and rep.framework.layers["conv"].config["kernel_size"] == (7,)
    _, proto = built("channels_as_length")
    # Which lengths would the exported graph take (the --dim question on the file)? tf2onnx turned
    # the NWC -> NCHW transpose into Reshape(x, [-1, 100, 1, 1]) (legal only because the one step
    # axis is 1): N*L must be a multiple of 100, and then the Conv sees its 100 input channels.
    # At batch 1: L % 100 == 0, and L = 200 silently becomes a batch of 2.
    on_file = graphcheck.check(proto, {"signal:2": "L", "batch": 1})
    assert on_file.valid == "L % 100 == 0"
    assert layers_with(on_file, "GC006") == [("conv", "Conv")]  # from the file alone: the ONNX op
    assert_membership(on_file, "L", lambda n: n % 100 == 0, 300)
    relaxed = symbolic(proto, "signal", 2, "L")
    results = ort([(relaxed, [{"signal": (1, 1, n)} for n in (99, 100, 101, 200)])])[0]
    assert [r.nonempty for r in results] == [False, True, False, True]
    assert results[3].shapes == ((2, 2),)
    # Exporting the live model with that axis dynamic instead (gk.check(model, {"signal:2": "L"}))
    # does not work: with an unknown channel count tf2onnx leaves the Conv1D as an unconverted
    # StatefulPartitionedCall, and graphcheck says it cannot follow it (no size claimed valid).
    rep_l = report("channels_as_length", {"signal:2": "L"})
    assert not rep_l.complete and "StatefulPartitionedCall" in rep_l.valid


def test_d_causal_dilated_tcn() -> None:
    # causal: a left Pad of (3-1)*d then a 'valid' dilated conv: (L + 2d) - 2d = L for every L >= 1,
    # so the residual adds always match; conv_valid (k 3, dilation 4) spans 9: L - 8 >= 1 <=> L >= 9
    rep = report("tcn")
    assert rep.valid == "signal_len >= 9   (batch: any >= 1)"
    assert layers_with(rep, "GC001") == [("conv_valid", "Conv1D")]
    assert findings(rep, "GC001")[0].fails_for == "signal_len <= 8"
    assert not findings(rep, "GC003")  # no residual add ever mismatches
    assert_membership(rep, "signal_len", lambda n: n >= 9, 60)
    _, proto = built("tcn")
    assert ort_ok(proto, [{"signal": (1, 1, 1)}, {"signal": (1, 8, 1)}, {"signal": (1, 9, 1)}]) == [
        False,
        False,
        True,
    ]


def test_e_flatten_dense_pins_the_length() -> None:
    # Keras cannot build Flatten -> Dense on a None length: the Dense kernel needs a known width
    with pytest.raises(ValueError, match="fully-defined"):
        flatten_dense(None)
    # built on 64: conv1 L-2; pool1 floor((L-2)/2); conv2 floor((L-2)/2) - 2; the Dense kernel
    # is (4*29 = 116, 3): 4*(floor((L-2)/2) - 2) = 116 <=> floor((L-2)/2) = 31 <=> L in {64, 65}
    rep = report("flatten_dense")
    assert [i.dims for i in rep.inputs] == [("batch", "64", "1")]
    rep_l = report("flatten_dense", {"signal:1": "L"})
    assert rep_l.valid == "L in {64, 65}   (batch: any >= 1)"
    assert layers_with(rep_l, "GC005") == [("head", "Dense")]
    assert_membership(rep_l, "L", lambda n: n >= 6 and 4 * ((n - 2) // 2 - 2) == 116, 200)
    _, relaxed = built("flatten_dense", ("signal:1",))
    shapes = [{"signal": (1, n, 1)} for n in (63, 64, 65, 66)]
    assert ort_ok(relaxed, shapes) == [False, True, True, False]


def test_f_unet_skips_need_multiples_of_8() -> None:
    # 'same' convs keep sizes; each MaxPooling2D(2) floors n/2; each Conv2DTranspose(k 2, s 2)
    # doubles. skip3 needs 2*floor(H/8) = floor(H/4), skip2 2*floor(H/4) = floor(H/2), skip1
    # 2*floor(H/2) = H: floor(H/4), floor(H/2) and H even <=> H % 8 == 0 (and the same for W)
    rep = report("unet")
    assert rep.valid == "image_h % 8 == 0; image_w % 8 == 0   (batch: any >= 1)"
    skips = {lay for lay, kind in layers_with(rep, "GC004") if kind == "Concatenate"}
    assert skips == {"skip1", "skip2", "skip3"}
    assert_membership(rep, "image_h", lambda n: n % 8 == 0, 80, image_w=8)
    assert_membership(rep, "image_w", lambda n: n % 8 == 0, 80, image_h=16)
    _, proto = built("unet")
    shapes = [{"image": (1, h, w, 1)} for h, w in ((8, 8), (64, 48), (60, 48), (64, 44), (12, 16))]
    assert ort_ok(proto, shapes) == [True, True, False, False, False]


def test_g_position_gather_caps_the_length() -> None:
    # Gather from a 64-row table with indices Range(0, L) = 0..L-1: L - 1 <= 63 <=> L <= 64
    rep = report("gather_positions")
    assert rep.valid == "tokens_len <= 64   (batch: any >= 1)"
    assert layers_with(rep, "GC009") == [("pos_emb", "GatherPositions")]
    assert_membership(rep, "tokens_len", lambda n: n <= 64, 140)
    _, proto = built("gather_positions")
    shapes = [{"tokens": (1, n)} for n in (1, 64, 65)]
    assert ort_ok(proto, shapes) == [True, True, False]


def test_g_learned_table_added_pins_the_length() -> None:
    # (N, L, 16) + (64, 16) broadcasts only if L == 64 or L == 1 (one position against all 64)
    rep = report("learned_positions")
    assert rep.valid == "tokens_len in {1, 64}   (batch: any >= 1)"
    assert layers_with(rep, "GC003") == [("pos_emb", "LearnedPositions")]
    assert layers_with(rep, "GC007") == [("pos_emb", "LearnedPositions")]
    assert_membership(rep, "tokens_len", lambda n: n in (1, 64), 140)
    _, proto = built("learned_positions")
    shapes = [{"tokens": (1, n)} for n in (1, 2, 63, 64, 65)]
    assert ort_ok(proto, shapes) == [True, False, False, True, False]


def test_g_keras_embedding_on_arange_fails_past_64_in_onnxruntime() -> None:
    # keras.layers.Embedding(64, 16)(ops.arange(L)): ops.take's negative-index fix-up
    # (where(i < 0, i + 64, i)) is exported as Less/Not/Cast/Mul/Add arithmetic before the Gather
    _, proto = built("embedding_positions")
    assert ort_ok(proto, [{"tokens": (1, n)} for n in (1, 64, 65)]) == [True, True, False]


def test_g_keras_embedding_on_arange_caps_the_length() -> None:
    # the index bounds survive the exported where(i < 0, i + n, i) arithmetic of keras.ops.take:
    # Range(0, L) < 0 is decided false, so the fix-up adds 0 and the Gather sees 0 .. L - 1
    rep = report("embedding_positions")
    assert rep.valid == "tokens_len <= 64   (batch: any >= 1)"


# --------------------------------------------------------------------------- fixes, applied


def apply_fix(model: Any, fix: Fix) -> Any:
    """The Keras model with the suggested change: the layer rebuilt, or a ZeroPadding1D before it."""

    def clone(layer: Any) -> Any:
        cfg = layer.get_config()
        if layer.name == fix.layer and fix.param != "zero_padding":
            assert fix.param in cfg, f"{fix.param} is not a parameter of {fix.layer_type}"
            cfg[fix.param] = fix.value
        return type(layer).from_config(cfg)

    def call(layer: Any, *args: Any, **kwargs: Any) -> Any:
        if layer.name == fix.layer and fix.param == "zero_padding":
            args = (layers.ZeroPadding1D(fix.value, name=f"{fix.layer}_pad")(args[0]), *args[1:])
        return layer(*args, **kwargs)

    return keras.models.clone_model(model, clone_function=clone, call_function=call)


FIX_CASES = [
    # kernel_too_long at L = 12: conv_a gives 2 steps, conv_b's kernel 5 does not fit.
    # conv_b: 'same' keeps 2; zero padding p: 2 + 2p >= 5 <=> p >= 2; kernel k: 2 - k + 1 >= 1 <=> k <= 2.
    # conv_a: 12 - k + 1 >= 5 <=> k <= 8. Input: the smallest valid length is 15.
    (
        "kernel_too_long",
        12,
        {
            ("conv_b", "padding", "same"),
            ("conv_b", "zero_padding", 2),
            ("conv_b", "kernel_size", 2),
            ("conv_a", "kernel_size", 8),
            ("", "input_length", 15),
        },
    ),
    # long_stride at L = 20: conv_stride gives floor(17/16) + 1 = 2 steps, conv_b needs 3.
    # conv_b: 'same'; p: 2 + 2p >= 3 <=> p >= 1; k <= 2. conv_stride: floor(17/s) + 1 >= 3 <=> s <= 8.
    (
        "long_stride",
        20,
        {
            ("conv_b", "padding", "same"),
            ("conv_b", "zero_padding", 1),
            ("conv_b", "kernel_size", 2),
            ("conv_stride", "strides", 8),
            ("", "input_length", 35),
        },
    ),
    # tcn at L = 5: conv_valid (k 3, d 4) spans 9. p: 5 + 2p - 8 >= 1 <=> p >= 2;
    # k: 5 - 4(k-1) >= 1 <=> k <= 2; d: 5 - 2d >= 1 <=> d <= 2; input 9. Not 'same': onnxruntime
    # refuses SAME padding on a dilated Conv, so a fix verified at the ONNX level must not need it.
    (
        "tcn",
        5,
        {
            ("conv_valid", "zero_padding", 2),
            ("conv_valid", "kernel_size", 2),
            ("conv_valid", "dilation_rate", 2),
            ("", "input_length", 9),
        },
    ),
]


@pytest.mark.parametrize("name, length, expected", FIX_CASES, ids=[c[0] for c in FIX_CASES])
def test_fixes_applied_to_the_keras_model_run_in_onnxruntime(
    name: str, length: int, expected: set[tuple[str, str, object]]
) -> None:
    model, proto = built(name)
    rep = report(name)
    sizes = {"signal_len": length}
    assert rep.accepts(sizes) is False
    fixes = rep.fixes(sizes)
    got = {(f.layer, f.param, f.value) for f in fixes}
    assert expected <= got, f"missing: {expected - got}"
    jobs: list[tuple[onnx.ModelProto, list[dict[str, tuple[int, ...]]]]] = []
    texts = []
    for f in fixes:
        if f.param == "input_length":
            assert isinstance(f.value, int)
            # pad the input to the suggested length: the unchanged model runs there
            jobs.append((proto, [{"signal": (1, f.value, 1)}]))
        else:
            changed = gk.export(apply_fix(model, f))
            # our own verdict on the re-exported model (never "fails"; unknown only where tf2onnx
            # lowers a dilated 'same' conv to SpaceToBatchND/BatchToSpaceND with computed pads),
            # and onnxruntime at the length that failed
            verdict = gk.report_for(changed).accepts(sizes)
            dilated_same = f.param == "padding" and _model(name).get_layer(f.layer).dilation_rate != (1,)
            assert verdict is (None if dilated_same else True), f.text
            jobs.append((changed.proto, [{"signal": (1, length, 1)}]))
        texts.append(f.text)
    jobs.append((proto, [{"signal": (1, length, 1)}]))  # and the original still fails there
    results = ort(jobs)
    assert [r[0].nonempty for r in results[:-1]] == [True] * len(fixes), texts
    assert results[-1][0].nonempty is False


def test_input_length_fixes_for_pinned_and_divisible_sizes() -> None:
    # flatten_dense at L = 100: only 64 and 65 work, the nearest is 65 (crop to it)
    rep = report("flatten_dense", {"signal:1": "L"})
    fix = [f for f in rep.fixes({"L": 100}) if f.param == "input_length"]
    assert [f.value for f in fix] == [65]
    # the U-Net at 60 x 48: the next multiple of 8 is 64 (pad to it)
    rep_u = report("unet")
    fix_u = [f for f in rep_u.fixes({"image_h": 60, "image_w": 48}) if f.param == "input_length"]
    assert [f.value for f in fix_u] == [64]
    # the position gather at 100 tokens: at most 64
    rep_g = report("gather_positions")
    fix_g = [f for f in rep_g.fixes({"tokens_len": 100}) if f.param == "input_length"]
    assert [f.value for f in fix_g] == [64]
    relaxed = built("flatten_dense", ("signal:1",))[1]
    results = ort(
        [
            (relaxed, [{"signal": (1, 65, 1)}, {"signal": (1, 100, 1)}]),
            (built("unet")[1], [{"image": (1, 64, 48, 1)}, {"image": (1, 60, 48, 1)}]),
            (built("gather_positions")[1], [{"tokens": (1, 64)}, {"tokens": (1, 100)}]),
        ]
    )
    assert [[r.nonempty for r in rs] for rs in results] == [[True, False]] * 3

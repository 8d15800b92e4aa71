"""graphcheck.keras on every kind of Keras model (issue 12): Sequential with and without an Input,
subclassed (called once, or given ``inputs=``), several inputs; sizes named after the inputs (a
tf2onnx ``unk__`` name never reaches the report) and axes in Keras' terms (a Conv1D's ``length``).

Each valid set is derived from the layer formulas in a comment and checked by exact membership and in
onnxruntime on the exported graph.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.frontends._shared import assert_membership, findings, layers_with, ort

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")

import numpy as np  # noqa: E402

import graphcheck.keras as gk  # noqa: E402
from graphcheck.frontends.contract import FrontendReport  # noqa: E402

layers = keras.layers


def sequential_with_input() -> Any:
    return keras.Sequential(
        [
            keras.Input((None, 1), name="signal"),
            layers.Conv1D(8, 11, name="conv_a"),
            layers.MaxPooling1D(4, name="pool"),
            layers.Conv1D(8, 7, strides=3, name="conv_b"),
            layers.GlobalAveragePooling1D(name="gap"),
            layers.Dense(2, name="head"),
        ],
        name="seq_cnn",
    )


def sequential_built() -> Any:
    model = keras.Sequential([layers.Conv1D(8, 11, name="conv_a"), layers.GlobalAveragePooling1D(name="gap")])
    model.build((None, None, 1))
    return model


class Subclassed(keras.Model):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(name="subclassed")
        self.conv_a = layers.Conv1D(8, 11, name="conv_a")
        self.conv_b = layers.Conv1D(8, 5, name="conv_b")
        self.gap = layers.GlobalAveragePooling1D(name="gap")
        self.head = layers.Dense(2, name="head")

    def call(self, signal: Any) -> Any:
        return self.head(self.gap(self.conv_b(self.conv_a(signal))))


def subclassed_called() -> Any:
    model = Subclassed()
    model(np.zeros((1, 64, 1), "float32"))
    return model


def two_inputs() -> Any:
    audio = keras.Input((None, 1), name="audio")
    imu = keras.Input((None, 3), name="imu")
    a = layers.Conv1D(4, 5, name="conv_audio")(audio)
    b = layers.Conv1D(4, 3, name="conv_imu")(imu)
    x = layers.Concatenate(axis=-1, name="fuse")([a, b])
    return keras.Model([audio, imu], layers.Dense(2, name="head")(layers.GlobalAveragePooling1D(name="gap")(x)))


MODELS: dict[str, Callable[[], Any]] = {
    "sequential_with_input": sequential_with_input,
    "sequential_built": sequential_built,
    "subclassed": subclassed_called,
    "two_inputs": two_inputs,
}


@functools.cache
def model(name: str) -> Any:
    keras.utils.set_random_seed(7)
    return MODELS[name]()


@functools.cache
def checked(name: str, with_inputs: bool = False) -> FrontendReport:
    inputs = [keras.Input((None, 1), name="signal")] if with_inputs else None
    return gk.check(model(name), inputs=inputs)


def run(rep: FrontendReport, shapes: list[dict[str, tuple[int, ...]]]) -> list[bool]:
    assert rep.exported is not None
    return [r.nonempty for r in ort([(rep.exported.proto, shapes)])[0]]


def test_sequential_with_an_input() -> None:
    # conv_a (k 11): L - 10; pool (4, stride 4): floor((L - 14) / 4) + 1 = floor((L - 10) / 4);
    # conv_b (k 7, stride 3): floor((floor((L - 10) / 4) - 7) / 3) + 1 >= 1 <=> L >= 38
    rep = checked("sequential_with_input")
    assert [(i.name, i.dims) for i in rep.inputs] == [("signal", ("batch", "signal_len", "1"))]
    assert rep.valid == "signal_len >= 38   (batch: any >= 1)"
    assert_membership(rep, "signal_len", lambda n: n >= 38, 120)
    assert layers_with(rep, "GC001") == [("conv_a", "Conv1D"), ("pool", "MaxPooling1D"), ("conv_b", "Conv1D")]
    # tf2onnx's from_keras cannot read a Keras 3 Sequential's output names; the same call traced
    # as a tf.function converts: the expected route, said where the exporter is, not a finding
    assert [(a.outcome.split(":")[0], a.expected) for a in rep.attempts] == [("failed", True), ("used", False)]
    assert rep.exporter.startswith("tf2onnx from_function (tf2onnx 1.17")
    assert "from_keras cannot read a Keras 3 Sequential's output names (KeyError" in rep.exporter
    assert not findings(rep, "GC109")
    assert "  exported by tf2onnx from_function" in str(rep) and "GC109" not in str(rep)
    assert run(rep, [{"signal": (1, n, 1)} for n in (37, 38, 500)]) == [False, True, True]


def test_sequential_without_an_input_is_named_input() -> None:
    rep = checked("sequential_built")
    assert [(i.name, i.dims) for i in rep.inputs][0][1] == ("batch", "input_len", "1")
    assert rep.valid == "input_len >= 11   (batch: any >= 1)"
    assert layers_with(rep, "GC001") == [("conv_a", "Conv1D")]
    name = rep.inputs[0].name
    assert run(rep, [{name: (1, n, 1)} for n in (10, 11)]) == [False, True]


def test_subclassed_model_called_once_or_given_its_inputs() -> None:
    # conv_a (k 11): L - 10; conv_b (k 5): L - 14 >= 1 <=> L >= 15. Called once on (1, 64, 1): the
    # batch and the steps are made dynamic and named after call()'s parameter
    rep = checked("subclassed")
    assert [(i.name, i.dims) for i in rep.inputs] == [("signal", ("batch", "signal_len", "1"))]
    assert rep.valid == "signal_len >= 15   (batch: any >= 1)"
    assert layers_with(rep, "GC001") == [("conv_a", "Conv1D"), ("conv_b", "Conv1D")]
    assert run(rep, [{"signal": (1, n, 1)} for n in (14, 15, 300)]) == [False, True, True]
    given = checked("subclassed", with_inputs=True)
    assert given.valid == rep.valid


def test_a_model_with_two_inputs() -> None:
    # conv_audio (k 5): A - 4; conv_imu (k 3): I - 2; the Concatenate on channels needs the same
    # steps: A - 4 = I - 2 >= 1 <=> A = I + 2 and I >= 3
    rep = checked("two_inputs")
    assert [(i.name, i.dims) for i in rep.inputs] == [
        ("audio", ("batch", "audio_len", "1")),
        ("imu", ("batch", "imu_len", "3")),
    ]
    # the statement as the solver words it (the engine on main states the coupled set from audio_len)
    assert rep.valid.split("   (")[0] in (
        "imu_len = audio_len - 2 and audio_len >= 5",
        "audio_len = imu_len + 2 and 3 <= imu_len <= 9223372036854775805",
    )
    wrong = [
        (a, i)
        for a in range(1, 30)
        for i in range(1, 30)
        if rep.accepts({"audio_len": a, "imu_len": i, "batch": 1}) is not (a == i + 2 and i >= 3)
    ]
    assert not wrong
    assert layers_with(rep, "GC004") == [("fuse", "Concatenate")]
    pairs = [(10, 8), (10, 9), (5, 3), (4, 2)]
    assert run(rep, [{"audio": (1, a, 1), "imu": (1, i, 3)} for a, i in pairs]) == [True, False, True, False]


def test_channels_last_names_in_findings_and_explain() -> None:
    rep = checked("sequential_with_input")
    assert {d.what for d in findings(rep, "GC001")} == {"length"}
    text = rep.explain({"signal_len": 37})
    assert "<- FIRST FAILURE GC001 length" in text and "conv_b (Conv1D) [" in text
    assert "width" not in text and "(axis" not in text.split("fixes")[0]
    assert "length = floor(" in str(rep)


def test_no_tf2onnx_name_reaches_the_user() -> None:
    reports = [checked(name) for name in MODELS] + [checked("subclassed", with_inputs=True)]
    for rep in reports:
        texts = [str(rep), rep.valid, *(m for i in rep.inputs for m in (i.dims or ()))]
        assert not any(re.search(r"unk__\d+", t) for t in texts), rep.name
        assert all(not re.fullmatch(r"unk__\d+", s) for s in rep.symbols)

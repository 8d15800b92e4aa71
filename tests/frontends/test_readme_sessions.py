"""The README's Keras, PyTorch and JAX sessions are real: each ``python`` block that calls a front end is
run in a fresh interpreter (so Keras' name counters start from zero) and its output must be the
``text`` block that follows it. ``python -m tests.frontends.test_readme_sessions`` refreshes them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SESSION = re.compile(
    r"```python\n(?P<code>(?:(?!```).)*?graphcheck\.(?P<fw>keras|torch|jax)(?:(?!```).)*?)```\n+```text\n(?P<out>.*?)```",
    re.S,
)
NEEDS = {
    "keras": ("keras", "tensorflow", "tf2onnx"),
    "torch": ("torch", "onnxscript"),
    "jax": ("jax", "flax", "jax2onnx"),
}


def sessions() -> list[tuple[str, str, str]]:
    return [(m["fw"], m["code"], m["out"]) for m in SESSION.finditer(README.read_text())]


def _run(code: str) -> str:
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return "\n".join(line.rstrip() for line in res.stdout.rstrip("\n").splitlines())


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.rstrip("\n").splitlines())


def test_the_readme_has_a_keras_a_pytorch_and_a_jax_session() -> None:
    assert sorted({fw for fw, _, _ in sessions()}) == ["jax", "keras", "torch"]


@pytest.mark.parametrize("index", range(len(sessions())))
def test_readme_session_output_is_real(index: int) -> None:
    fw, code, expected = sessions()[index]
    for mod in NEEDS[fw]:
        pytest.importorskip(mod)
    assert _run(code) == _norm(expected)


def refresh() -> None:  # pragma: no cover - maintenance helper
    text = README.read_text()
    for _fw, code, out in sessions():
        text = text.replace(f"{code}```\n\n```text\n{out}```", f"{code}```\n\n```text\n{_run(code)}\n```", 1)
    README.write_text(text)
    print("README sessions refreshed")


if __name__ == "__main__":  # pragma: no cover
    refresh()


# The README's table of classic cases: each cell's statements are what the real exports answer.
CASES = {
    "(a)": [("keras", "kernel_too_long")],
    "(b)": [("torch", "long_stride")],
    "(c)": [("torch", "forgotten_channel")],
    "(d)": [("keras", "tcn")],
    "(e)": [("torch", "flatten_linear")],
    "(f)": [("keras", "unet")],
    "(g)": [("keras", "gather_positions"), ("keras", "learned_positions")],
}


def _classic_rows() -> dict[str, str]:
    rows = {}
    for line in README.read_text().splitlines():
        m = re.match(r"\| (\([a-g]\)) [^|]*\| (.*) \|$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


@pytest.mark.parametrize("case", sorted(CASES))
def test_readme_classic_cases_are_real(case: str) -> None:
    row = _classic_rows()[case]
    for fw, name in CASES[case]:
        for mod in NEEDS[fw]:
            pytest.importorskip(mod)
        if fw == "keras":
            from tests.frontends import test_keras as k

            valid = k.report(name).valid
        else:
            from tests.frontends import test_torch as t

            valid = t.report(name, "legacy").valid
        statement = valid.split("   (")[0]  # without the "(batch: any >= 1)" part
        assert f"`{statement}`" in row, (case, statement, row)

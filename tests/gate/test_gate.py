"""The gate: the requirements language, policy files, decisions on the fixtures (expectations derived
by hand from the layers' formulas), exit codes through the real CLI, batch mode over good and bad
files, and the JSON, SARIF (validated against the official 2.1.0 schema) and GitHub outputs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import onnx
import pytest
from onnx import TensorProto, helper

from graphcheck.cli import main
from graphcheck.errors import UsageError
from graphcheck.gate.decision import gate_path
from graphcheck.gate.policy import load_policy
from graphcheck.gate.require import SizeSpec, parse_requirement
from graphcheck.render._gatecommon import batch_exit_code
from graphcheck.render.github import escape_data, escape_property, render_github
from graphcheck.render.sarif import FINGERPRINT_KEY, render_sarif
from graphcheck.report.codes import CODES
from graphcheck.symbolic.intset import IntSet
from tests.models import conv_stack

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
TOY_L = ["unk__68=L"]  # tf2onnx's name for the toy's length


# ---------------------------------------------------------------------------
# helpers


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The real CLI in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a fresh process (for what must hold end to end: no traceback, exit codes)."""
    return subprocess.run(
        [sys.executable, "-m", "graphcheck", *args], cwd=cwd or ROOT, capture_output=True, text=True, timeout=120
    )


def gate(model: str | Path, *requires: str, dims: Sequence[str] = ()) -> dict[str, Any]:
    return gate_path(str(model), list(requires), list(dims))


def outcome(result: Mapping[str, Any], requirement: str) -> dict[str, Any]:
    return next(o for o in result["requirements"] if o["requirement"] == requirement)


def unsupported_model() -> onnx.ModelProto:
    """conv (k=3) then an op graphcheck has no rule for: L >= 3 is necessary, nothing is proven."""
    m = conv_stack([{"name": "conv_a", "k": 3}])
    g = m.graph
    g.node.append(helper.make_node("Mystery", [g.output[0].name], ["y"], name="mystery", domain="com.example"))
    g.output.pop()
    g.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, None))
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    return m


@pytest.fixture()
def unsupported_path(tmp_path: Path) -> Path:
    p = tmp_path / "unsupported.onnx"
    onnx.save(unsupported_model(), p)
    return p


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three good models and four bad files that end in .onnx."""
    d = tmp_path_factory.mktemp("batch")
    for name in ("toy.onnx", "unet.onnx", "whisper_encoder.onnx"):
        shutil.copy(FIXTURES / name, d / name)
    toy = (FIXTURES / "toy.onnx").read_bytes()
    (d / "corrupt.onnx").write_bytes(bytes((i * 97 + 13) % 256 for i in range(3000)))
    (d / "empty.onnx").write_bytes(b"")
    (d / "truncated.onnx").write_bytes(toy[: len(toy) // 2])
    (d / "notes.onnx").write_text("name,value\nalpha,1\n")
    return d


BAD = ("corrupt.onnx", "empty.onnx", "notes.onnx", "truncated.onnx")


# ---------------------------------------------------------------------------
# the requirements language


@pytest.mark.parametrize(
    ("text", "names", "kind", "sets", "points", "count"),
    [
        ("L in 8000..480000", ("L",), "each", [IntSet.interval(8000, 480000)], (), 472001),
        ("L in 8000..480000 step 160", ("L",), "each", [IntSet.residues(160, [0], 8000, 480000)], (), 2951),
        ("L in 3..20 step 4", ("L",), "each", [IntSet.points([3, 7, 11, 15, 19])], (), 5),
        ("H = 224", ("H",), "each", [IntSet.points([224])], (), 1),
        ("H == 224", ("H",), "each", [IntSet.points([224])], (), 1),
        ("T in {3000}", ("T",), "each", [IntSet.points([3000])], (), 1),
        ("T in 3000", ("T",), "each", [IntSet.points([3000])], (), 1),
        (
            "T in {16, 32, 64..128}",
            ("T",),
            "each",
            [IntSet.points([16, 32]) | IntSet.interval(64, 128)],
            (),
            67,
        ),
        ("L >= 9", ("L",), "each", [IntSet.interval(9)], (), None),
        ("L > 8", ("L",), "each", [IntSet.interval(9)], (), None),
        ("L <= 4096", ("L",), "each", [IntSet.interval(1, 4096)], (), 4096),
        ("L < 9", ("L",), "each", [IntSet.interval(1, 8)], (), 8),
        ("H, W in 32..512", ("H", "W"), "each", [IntSet.interval(32, 512)] * 2, (), 481 * 481),
        ("H = W in 32..512", ("H", "W"), "equal", [IntSet.interval(32, 512)], (), 481),
        ("H = W = D in {8, 16}", ("H", "W", "D"), "equal", [IntSet.points([8, 16])], (), 2),
        (
            "(H, W) in {(224, 224), (320, 240)}",
            ("H", "W"),
            "points",
            [],
            ((224, 224), (320, 240)),
            2,
        ),
        ("(H, W) in {(2, 1), (1, 2), (2, 1)}", ("H", "W"), "points", [], ((1, 2), (2, 1)), 2),
        ("signal:1 in 1..5", ("signal:1",), "each", [IntSet.interval(1, 5)], (), 5),
        ("  unk__68 in 9..480000  ", ("unk__68",), "each", [IntSet.interval(9, 480000)], (), 480000 - 8),
    ],
)
def test_requirement_forms(
    text: str,
    names: tuple[str, ...],
    kind: str,
    sets: list[IntSet],
    points: tuple[tuple[int, ...], ...],
    count: int | None,
) -> None:
    spec = parse_requirement(text)
    assert isinstance(spec, SizeSpec)
    assert spec.text == text
    assert spec.names == names and spec.kind == kind
    assert len(spec.sets) == len(sets)
    for got, want in zip(spec.sets, sets):
        assert (got - want).is_empty() and (want - got).is_empty(), (got, want)
    assert spec.points == points
    assert spec.count() == count


def test_requirement_set_for_each_name() -> None:
    spec = parse_requirement("(H, W) in {(224, 224), (320, 240)}")
    assert spec.set_for("H") == IntSet.points([224, 320])
    assert spec.set_for("W") == IntSet.points([224, 240])
    assert parse_requirement("H = W in 1..4").set_for("W") == IntSet.interval(1, 4)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("L in", "expected NAME in A..B"),
        ("L", "expected NAME in A..B"),
        ("L => 5", "expected NAME in A..B"),
        ("L in 5..3", "empty range 5..3"),
        ("L in 0..5", "sizes start at 1"),
        ("L in -1..5", "expected A..B"),
        ("L in 1.5..3", "expected A..B"),
        ("L in 5..", "expected A..B"),
        ("L in 1..10 step 0", "step must be >= 1"),
        ("L in 1..10 step -2", "expected A..B"),
        ("L in {}", "empty set"),
        ("L in {0}", "sizes start at 1"),
        ("L in {a}", "expected a size or A..B in the set"),
        ("L in abc", "expected A..B, {a, b, ...} or a size"),
        ("L = 0", "sizes start at 1"),
        ("L <= 0", "sizes start at 1"),
        ("L < 1", "asks for no size at all"),
        ("H, H in 1..2", "a name appears twice"),
        ("1L in 1..2", "expected size names"),
        ("H W in 1..2", "expected size names"),
        ("H = W in 0..3", "sizes start at 1"),
        ("(H, W) in {(1, 2, 3)}", "each tuple needs 2 sizes"),
        ("(H, W) in {(0, 1)}", "sizes start at 1"),
        ("(H, W) in {(1, x)}", "each tuple needs 2 sizes"),
        ("(H, W) in {(1, 2), 3}", "expected {(a, b), (c, d), ...}"),
    ],
)
def test_malformed_requirements_are_usage_errors(text: str, why: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_requirement(text)
    msg = str(exc.value)
    assert msg.startswith(f"requirement {text!r}: ")
    assert why in msg
    assert "\n" not in msg


@pytest.mark.parametrize("text", ["L in 5..3", "L in {}", "(H, W) in {(1, 2, 3)}", "L => 5", ""])
def test_malformed_requirement_on_the_cli_is_one_line_exit_2(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["gate", str(FIXTURES / "toy.onnx"), "-r", text], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith(f"graphcheck: error: requirement {text!r}: ") and err.count("\n") == 1


# ---------------------------------------------------------------------------
# decisions on the fixtures


def test_toy_length_requirements() -> None:
    # conv_a: k=7 -> L - 6 >= 1; conv_b: k=3, stride 2 -> floor((L - 6 - 3) / 2) + 1 >= 1: L >= 9
    r = gate(FIXTURES / "toy.onnx", "L in 9..480000", "L in 5..100", "L >= 9", "L >= 8", dims=TOY_L)
    assert r["status"] == "fail"
    assert r["valid"] == "L >= 9   (batch: any >= 1)"
    assert outcome(r, "L in 9..480000")["status"] == "pass"
    assert outcome(r, "L >= 9")["status"] == "pass"
    o = outcome(r, "L in 5..100")
    assert o["status"] == "fail"
    assert o["failing"] == "5 <= L <= 8"
    assert o["smallest_failing"] == {"batch": 1, "L": 5}
    # at L = 5 the first conv already fails: 5 - 6 = -1
    assert o["first_failure"] == "conv_a (Conv) [toy_1/conv_a_1/convolution] length"
    assert o["detail"] == "L - 6 = -1, but every size must be >= 1"
    o = outcome(r, "L >= 8")
    # at L = 8 conv_a gives 2, conv_b gives floor((2 - 3) / 2) + 1 = 0
    assert o["failing"] == "L = 8" and o["smallest_failing"]["L"] == 8
    assert o["first_failure"].startswith("conv_b (Conv)")
    assert o["detail"] == "floor(((L - 6) - 2 - 1) / 2) + 1 = 0, but every size must be >= 1"


def test_toy_without_renaming_and_fixed_axis() -> None:
    r = gate(FIXTURES / "toy.onnx", "unk__68 in 9..480000", "signal:2 = 1", "signal:1 in 9..20")
    assert r["status"] == "pass", r
    r = gate(FIXTURES / "toy.onnx", "signal:2 in 1..2")
    o = outcome(r, "signal:2 in 1..2")
    assert r["status"] == "fail"
    assert o["failing"] == "signal:2 = 2 (the model declares signal:2 = 1)"
    assert o["smallest_failing"] == {"signal:2": 2}
    assert o["first_failure"] == "input signal"


def test_toy_step_and_bounded_forms() -> None:
    r = gate(FIXTURES / "toy.onnx", "L in 10..100 step 10", "L > 8", "L = 9", "L in {9, 100..200}", dims=TOY_L)
    assert r["status"] == "pass"
    r = gate(FIXTURES / "toy.onnx", "L <= 100", dims=TOY_L)
    o = outcome(r, "L <= 100")
    assert o["failing"] == "L <= 8" and o["smallest_failing"]["L"] == 1
    assert o["detail"] == "L - 6 = -5, but every size must be >= 1"


def test_unet_equal_each_and_coupled_forms() -> None:
    # three 2x downsamplings with skips: height and width multiples of 8 (one analysis, many requirements)
    passing = [
        "height = width in {64, 128, 256, 512}",
        "height, width in {64, 128}",
        "height in 8..64 step 8",
        "(height, width) in {(64, 64), (256, 512)}",
    ]
    failing = [
        "height = width in 64..512",
        "height, width in 64..72",
        "(height, width) in {(64, 64), (100, 64)}",
        "height = width in 60..63",
    ]
    r = gate(FIXTURES / "unet.onnx", *passing, *failing)
    assert r["valid"] == "height % 8 == 0; width % 8 == 0   (batch: any >= 1)"
    assert r["status"] == "fail"
    assert [outcome(r, t)["status"] for t in passing] == ["pass"] * 4
    assert [outcome(r, t)["status"] for t in failing] == ["fail"] * 4

    o = outcome(r, "height = width in 64..512")
    assert o["failing"] == "65 <= height <= 511 and height % 8 != 0; 65 <= width <= 511 and width % 8 != 0"
    assert o["smallest_failing"] == {"batch": 1, "height": 65, "width": 65}
    # 65 -> 32 -> 16 -> 8, upsampled back to 64: the deepest skip Concat sees 65 against 64
    assert o["first_failure"] == "/Concat_2 (Concat) Concat input 1 axis 2"
    assert o["detail"].endswith("here 65 must equal 64 (input 0 on axis 2)")

    o = outcome(r, "height, width in 64..72")
    assert o["failing"] == "65 <= height <= 71; 65 <= width <= 71"
    assert o["smallest_failing"] == {"batch": 1, "height": 65, "width": 65}

    o = outcome(r, "(height, width) in {(64, 64), (100, 64)}")
    assert o["failing"] == "height = 100"
    assert o["smallest_failing"] == {"batch": 1, "height": 100, "width": 64}
    # 100 -> 50 -> 25: the middle skip sees floor(100 / 4) = 25 against 2 * floor(100 / 8) = 24
    assert o["first_failure"] == "/Concat (Concat) Concat input 1 axis 2"
    assert o["detail"].endswith("here 25 must equal 24 (input 0 on axis 2)")

    o = outcome(r, "height = width in 60..63")
    assert o["failing"] == "60 <= height <= 63; 60 <= width <= 63"
    assert o["smallest_failing"] == {"batch": 1, "height": 60, "width": 60}


def test_coupled_sizes_flatten_linear() -> None:
    # valid (H, W): h(H) * h(W) = 36 with h(n) = floor((floor(n / 2) - 2) / 2), e.g. 28..31 x 28..31
    m = FIXTURES / "torch_flatten_linear.onnx"
    r = gate(
        m, "(height, width) in {(28, 28), (31, 29), (148, 8)}", "height, width in 28..31", "height = width in 28..31"
    )
    assert r["status"] == "pass", r
    r = gate(m, "height = width in 28..32")
    o = outcome(r, "height = width in 28..32")
    assert o["failing"] == "(height, width) in {(32, 32)}"
    assert o["smallest_failing"] == {"batch": 1, "height": 32, "width": 32}
    assert o["first_failure"].startswith("fc (Gemm) [/fc/Gemm] contracted size")
    r = gate(m, "(height, width) in {(28, 28), (32, 28)}")
    assert outcome(r, "(height, width) in {(28, 28), (32, 28)}")["failing"] == "(height, width) in {(32, 28)}"
    # a coupled size asked alone: an error naming the coupling
    r = gate(m, "height in 28..31")
    assert r["status"] == "error"
    assert "width is coupled with height; give them in one requirement" in r["error"]
    # too many coupled combinations: unknown, with the reason
    r = gate(m, "height = width in 1..300000")
    assert r["status"] == "unknown"
    o = outcome(r, "height = width in 1..300000")
    assert o["status"] == "unknown" and "more than 200000 combinations" in o["reason"]


def test_whisper_frames() -> None:
    # stride-2 conv then + a (1500, 16) table: floor((T + 1) / 2) in {1, 1500}: T in {1, 2, 2999, 3000}
    m = FIXTURES / "whisper_encoder.onnx"
    r = gate(m, "frames in {3000}", "frames in {1..2, 2999..3000}")
    assert r["status"] == "pass"
    r = gate(m, "frames in 2990..3000")
    o = outcome(r, "frames in 2990..3000")
    assert r["status"] == "fail"
    assert o["failing"] == "2990 <= frames <= 2998"
    assert o["smallest_failing"] == {"batch": 1, "frames": 2990}
    assert o["first_failure"] == "/Add_2 (Add) broadcast on axis -2 (from the right)"
    assert o["detail"].endswith("here 1495 must equal 1500 or be 1")


def test_transformer_position_table() -> None:
    # Gather(table[64], Range(0, seq_len)): seq_len <= 64
    m = FIXTURES / "transformer_posemb.onnx"
    assert gate(m, "seq_len in 1..64")["status"] == "pass"
    r = gate(m, "seq_len in 1..128")
    o = outcome(r, "seq_len in 1..128")
    assert o["failing"] == "65 <= seq_len <= 128"
    assert o["smallest_failing"] == {"batch": 1, "seq_len": 65}
    assert o["first_failure"] == "pos_emb (Gather) [/pos_emb/Gather] Gather indices on axis 0"


def test_no_requirement_passes_unless_no_size_is_valid(tmp_path: Path) -> None:
    assert gate(FIXTURES / "toy.onnx")["status"] == "pass"
    p = tmp_path / "short.onnx"
    onnx.save(conv_stack([{"name": "c", "k": 7}], dims=[1, 2, 5]), p)  # fixed length 5 < 7
    r = gate(p)
    assert r["status"] == "fail"
    assert r["requirements"][0]["failing"] == "no size at all is valid"


def test_unknown_dimension_is_an_error_for_that_model() -> None:
    r = gate(FIXTURES / "unet.onnx", "L in 1..5")
    assert r["status"] == "error" and r["error"].startswith("unknown dimension 'L'")


# ---------------------------------------------------------------------------
# exit codes through the real CLI


def test_exit_codes(unsupported_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toy = str(FIXTURES / "toy.onnx")
    code, out, err = run(["gate", toy, "--dim", "unk__68=L", "-r", "L in 9..480000"], capsys)
    assert code == 0 and out.startswith("PASS  ") and "ok       L in 9..480000" in out and err == ""
    code, out, _ = run(["gate", toy, "--dim", "unk__68=L", "-r", "L in 5..100"], capsys)
    assert code == 1
    assert "FAILS    L in 5..100: fails for 5 <= L <= 8" in out
    assert "first failing layer: conv_a (Conv) [toy_1/conv_a_1/convolution] length" in out
    # unknown: an op without a rule stops the analysis
    code, out, _ = run(["gate", str(unsupported_path), "-r", "L in 3..10"], capsys)
    assert code == 2
    assert out.startswith("UNKNOWN  ")
    assert "the analysis is incomplete at mystery (Mystery)" in out
    code, out, _ = run(["gate", str(unsupported_path), "-r", "L in 3..10", "--allow-unknown"], capsys)
    assert code == 0 and out.startswith("PASS  ") and "passed with unknowns allowed" in out
    # a failure stays a failure with --allow-unknown
    code, _, _ = run(["gate", str(unsupported_path), "-r", "L in 1..10", "--allow-unknown"], capsys)
    assert code == 1
    # an error: exit 2
    missing = tmp_path / "missing.onnx"
    code, out, _ = run(["gate", str(missing)], capsys)
    assert code == 2 and out.startswith("ERROR  ") and f"{missing}: no such file" in out


def test_exit_codes_in_a_fresh_process(unsupported_path: Path) -> None:
    toy = str(FIXTURES / "toy.onnx")
    assert cli("gate", toy, "-r", "unk__68 in 9..480000").returncode == 0
    res = cli("gate", toy, "-r", "unk__68 in 5..100")
    assert res.returncode == 1 and "smallest failing: batch=1, signal_len=5" in res.stdout
    assert cli("gate", str(unsupported_path)).returncode == 2
    assert cli("gate", str(unsupported_path), "--allow-unknown").returncode == 0


def test_batch_exit_code_rules() -> None:
    def res(*statuses: str) -> list[dict[str, object]]:
        return [{"status": s} for s in statuses]

    assert batch_exit_code(res("pass", "pass")) == 0
    assert batch_exit_code(res("pass", "fail")) == 1
    assert batch_exit_code(res("fail", "unknown")) == 2
    assert batch_exit_code(res("pass", "error")) == 2
    assert batch_exit_code([]) == 2


# ---------------------------------------------------------------------------
# policy files


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_policy_graphcheck_toml_and_model_globs(tmp_path: Path) -> None:
    write(
        tmp_path / "graphcheck.toml",
        """
require = ["batch in 1..8"]
fail-on = "error"
severity = { GC106 = "warning" }

[[model]]
path = "models/asr*.onnx"
require = ["frames in {3000}"]
fail-on = "warning"
allow-unknown = true
severity = { gc107 = "error" }

[[model]]
path = "models/**/unet.onnx"
dims = ["height=H"]
require = ["H in 8..64 step 8"]

[[model]]
name = "registered-*"
require = ["L >= 9"]
""",
    )
    pol = load_policy(tmp_path / "graphcheck.toml")
    asr = pol.settings_for(str(tmp_path / "models" / "asr_small.onnx"))
    assert asr.require == ("batch in 1..8", "frames in {3000}")
    assert asr.fail_on == "warning" and asr.allow_unknown is True
    assert dict(asr.severity) == {"GC106": "warning", "gc107": "error"}
    unet = pol.settings_for(str(tmp_path / "models" / "vision" / "unet.onnx"))
    assert unet.require == ("batch in 1..8", "H in 8..64 step 8") and unet.dims == ("height=H",)
    assert unet.fail_on == "error" and unet.allow_unknown is False
    other = pol.settings_for(str(tmp_path / "other.onnx"))
    assert other.require == ("batch in 1..8",) and other.dims == ()
    reg = pol.settings_for("models:/registered-asr/3")
    assert reg.require == ("batch in 1..8", "L >= 9")
    assert pol.settings_for("models:/other/1").require == ("batch in 1..8",)


def test_policy_applies_per_model_in_a_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    shutil.copy(FIXTURES / "whisper_encoder.onnx", write(tmp_path / "models" / "asr_small.onnx", ""))
    shutil.copy(FIXTURES / "unet.onnx", write(tmp_path / "models" / "vision" / "unet.onnx", ""))
    write(
        tmp_path / "graphcheck.toml",
        """
require = ["batch in 1..8"]
[[model]]
path = "models/asr*.onnx"
require = ["frames in 2999..3000"]
[[model]]
path = "models/**/unet.onnx"
dims = ["height=H"]
require = ["H in 8..64 step 8", "width = 100"]
""",
    )
    monkeypatch.chdir(tmp_path / "models")  # the policy is found upwards
    code, out, _ = run(["gate", ".", "--format", "json"], capsys)
    results = {Path(r["model"]).name: r for r in json.loads(out)["results"]}
    assert code == 1
    asr = results["asr_small.onnx"]
    assert asr["status"] == "pass" and [o["requirement"] for o in asr["requirements"]] == [
        "batch in 1..8",
        "frames in 2999..3000",
    ]
    unet = results["unet.onnx"]
    assert unet["status"] == "fail" and unet["symbols"] == ["batch", "H", "width"]
    assert outcome(unet, "H in 8..64 step 8")["status"] == "pass"
    assert outcome(unet, "width = 100")["failing"] == "width = 100"


def test_pyproject_tool_graphcheck_is_found_upwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n\n[tool.graphcheck]\nrequire = ["unk__68 in 5..100"]\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    # a pyproject.toml without [tool.graphcheck] on the way is not a policy
    write(tmp_path / "a" / "pyproject.toml", '[project]\nname = "inner"\n')
    shutil.copy(FIXTURES / "toy.onnx", sub / "toy.onnx")
    monkeypatch.chdir(sub)
    assert load_policy().source == tmp_path / "pyproject.toml"
    code, out, _ = run(["gate", "toy.onnx"], capsys)
    assert code == 1 and "FAILS    unk__68 in 5..100: fails for 5 <= unk__68 <= 8" in out
    # graphcheck.toml wins over pyproject.toml in the same directory
    write(tmp_path / "graphcheck.toml", 'require = ["unk__68 in 9..100"]\n')
    code, out, _ = run(["gate", "toy.onnx"], capsys)
    assert code == 0 and "ok       unk__68 in 9..100" in out
    # --policy names one explicitly
    code, _, _ = run(["gate", "toy.onnx", "--policy", str(tmp_path / "pyproject.toml")], capsys)
    assert code == 1


def test_policy_search_stops_at_the_repository_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "graphcheck.toml", 'require = ["L >= 1"]\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    monkeypatch.chdir(repo)
    assert load_policy().source is None


def test_policy_in_a_pyproject_without_the_table_is_empty(tmp_path: Path) -> None:
    p = write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    assert load_policy(p).settings_for("m.onnx").require == ()


def test_policy_fail_on_and_severity_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cnn = str(FIXTURES / "torch_cnn2d.onnx")  # GC106 (info): onnxruntime accepts smaller sizes
    mha = str(FIXTURES / "transformer_mha_dynamo.onnx")  # GC107 (warning): the exporter's range differs

    def gate_with(policy: str, model: str) -> tuple[int, str]:
        p = write(tmp_path / "graphcheck.toml", policy)
        code, out, _ = run(["gate", model, "--policy", str(p)], capsys)
        return code, out

    assert gate_with("", cnn)[0] == 0  # fail-on defaults to never
    code, out = gate_with('fail-on = "info"\n', cnn)
    assert code == 1 and "blocks   GC106 runtime-deviation" in out
    assert gate_with('fail-on = "warning"\n', cnn)[0] == 0
    assert gate_with('fail-on = "warning"\nseverity = { GC106 = "warning" }\n', cnn)[0] == 1
    assert gate_with('fail-on = "warning"\n', mha)[0] == 1
    assert gate_with('fail-on = "warning"\nseverity = { gc107 = "info" }\n', mha)[0] == 0
    assert gate_with('fail-on = "error"\nseverity = { GC107 = "error" }\n', mha)[0] == 1
    # condition findings (GC0xx) never block by themselves: the requirements decide
    assert gate_with('fail-on = "info"\n', str(FIXTURES / "toy.onnx"))[0] == 0


def test_policy_allow_unknown(tmp_path: Path, unsupported_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path / "graphcheck.toml", "allow-unknown = true\n")
    code, out, _ = run(["gate", str(unsupported_path), "--policy", str(p)], capsys)
    assert code == 0 and "passed with unknowns allowed" in out
    p = write(tmp_path / "graphcheck.toml", 'fail-on = "warning"\nallow-unknown = true\n')
    code, out, _ = run(["gate", str(unsupported_path), "--policy", str(p)], capsys)
    assert code == 1 and "blocks   GC101 unsupported-op" in out  # GC101 is a warning: blocks at fail-on warning
    p = write(tmp_path / "graphcheck.toml", "allow-unknown = false\n")
    code, _, _ = run(["gate", str(unsupported_path), "--policy", str(p)], capsys)
    assert code == 2
    code, _, _ = run(["gate", str(unsupported_path), "--policy", str(p), "--allow-unknown"], capsys)
    assert code == 0  # the command line allows what the policy does not


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ('requires = ["L >= 1"]\n', "unknown key 'requires'"),
        ('[tool.graphcheck]\nfailon = "error"\n', "[tool.graphcheck]: unknown key 'failon'"),
        ('[[model]]\npath = "*.onnx"\nrequired = ["L >= 1"]\n', "model #1: unknown key 'required'"),
        ('[[model]]\nrequire = ["L >= 1"]\n', "model #1: needs a path (glob) or a name"),
        ('fail-on = "sometimes"\n', "fail-on must be one of error, warning, info, never, got 'sometimes'"),
        ('require = "L >= 1"\n', "require must be a list of strings"),
        ("dims = [1]\n", "dims must be a list of strings"),
        ('require = ["L in 5..3"]\n', "requirement 'L in 5..3': empty range 5..3"),
        ('allow-unknown = "yes"\n', "allow-unknown must be true or false"),
        ('severity = { GC001 = "fatal" }\n', "severity maps codes to error, warning or info"),
        ("require = [\n", "invalid TOML"),
    ],
)
def test_bad_policies_are_one_line_errors(
    policy: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = write(tmp_path / "graphcheck.toml", policy)
    with pytest.raises(UsageError) as exc:
        load_policy(p)
    assert message in str(exc.value)
    code, out, err = run(["gate", str(FIXTURES / "toy.onnx"), "--policy", str(p)], capsys)
    assert code == 2 and out == ""
    assert err.startswith("graphcheck: error: ") and message in err and err.count("\n") == 1


def test_missing_policy_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(["gate", str(FIXTURES / "toy.onnx"), "--policy", str(tmp_path / "nope.toml")], capsys)
    assert code == 2 and err == f"graphcheck: error: {tmp_path / 'nope.toml'}: policy file not found\n"


def test_a_bad_discovered_policy_is_an_error_per_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "graphcheck.toml", 'requires = ["L >= 1"]\n')
    shutil.copy(FIXTURES / "toy.onnx", tmp_path / "toy.onnx")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["gate", "toy.onnx"], capsys)
    assert code == 2 and "Traceback" not in out + err
    assert out.startswith("ERROR  toy.onnx\n  error: ") and "unknown key 'requires'" in out


# ---------------------------------------------------------------------------
# batch mode and bad input


def test_batch_good_and_bad_files(batch_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["gate", str(batch_dir), "-r", "batch in 1..4"], capsys)
    assert code == 2
    assert "Traceback" not in out + err
    lines = out.splitlines()
    for name in BAD:
        i = lines.index(f"ERROR  {batch_dir / name}")
        assert lines[i + 1].startswith(f"  error: {batch_dir / name}: ")
        assert lines[i + 2].startswith(("PASS", "FAIL", "ERROR", "UNKNOWN"))  # one line each
    assert f"  error: {batch_dir / 'empty.onnx'}: empty file, not an ONNX model" in lines
    assert any("truncated file?" in ln for ln in lines)
    assert f"PASS  {batch_dir / 'unet.onnx'}" in lines and f"PASS  {batch_dir / 'whisper_encoder.onnx'}" in lines
    # the toy's batch dim is tf2onnx's unk__67, named batch as the Keras front end names it
    assert f"PASS  {batch_dir / 'toy.onnx'}" in lines
    assert lines[-1] == "7 models: 3 passed, 0 failed, 0 unknown, 4 errors"


def test_batch_verdicts_and_jobs(batch_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["gate", str(batch_dir), "-r", "frames in 2990..3000", "--format", "json"]
    code1, out1, _ = run([*argv, "--jobs", "1"], capsys)
    code2, out2, _ = run([*argv, "--jobs", "2"], capsys)
    assert code1 == code2 == 2
    one, two = json.loads(out1), json.loads(out2)
    assert one == two
    assert one["schema_version"] == 1
    status = {Path(r["model"]).name: r["status"] for r in one["results"]}
    assert status == {
        "corrupt.onnx": "error",
        "empty.onnx": "error",
        "notes.onnx": "error",
        "toy.onnx": "error",  # no size named frames
        "truncated.onnx": "error",
        "unet.onnx": "error",
        "whisper_encoder.onnx": "fail",
    }
    whisper = next(r for r in one["results"] if r["model"].endswith("whisper_encoder.onnx"))
    assert outcome(whisper, "frames in 2990..3000")["smallest_failing"] == {"batch": 1, "frames": 2990}
    for r in one["results"]:
        assert "\n" not in r["error"]


def test_batch_without_requirements_gives_every_good_model_its_verdict(
    batch_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["gate", str(batch_dir), "-j", "2", "-f", "json"], capsys)
    results = {Path(r["model"]).name: r for r in json.loads(out)["results"]}
    assert code == 2
    assert {n for n, r in results.items() if r["status"] == "pass"} == {"toy.onnx", "unet.onnx", "whisper_encoder.onnx"}
    assert results["toy.onnx"]["valid"] == "signal_len >= 9   (batch: any >= 1)"
    assert {n for n, r in results.items() if r["status"] == "error"} == set(BAD)


def test_globs_and_no_models(batch_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["gate", str(batch_dir / "[tu]*.onnx"), "-f", "json"], capsys)
    names = [Path(r["model"]).name for r in json.loads(out)["results"]]
    assert names == ["toy.onnx", "truncated.onnx", "unet.onnx"] and code == 2
    code, out, err = run(["gate", str(batch_dir / "nothing*.onnx")], capsys)
    assert code == 2 and out == "" and err == f"graphcheck: error: no models found in {batch_dir / 'nothing*.onnx'}\n"


@pytest.mark.parametrize("name", [*BAD, "missing.onnx"])
def test_bad_input_is_one_clear_line_exit_2(name: str, batch_dir: Path) -> None:
    res = cli("gate", str(batch_dir / name))
    assert res.returncode == 2
    assert "Traceback" not in res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"ERROR  {batch_dir / name}" and len(lines) == 2
    assert lines[1].startswith(f"  error: {batch_dir / name}: ")
    assert "no such file" in lines[1] if name == "missing.onnx" else "ONNX model" in lines[1]


def test_malformed_requirement_in_a_fresh_process() -> None:
    res = cli("gate", str(FIXTURES / "toy.onnx"), "-r", "L in 5..3")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == "graphcheck: error: requirement 'L in 5..3': empty range 5..3\n"


# ---------------------------------------------------------------------------
# SARIF


def assert_valid_sarif(log: dict[str, Any], validator: Any) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]
    assert not errors, errors
    # what GitHub code scanning needs beyond the schema
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run_ = log["runs"][0]
    assert "originalUriBaseIds" not in run_
    driver = run_["tool"]["driver"]
    ids = [r["id"] for r in driver["rules"]]
    assert len(ids) == len(set(ids))
    used = {res["ruleId"] for res in run_["results"]}
    assert set(ids) == used  # rules only for the codes present
    fingerprints = [res["partialFingerprints"][FINGERPRINT_KEY] for res in run_["results"]]
    assert len(fingerprints) == len(set(fingerprints))
    for res in run_["results"]:
        assert len(res["ruleId"]) <= 255 and res["message"]["text"]
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] and loc["region"]["startLine"] == 1
        if "uriBaseId" in loc["artifactLocation"]:
            assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
            assert not loc["artifactLocation"]["uri"].startswith(("/", "../"))


def sarif_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code, out, err = run([*argv, "--format", "sarif"], capsys)
    assert "Traceback" not in err
    return code, json.loads(out)


def test_sarif_on_a_failing_requirement(
    sarif_validator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(ROOT))
    code, log = sarif_of(["gate", str(FIXTURES / "toy.onnx"), "--dim", "unk__68=L", "-r", "L in 5..100"], capsys)
    assert code == 1
    assert_valid_sarif(log, sarif_validator)
    run_ = log["runs"][0]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "graphcheck" and driver["version"]
    assert [r["id"] for r in driver["rules"]] == ["GC001"]
    rule = driver["rules"][0]
    assert rule["name"] == "NegativeDimension"
    assert rule["shortDescription"]["text"] == CODES["GC001"].summary
    assert rule["fullDescription"]["text"] == CODES["GC001"].explanation
    assert rule["defaultConfiguration"]["level"] == "error"
    assert run_["invocations"] == [{"executionSuccessful": True, "exitCode": 1}]
    first, *findings = run_["results"]
    assert first["ruleId"] == "GC001" and first["level"] == "error"
    assert first["message"]["text"] == (
        "required L in 5..100 fails for 5 <= L <= 8; smallest failing: batch=1, L=5; first failing layer: "
        "conv_a (Conv) [toy_1/conv_a_1/convolution] length: L - 6 = -1, but every size must be >= 1; "
        "verified fixes: set padding='same' on Conv layer 'conv_a'; pad by 2 on each side before 'conv_a' "
        "(keras.layers.ZeroPadding1D(2)); use kernel_size=3 (or smaller) in 'conv_a'"
    )
    loc = first["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"] == {"uri": "fixtures/toy.onnx", "uriBaseId": "%SRCROOT%"}
    assert loc["logicalLocations"] == [
        {
            "name": "toy_1/conv_a_1/convolution",
            "fullyQualifiedName": "toy_1/conv_a_1/convolution",
            "kind": "function",
            "properties": {"onnxOp": "Conv"},
        },
        {"name": "conv_a", "fullyQualifiedName": "conv_a", "kind": "module", "properties": {"layerType": "Conv"}},
    ]
    assert first["properties"]["smallestFailing"] == {"batch": 1, "L": 5}
    assert [f["ruleId"] for f in findings] == ["GC001", "GC001"]  # the two convs' findings
    assert {f["properties"]["failsFor"] for f in findings} == {"L <= 6", "L <= 8"}


def test_sarif_codes_and_levels(
    sarif_validator: Any,
    batch_dir: Path,
    unsupported_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(batch_dir.parent))
    shutil.copy(unsupported_path, batch_dir.parent / "unsupported.onnx")
    models = [
        str(batch_dir / "whisper_encoder.onnx"),  # fails: GC003 at /Add_2
        str(batch_dir / "empty.onnx"),  # GC203
        str(batch_dir.parent / "unsupported.onnx"),  # GC202, GC101
        str(FIXTURES / "torch_cnn2d.onnx"),  # outside the workspace: a file URI; GC106 (info -> note)
        str(FIXTURES / "toy.onnx"),  # the fixed axis: GC201
    ]
    code, log = sarif_of(["gate", models[0], "-r", "frames in 2990..3000"], capsys)
    assert code == 1
    assert_valid_sarif(log, sarif_validator)
    res = log["runs"][0]["results"][0]
    assert res["ruleId"] == "GC003" and res["locations"][0]["logicalLocations"][0]["name"] == "/Add_2"
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("/whisper_encoder.onnx")

    results = [gate_path(m) for m in models[1:4]]
    results.append(gate_path(models[4], ["signal:2 in 1..2"]))
    log = render_sarif(results)
    assert_valid_sarif(log, sarif_validator)
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert set(rules) == {"GC001", "GC101", "GC106", "GC201", "GC202", "GC203"}
    assert rules["GC201"]["name"] == "RequiredSizeFails"
    assert rules["GC202"]["defaultConfiguration"]["level"] == "warning"
    assert rules["GC106"]["defaultConfiguration"]["level"] == "note"
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for r in log["runs"][0]["results"]:
        by_rule.setdefault(r["ruleId"], []).append(r)
    (unreadable,) = by_rule["GC203"]
    assert unreadable["level"] == "error" and "empty file, not an ONNX model" in unreadable["message"]["text"]
    assert unreadable["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == f"{batch_dir.name}/empty.onnx"
    (unknown,) = by_rule["GC202"]
    assert unknown["level"] == "warning" and "incomplete at mystery (Mystery)" in unknown["message"]["text"]
    assert unknown["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "unsupported.onnx"
    assert {r["level"] for r in by_rule["GC106"]} == {"note"}
    cnn_uri = by_rule["GC106"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert cnn_uri == {"uri": (FIXTURES / "torch_cnn2d.onnx").as_uri()}
    (fixed,) = by_rule["GC201"]
    assert fixed["level"] == "error"
    assert fixed["locations"][0]["logicalLocations"] == [
        {"name": "signal", "fullyQualifiedName": "signal", "kind": "parameter"}
    ]
    assert log["runs"][0]["invocations"][0] == {"executionSuccessful": False, "exitCode": 2}


def test_sarif_blocking_findings_are_errors(sarif_validator: Any, tmp_path: Path) -> None:
    p = write(tmp_path / "graphcheck.toml", 'fail-on = "info"\n')
    log = render_sarif([gate_path(str(FIXTURES / "torch_cnn2d.onnx"), policy_path=str(p))])
    assert_valid_sarif(log, sarif_validator)
    gc106 = [r for r in log["runs"][0]["results"] if r["ruleId"] == "GC106"]
    assert gc106 and all(r["level"] == "error" and r["properties"]["blocking"] for r in gc106)


def test_sarif_fingerprints_are_stable_and_jobs_independent(
    sarif_validator: Any, batch_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(batch_dir))
    _, one = sarif_of(["gate", str(batch_dir), "-j", "1"], capsys)
    _, two = sarif_of(["gate", str(batch_dir), "-j", "2"], capsys)
    assert one == two
    assert_valid_sarif(one, sarif_validator)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in one["runs"][0]["results"]}
    assert {f"{n}" for n in BAD} <= uris
    # the same finding in another run of another size requirement keeps its fingerprint
    _, three = sarif_of(["gate", str(batch_dir / "unet.onnx"), "-r", "height in 8..16 step 8"], capsys)
    fp = {
        r["message"]["text"]: r["partialFingerprints"][FINGERPRINT_KEY]
        for r in one["runs"][0]["results"]
        if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "unet.onnx"
    }
    fp3 = {r["message"]["text"]: r["partialFingerprints"][FINGERPRINT_KEY] for r in three["runs"][0]["results"]}
    assert fp and fp == fp3


def test_the_schema_is_not_vacuous(sarif_validator: Any) -> None:
    log = render_sarif([gate_path(str(FIXTURES / "toy.onnx"), ["unk__68 in 5..100"])])
    log["runs"][0]["results"][0]["level"] = "fatal"
    del log["runs"][0]["tool"]["driver"]["name"]
    log["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    messages = sorted(e.message for e in sarif_validator.iter_errors(log))
    assert len(messages) == 3, messages
    assert any("'fatal' is not one of" in m for m in messages)
    assert any("'name' is a required property" in m for m in messages)


def test_no_valid_size_is_one_gc008_verdict(sarif_validator: Any, tmp_path: Path) -> None:
    p = tmp_path / "short.onnx"
    onnx.save(conv_stack([{"name": "c", "k": 7}], dims=[1, 2, 5]), p)  # fixed length 5 < 7
    result = gate_path(str(p))
    log = render_sarif([result])
    assert_valid_sarif(log, sarif_validator)
    rules = [r["ruleId"] for r in log["runs"][0]["results"]]
    assert rules == ["GC008", "GC001"]  # the verdict, then the conv's finding; no second GC008
    assert log["runs"][0]["results"][0]["message"]["text"].startswith("no input size at all is valid: ")
    cmds = parse_commands(render_github([result]))
    assert [c[1]["title"] for c in cmds] == ["GC008 no-valid-size", "GC001 negative-dimension", "graphcheck gate"]


def test_explicit_first_failure_fields_are_used() -> None:
    from graphcheck.render._gatecommon import requirement_failure

    req = {
        "first_failure": "somewhere odd",
        "first_failure_code": "GC004",
        "first_failure_node": "/Concat_2",
        "first_failure_op": "Concat",
        "first_failure_layer": "up2",
    }
    f = requirement_failure(req, [])
    assert f.code == "GC004" and (f.where.node, f.where.op, f.where.layer) == ("/Concat_2", "Concat", "up2")
    assert requirement_failure({"first_failure": "x (Y) what"}, []).code == "GC201"


def test_sarif_of_nothing_is_valid(sarif_validator: Any) -> None:
    log = render_sarif([])
    assert_valid_sarif(log, sarif_validator)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_sarif_paths_are_uri_encoded(
    sarif_validator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    odd = tmp_path / "my models" / "a,b:c%d#e.onnx"
    odd.parent.mkdir()
    shutil.copy(FIXTURES / "toy.onnx", odd)
    _, log = sarif_of(["gate", str(odd)], capsys)
    assert_valid_sarif(log, sarif_validator)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "my%20models/a%2Cb%3Ac%25d%23e.onnx"


def test_a_symlinked_model_keeps_its_path_in_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / ".git").mkdir()
    (repo / "models" / "toy.onnx").symlink_to(FIXTURES / "toy.onnx")  # as DVC links files into its cache
    monkeypatch.chdir(repo)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    _, log = sarif_of(["gate", "models/toy.onnx"], capsys)
    loc = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc == {"uri": "models/toy.onnx", "uriBaseId": "%SRCROOT%"}
    _, out, _ = run(["gate", str(repo / "models" / "toy.onnx"), "-f", "github"], capsys)
    assert out.startswith("::notice file=models/toy.onnx,title=GC001 negative-dimension::")  # a bound, not an error


# ---------------------------------------------------------------------------
# GitHub workflow commands

COMMAND = re.compile(r"^::(error|warning|notice)(?: ([a-z]+=[^,:\r\n]*(?:,[a-z]+=[^,:\r\n]*)*))?::([^\r\n]*)$")


def parse_commands(text: str) -> list[tuple[str, dict[str, str], str]]:
    out = []
    for line in text.splitlines():
        m = COMMAND.match(line)
        assert m, f"not a workflow command: {line!r}"
        props = dict(p.split("=", 1) for p in m[2].split(",")) if m[2] else {}
        out.append((m[1], props, m[3]))
    return out


def unescape(text: str) -> str:
    for code, ch in (("%3A", ":"), ("%2C", ","), ("%0A", "\n"), ("%0D", "\r"), ("%25", "%")):
        text = text.replace(code, ch)
    return text


def test_escaping() -> None:
    assert escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert escape_property("a,b:c%d\ne") == "a%2Cb%3Ac%25d%0Ae"
    assert escape_data("%0A") == "%250A"


def test_github_lines(batch_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(batch_dir))
    code, out, _ = run(["gate", str(batch_dir), "-r", "frames in 2990..3000", "-f", "github"], capsys)
    assert code == 2
    cmds = parse_commands(out)
    *items, summary = cmds
    assert summary == ("error", {"title": "graphcheck gate"}, "FAIL: 7 models: 0 passed, 1 failed, 0 unknown, 6 errors")
    failing = [
        c for c in items if c[1]["file"] == "whisper_encoder.onnx" and c[1]["title"] == "GC003 broadcast-mismatch"
    ]
    req = next(c for c in failing if "required" in unescape(c[2]))
    assert req[0] == "error"
    assert unescape(req[2]).splitlines() == [
        f"{batch_dir / 'whisper_encoder.onnx'}: required frames in 2990..3000 fails for 2990 <= frames <= 2998",
        "smallest failing: batch=1, frames=2990",
        "first failing layer: /Add_2 (Add) broadcast on axis -2 (from the right): "
        "floor((frames + 1) / 2) must equal 1500 or be 1: here 1495 must equal 1500 or be 1",
    ]
    errors = {c[1]["file"]: unescape(c[2]) for c in items if c[1]["title"] == "GC203 model-unreadable"}
    assert set(errors) == {*BAD, "toy.onnx", "unet.onnx"}
    assert errors["empty.onnx"] == f"{batch_dir / 'empty.onnx'}: empty file, not an ONNX model"
    # the verdicts come before the findings (GitHub shows only the first annotations of a step)
    kinds = ["finding" if "required" not in unescape(c[2]) and "GC2" not in c[1]["title"] else "gate" for c in items]
    assert kinds == sorted(kinds, key=lambda k: k == "finding")
    finding = next(c for c in items if c[1]["title"] == "GC007 pinned-dimension")
    assert finding[0] == "warning"


def test_github_levels_and_escaping_in_paths(
    tmp_path: Path, unsupported_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    odd = tmp_path / "a,b:c%d.onnx"
    shutil.copy(FIXTURES / "torch_cnn2d.onnx", odd)
    code, out, _ = run(["gate", str(odd), str(unsupported_path), "-f", "github"], capsys)
    assert code == 2
    cmds = parse_commands(out)
    assert "file=a%2Cb%3Ac%25d.onnx" in out
    assert {c[1]["file"] for c in cmds[:-1]} == {"a%2Cb%3Ac%25d.onnx", "unsupported.onnx"}
    levels = {c[1]["title"]: c[0] for c in cmds[:-1]}
    assert levels["GC106 runtime-deviation"] == "notice"
    assert levels["GC101 unsupported-op"] == "warning"
    assert levels["GC202 required-size-unknown"] == "warning"
    assert levels["GC001 negative-dimension"] == "notice"  # a bound; the requirements decide
    assert cmds[-1][0] == "warning" and cmds[-1][2] == "UNKNOWN: 2 models: 1 passed, 0 failed, 1 unknown, 0 errors"


def test_github_all_pass_ends_with_a_notice(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(ROOT))
    code, out, _ = run(
        ["gate", str(FIXTURES / "transformer_mha_legacy.onnx"), "-r", "seq_len = 16", "-f", "github"], capsys
    )
    cmds = parse_commands(out)
    assert code == 0
    assert cmds[-1] == (
        "notice",
        {"title": "graphcheck gate"},
        "PASS: 1 model: 1 passed, 0 failed, 0 unknown, 0 errors",
    )
    assert all(c[1].get("file") == "fixtures/transformer_mha_legacy.onnx" for c in cmds[:-1])


def test_github_renderer_on_error_dicts_outside_the_workspace() -> None:
    text = render_github(
        [{"model": "models:/asr/3", "status": "error", "error": "no such\nmodel: 100%", "requirements": []}]
    )
    cmds = parse_commands(text)
    assert cmds[0] == ("error", {"title": "GC203 model-unreadable"}, "models:/asr/3: no such%0Amodel: 100%25")


def iter_json_results(out: str) -> Iterator[dict[str, Any]]:
    yield from json.loads(out)["results"]


def test_json_output(batch_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["gate", str(batch_dir / "toy.onnx"), "-r", "unk__68 in 5..100", "-f", "json"], capsys)
    assert code == 1
    (r,) = iter_json_results(out)
    assert set(r) >= {"model", "status", "error", "note", "graphcheck_version", "valid", "symbols", "requirements"}
    assert r["symbols"] == ["batch", "signal_len"]
    o = outcome(r, "unk__68 in 5..100")
    assert [f["text"] for f in o.pop("fixes")] == [  # each verified on the whole range (tests/report/test_fixes.py)
        "set padding='same' on Conv layer 'conv_a'",
        "pad by 2 on each side before 'conv_a' (keras.layers.ZeroPadding1D(2))",
        "use kernel_size=3 (or smaller) in 'conv_a'",
    ]
    assert o == {
        "requirement": "unk__68 in 5..100",
        "status": "fail",
        "failing": "5 <= unk__68 <= 8",
        "smallest_failing": {"batch": 1, "signal_len": 5},
        "first_failure": "conv_a (Conv) [toy_1/conv_a_1/convolution] length",
        "detail": "signal_len - 6 = -1, but every size must be >= 1",
        "reason": "",
        "first_failure_code": "GC001",
        "first_failure_node": "toy_1/conv_a_1/convolution",
        "first_failure_op": "Conv",
        "first_failure_layer": "conv_a",
    }

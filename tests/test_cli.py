"""The command line: output, exit codes (0 clean / 1 findings / 2 error), JSON, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from graphcheck.cli import main
from tests.models import conv_stack, toy


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture()
def toy_path(tmp_path: Path) -> str:
    p = tmp_path / "toy.onnx"
    onnx.save(toy(), p)
    return str(p)


def test_check_reports_valid_set_and_findings(toy_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["check", toy_path], capsys)
    assert code == 0, err
    assert "valid: L >= 9" in out
    assert "N: any >= 1" in out
    assert "GC001 negative-dimension  conv_a (Conv)" in out
    assert "is < 1 for L <= 6" in out
    assert "is < 1 for L <= 8" in out
    assert "smallest: L = 9" in out


def test_check_at_failing_size_exits_1_and_names_the_first_failure(
    toy_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["check", toy_path, "--at", "L=5"], capsys)
    assert code == 1
    assert "at L=5" in out and "FAILS at conv_a (Conv)" in out
    assert "5 - 6 = -1" not in out  # the formula is shown with the value computed, not garbled
    assert "= -1, but every size must be >= 1" in out


def test_check_at_valid_size(toy_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", toy_path, "--at", "L=9", "--at", "N=2"], capsys)
    assert code == 0
    assert "at L=9, N=2: ok" in out or "at N=2, L=9: ok" in out


def test_json_output(toy_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", toy_path, "--format", "json", "--at", "L=8"], capsys)
    assert code == 1
    data = json.loads(out)
    assert data["schema_version"] == 1
    syms = {s["name"]: s for s in data["symbols"]}
    assert syms["L"]["min"] == 9 and syms["L"]["max"] is None
    assert data["free_symbols"] == ["N"]
    assert {d["code"] for d in data["diagnostics"]} >= {"GC001"}
    assert data["at"]["ok"] is False and data["at"]["first_failure"]["node"] == "conv_b"
    # a file: no live exporter, the producer it records (name and version)
    assert data["exporter"] is None and data["attempts"] == []
    m = onnx.load(toy_path)
    assert data["producer"] == " ".join(x for x in (m.producer_name, m.producer_version) if x)
    assert data["at"]["refused"] is None and data["at"]["not_followed"] is None


def test_explain_marks_first_failure(toy_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explain", toy_path, "--at", "L=8"], capsys)
    assert code == 1
    lines = out.splitlines()
    conv_a = next(ln for ln in lines if " conv_a " in ln)
    conv_b = next(ln for ln in lines if " conv_b " in ln)
    assert "[1, 2, 2]" in conv_a and "FAILURE" not in conv_a
    assert "[1, 2, 0]" in conv_b and "FIRST FAILURE GC001" in conv_b


def test_dim_makes_a_fixed_axis_symbolic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "fixed.onnx"
    onnx.save(conv_stack([{"name": "c", "k": 5}], dims=[1, 2, 100]), p)
    code, out, _ = run(["check", str(p)], capsys)
    assert code == 0 and "valid: any size" in out
    code, out, _ = run(["check", str(p), "--dim", "signal:2=T"], capsys)
    assert code == 0 and "valid: T >= 5" in out
    code, out, _ = run(["check", str(p), "--dim", "signal:2=3"], capsys)
    assert code == 1  # fixed at 3: fails as declared


def test_fixed_shape_model_failing_as_declared_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "short.onnx"
    onnx.save(conv_stack([{"name": "c", "k": 7}], dims=[1, 2, 5]), p)
    code, out, _ = run(["check", str(p)], capsys)
    assert code == 1
    assert "no valid size" in out


def test_rule_explains_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["rule", "GC001"], capsys)
    assert code == 0 and "negative-dimension" in out and "floor(" in out
    code, out, _ = run(["rule"], capsys)
    assert code == 0 and "GC105" in out
    code, _, err = run(["rule", "GC999"], capsys)
    assert code == 2 and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "/nonexistent/model.onnx"],
        ["check", "{toy}", "--dim", "nonsense"],
        ["check", "{toy}", "--dim", "Q=3"],
        ["check", "{toy}", "--at", "L=abc"],
        ["check", "{toy}", "--at", "L"],
        ["check", "{toy}", "--format", "yaml"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], toy_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.replace("{toy}", toy_path) for a in argv]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert "Traceback" not in err
    assert err.strip(), "an error message is printed"


def test_corrupt_model_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.onnx"
    p.write_bytes(b"\x0a\x05hello\x3a\x10truncated")
    code, _, err = run(["check", str(p)], capsys)
    assert code == 2
    assert err.startswith("graphcheck: error:") and err.count("\n") == 1


def test_python_dash_m_and_console_script(toy_path: str) -> None:
    res = subprocess.run([sys.executable, "-m", "graphcheck", "check", toy_path], capture_output=True, text=True)
    assert res.returncode == 0 and "valid: L >= 9" in res.stdout
    res = subprocess.run(
        [sys.executable, "-m", "graphcheck", "check", toy_path, "--at", "L=3"], capture_output=True, text=True
    )
    assert res.returncode == 1


def test_paths_and_names_from_files_print_on_one_line(tmp_path: Path) -> None:
    """A newline or a terminal escape in a path (or in a name inside the file) is escaped, never
    printed raw: the error stays one line on stderr, the report one line per item."""
    weird = tmp_path / "to\ny\x1b[31m.onnx"
    weird.write_bytes((Path(__file__).resolve().parent.parent / "fixtures" / "toy.onnx").read_bytes())
    run = [sys.executable, "-m", "graphcheck"]
    res = subprocess.run([*run, "check", str(weird)], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.splitlines()[0].startswith(f"{tmp_path}/to\\ny\\x1b[31m.onnx  input")
    assert "\x1b" not in res.stdout
    res = subprocess.run([*run, "check", str(tmp_path / "no\nsuch\x1b[2J.onnx")], capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "\x1b" not in res.stderr
    assert "no\\nsuch\\x1b[2J.onnx: no such file" in res.stderr
    res = subprocess.run([*run, "gate", str(weird), "-r", "signal_len >= 9"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith(f"PASS  {tmp_path}/to\\ny\\x1b[31m.onnx\n")

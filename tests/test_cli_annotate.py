"""``graphcheck annotate``: its output, exit codes (0 written / 1 a failing --at, nothing written / 2
error), JSON, and one line for errors."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from graphcheck.cli import main
from tests.models import toy

ROOT = Path(__file__).resolve().parent.parent


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_annotate_writes_and_summarises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "w.onnx"
    code, text, err = run(
        ["annotate", str(ROOT / "fixtures" / "whisper_encoder.onnx"), "-o", str(out), "--list"], capsys
    )
    assert code == 0 and not err
    lines = text.splitlines()
    assert lines[0].endswith(f"-> {out}")
    assert lines[1] == "  valid: frames in {1, 2, 2999, 3000}   (batch: any >= 1)"
    assert lines[2].startswith("  21 of 21 values with a full shape (15 symbolic), 0 dims left unset")
    assert "  /conv2/Conv_output_0  [batch, 16, floor((frames + 1) / 2)]" in lines
    assert "  features              [batch, 1500, 16]" in lines
    assert {p.key for p in onnx.load(str(out)).metadata_props} >= {"graphcheck.valid", "graphcheck.findings"}


def test_annotate_at_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "toy.onnx"
    onnx.save(toy(), src)
    code, text, _ = run(["annotate", str(src), "-o", str(tmp_path / "a.onnx"), "--at", "L=20", "-f", "json"], capsys)
    data = json.loads(text)
    assert code == 0 and data["at"] == {"L": 20} and data["full"] == 2
    assert data["values"]["conv_b_out"] == {"dims": ["N", 2, 6], "unset": []}
    code, _, err = run(["annotate", str(src), "-o", str(tmp_path / "b.onnx"), "--at", "L=5"], capsys)
    assert code == 1 and err.startswith("graphcheck: not written: the model fails at L=5")
    assert not (tmp_path / "b.onnx").exists()


def test_annotate_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    code, _, err = run(["annotate", str(bad), "-o", str(tmp_path / "x.onnx")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a valid ONNX model" in err
    code, _, err = run(["annotate", str(ROOT / "fixtures" / "toy.onnx")], capsys)
    assert code == 2 and "--out" in err
    code, _, err = run(["annotate", str(ROOT / "fixtures" / "toy.onnx"), "-o", str(tmp_path / "no" / "x.onnx")], capsys)
    assert code == 2 and err.startswith("graphcheck: error:") and "cannot write" in err

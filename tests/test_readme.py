"""The README stays true: its supported-ops table is the registry's, its quick start exists.

``python -m tests.test_readme`` rewrites the ops table from the registry.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from graphcheck.infer.ops import rules_by_family

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- ops-table:start -->", "<!-- ops-table:end -->"

FAMILY_TITLES = {
    "conv": "Convolution and pooling",
    "elementwise": "Element-wise and broadcasting",
    "reduce": "Reductions, normalizations, softmax",
    "shape": "Shape manipulation",
    "slicing": "Concat, split, slice, gather, scatter",
    "matmul": "Matrix products",
    "rnn": "Recurrent",
    "resize": "Pad, resize, sampling",
    "attention": "Attention",
    "loss": "Losses",
    "quant": "Quantized and integer",
    "signal": "Signal processing",
    "random": "Random",
    "text": "Strings and images",
    "control": "Control flow and optionals (If/Loop/Scan bodies followed; optional values and SequenceMap: GC103)",
    "sequence": "Sequences (their elements' shapes carried)",
    "msft": "com.microsoft: fused activations and layer norms",
    "msft_attention": "com.microsoft: attention (transformer optimizer, model builders)",
    "msft_embed": "com.microsoft: BERT embedding (transformer optimizer, quantizer)",
    "msft_quant": "com.microsoft: quantized (quantizers, 4-bit weights)",
    "msft_misc": "com.microsoft: other contrib ops",
    "nchwc": "com.microsoft.nchwc: NCHWc layout (offline ORT_ENABLE_ALL)",
}


def ops_table() -> str:
    fams = rules_by_family()
    lines = ["| family | ops (opsets where the rule changes, when not just 1) |", "|---|---|"]
    for fam, rules in fams.items():
        cells = []
        for dom, op, since in rules:
            name = f"{dom}::{op}" if dom else op
            versions = [v for v in since if v > 1]
            cells.append(f"{name} ({', '.join(map(str, versions))})" if versions else name)
        lines.append(f"| {FAMILY_TITLES.get(fam, fam)} | {', '.join(cells)} |")
    total = sum(len(r) for r in fams.values())
    lines.append("")
    lines.append(f"{total} op rules in all.")
    lines += ["", *_unruled_lines()]
    return "\n".join(lines)


def _unruled_lines() -> list[str]:
    """The onnxruntime contrib ops with a CPU kernel and no rule, grouped by their GC101 reason."""
    from graphcheck.infer.ops.msft_unruled import NO_CPU_KERNEL
    from graphcheck.infer.registry import _NO_RULE

    by_reason: dict[str, list[str]] = {}
    for (dom, op), why in sorted(_NO_RULE.items()):
        by_reason.setdefault(why, []).append(op if dom == "com.microsoft" else f"{dom}::{op}")
    gpu_only = by_reason.pop(NO_CPU_KERNEL, [])
    out = [
        f"onnxruntime contrib ops with a CPU kernel and no rule: {sum(map(len, by_reason.values()))} (each is GC101 "
        "with its reason; "
        "tests/infer/ops/test_msft_coverage.py keeps rules and reasons equal to onnxruntime's CPU kernels of "
        "com.microsoft and com.microsoft.nchwc):",
        "",
    ]
    out += [f"* {', '.join(ops)}: {why}" for why, ops in by_reason.items()]
    if gpu_only:
        out += [
            "",
            f"Emitted by the tools for GPUs only ({len(gpu_only)}, GC101): {', '.join(gpu_only)}: {NO_CPU_KERNEL}.",
        ]
    return out


def _section(text: str) -> str:
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def test_ops_table_matches_registry() -> None:
    text = README.read_text()
    assert START in text and END in text
    assert _section(text) == ops_table(), "run `python -m tests.test_readme` to refresh the README's ops table"


def test_quick_start_is_two_commands() -> None:
    text = README.read_text()
    block = re.search(r"## Quick start.*?```(?:sh|bash)?\n(.*?)```", text, re.S)
    assert block is not None
    cmds = [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert len(cmds) == 2
    assert "graphcheck check fixtures/" in cmds[0]
    assert "pytest" in cmds[1]
    model = next(w for w in shlex.split(cmds[0]) if w.startswith("fixtures/"))
    assert (ROOT / model).exists()


def refresh() -> None:  # pragma: no cover - maintenance helper
    """Rewrite the ops table and every ``$ graphcheck ...`` transcript from the current code."""
    import subprocess
    import sys

    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    text = f"{head}{START}\n{ops_table()}\n{END}{tail}"
    for cmd, expected in _transcripts():
        args = shlex.split(cmd)[1:]
        res = subprocess.run([sys.executable, "-m", "graphcheck", *args], cwd=ROOT, capture_output=True, text=True)
        old = f"$ {cmd}\n{expected}"
        new = f"$ {cmd}\n{res.stdout.rstrip(chr(10))}" + ("" if expected else "\n")
        text = text.replace(old, new, 1)
    README.write_text(text)
    print("README ops table and transcripts refreshed")


def _blocks() -> list[list[str]]:
    blocks: list[list[str]] = []
    cur: list[str] | None = None
    skip = False  # ```console blocks are recorded runs that need a live service (the MLflow server)
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            if cur is None:
                cur = []
                skip = line.strip() == "```console"
            else:
                if not skip:
                    blocks.append(cur)
                cur = None
        elif cur is not None:
            cur.append(line)
    return blocks


def _transcripts() -> list[tuple[str, str]]:  # noqa: D103
    """(command, expected output) for every ``$ graphcheck ...`` in the README's code blocks."""
    out = []
    for lines in _blocks():
        i = 0
        while i < len(lines):
            if lines[i].startswith("$ graphcheck "):
                j = i + 1
                while j < len(lines) and not lines[j].startswith("$ "):
                    j += 1
                out.append((lines[i][2:], "\n".join(lines[i + 1 : j])))
                i = j
            else:
                i += 1
    return out


def test_readme_transcripts_are_real_output() -> None:
    import subprocess
    import sys

    transcripts = _transcripts()
    assert len(transcripts) >= 4
    for cmd, expected in transcripts:
        args = shlex.split(cmd)[1:]
        res = subprocess.run([sys.executable, "-m", "graphcheck", *args], cwd=ROOT, capture_output=True, text=True)
        assert res.stdout.rstrip("\n") == expected.rstrip("\n"), cmd


if __name__ == "__main__":  # pragma: no cover
    refresh()

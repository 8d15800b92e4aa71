"""The ``graphcheck`` command line.

Exit codes: 0 clean (bounds on dynamic sizes are reported, not failures); 1 when a size
asked with ``--at`` fails, when no size at all is valid, or when a fixed-shape model fails
as declared; 2 for usage errors and unreadable models (one line, no traceback).
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from graphcheck.errors import GraphcheckError, UsageError, printable

if TYPE_CHECKING:
    from graphcheck.api import Report
    from graphcheck.gate.artifacts import Declaration
from graphcheck.version import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Which input sizes does an ONNX model accept, and why do the others fail?",
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    text = "text"
    json = "json"


class GateFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


DimOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--dim",
        help="Fix or rename a size: N=1 fixes symbol N; signal:1=L makes axis 1 of input 'signal' the symbol L.",
        metavar="NAME=VALUE",
    ),
]
AtOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--at", help="Check one size: L=5 (symbol name or input:axis). Repeat for several sizes.", metavar="NAME=INT"
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
MODEL_HELP = "A model: .onnx, .keras, .h5, a SavedModel directory, .tflite or .pt2 (recognized by content)."
EMIT_KINDS = ("trtexec", "tensorrt-json", "triton", "torch-dynamic-shapes", "mlflow-signature")
EmitOpt = Annotated[
    str | None,
    typer.Option(
        "--emit",
        help=f"Print a deployment artifact from the proven set: {', '.join(EMIT_KINDS)}.",
        metavar="KIND",
    ),
]


def _bound_opt(flag: str, what: str) -> Any:
    return typer.Option(flag, help=f"With --emit: {what} for a size, e.g. L=16000. Repeatable.", metavar="NAME=INT")


MinOpt = Annotated[list[str] | None, _bound_opt("--min", "the smallest size wanted")]
MaxOpt = Annotated[list[str] | None, _bound_opt("--max", "the largest size wanted")]
OptOpt = Annotated[list[str] | None, _bound_opt("--opt", "the size to optimize for (TensorRT opt)")]


def _progress(done: int, total: int) -> None:
    if total >= 2000 and sys.stderr.isatty():
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\ranalysing {done}/{total} nodes{end}")
        sys.stderr.flush()


def _load_report(model: str, dim: list[str] | None) -> Report:
    """ONNX, or a model file of another framework converted first (graphcheck.frontends.files)."""
    from graphcheck.frontends.files import check_file

    return check_file(model, dim or [], progress=_progress)


def _sizes(at: list[str] | None, flag: str = "--at") -> dict[str, int]:
    from graphcheck.infer.engine import parse_dims

    parsed = parse_dims(at or [])
    out: dict[str, int] = {}
    for k, v in parsed.items():
        if not isinstance(v, int):
            raise UsageError(f"{flag} {k}={v}: the size must be an integer")
        out[k] = v
    return out


def _emit(text: str) -> None:
    typer.echo(text)


@app.command()
def check(
    model: Annotated[str, typer.Argument(help=MODEL_HELP)],
    dim: DimOpt = None,
    at: AtOpt = None,
    format: FormatOpt = Format.text,
    all: Annotated[bool, typer.Option("--all", help="Show every finding in text output.")] = False,
    emit: EmitOpt = None,
    min: MinOpt = None,
    max: MaxOpt = None,
    opt: OptOpt = None,
) -> None:
    """Report the exact set of valid input sizes, and every condition that limits it."""
    if emit is not None and emit not in EMIT_KINDS:
        raise UsageError(f"--emit {emit!r}: expected one of {', '.join(EMIT_KINDS)}")
    if emit is None and (min or max or opt):
        raise UsageError("--min, --max and --opt bound the boxes of --emit KIND; give --emit too")
    report = _load_report(model, dim)
    sizes = _sizes(at)
    ev = report.at(sizes) if at else None
    fixes = report.fixes(sizes) if ev is not None and ev.ok is False else []
    plan = None
    if emit is not None:
        plan = report.deploy_plan(min=_sizes(min, "--min"), max=_sizes(max, "--max"), opt=_sizes(opt, "--opt"))
    if format is Format.json:
        from graphcheck.render.json import report_dict

        payload = report_dict(report, ev, fixes)
        if plan is not None and emit is not None:
            from graphcheck.render.deploy import deploy_dict

            payload["deploy"] = deploy_dict(plan, emit)
        _emit(json.dumps(payload, indent=2))
    elif plan is not None and emit is not None:
        from graphcheck.render.deploy import render_emit

        _emit(render_emit(plan, emit))
    else:
        from graphcheck.render.text import render_check

        _emit(render_check(report, ev, show_all=all, fixes=fixes))
    code = 0
    if ev is not None and ev.ok is False:
        code = 1
    if report.any_valid is False or report.fails_as_declared:
        code = 1
    raise typer.Exit(code)


@app.command()
def explain(
    model: Annotated[str, typer.Argument(help=MODEL_HELP)],
    at: AtOpt = None,
    dim: DimOpt = None,
    format: FormatOpt = Format.text,
    nodes: Annotated[bool, typer.Option("--nodes", help="One row per ONNX node, not per framework layer.")] = False,
) -> None:
    """Every layer's (or node's) concrete output shape at the given sizes, the first failure marked."""
    report = _load_report(model, dim)
    sizes = _sizes(at)
    ev = report.at(sizes)
    fixes = report.fixes(sizes) if ev.ok is False else []
    if format is Format.json:
        from graphcheck.render.json import evaluation_dict

        _emit(json.dumps(evaluation_dict(ev, fixes), indent=2))
    else:
        from graphcheck.render.text import render_explain

        _emit(render_explain(report, ev, fixes, nodes=nodes))
    raise typer.Exit(1 if ev.ok is False else 0)


@app.command()
def annotate(
    model: Annotated[
        str, typer.Argument(help=MODEL_HELP + " Another framework's file is written as its ONNX conversion.")
    ],
    out: Annotated[str, typer.Option("--out", "-o", help="Where to write the annotated model (may be MODEL).")],
    dim: DimOpt = None,
    at: Annotated[
        list[str] | None,
        typer.Option(
            "--at", help="Write concrete sizes: L=5 (symbol name or input:axis). Repeatable.", metavar="NAME=INT"
        ),
    ] = None,
    format: FormatOpt = Format.text,
    list_: Annotated[bool, typer.Option("--list", help="List every value written, with its shape.")] = False,
) -> None:
    """Write every tensor's exact shape into the model (value_info, the outputs' shapes, metadata)."""
    from graphcheck.frontends.files import converted
    from graphcheck.report.annotate import AnnotateRefused

    report = _load_report(model, dim)
    conv = converted(model, dim or [])  # a Keras/TFLite/.pt2 file: its ONNX conversion is what is written
    try:
        result = report.annotate(out, at=_sizes(at) if at else None, model=conv.path if conv is not None else model)
    except AnnotateRefused as exc:
        typer.echo(f"graphcheck: not written: {exc}", err=True)
        raise typer.Exit(1) from None
    if format is Format.json:
        from graphcheck.render.annotate import annotate_dict

        _emit(json.dumps(annotate_dict(result), indent=2))
    else:
        from graphcheck.render.annotate import render_annotate

        _emit(render_annotate(result, listing=list_))
    raise typer.Exit(1 if report.any_valid is False or report.fails_as_declared else 0)


RequireOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--require",
        "-r",
        help='A required size set: "L in 8000..480000", "H = 224", "T in {3000}", '
        '"H, W in 32..512", "(H, W) in {(224, 224)}". Repeatable.',
        metavar="REQ",
    ),
]


@app.command()
def gate(
    models: Annotated[list[str], typer.Argument(help="Model files, directories, globs, or models:/NAME/VERSION.")],
    require: RequireOpt = None,
    dim: DimOpt = None,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy", help="graphcheck.toml or pyproject.toml (default: found upwards from the current directory)."
        ),
    ] = None,
    allow_unknown: Annotated[bool, typer.Option("--allow-unknown", help="Pass when the answer is unknown.")] = False,
    format: Annotated[GateFormat, typer.Option("--format", "-f", help="Output format.")] = GateFormat.text,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Models checked in parallel (processes).")] = 1,
    tracking_uri: Annotated[
        str | None, typer.Option("--tracking-uri", help="MLflow tracking server (for models:/ URIs).")
    ] = None,
    promote: Annotated[
        str | None, typer.Option("--promote", help="Move this MLflow alias to the model version when the gate passes.")
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="Check the sizes a serving artifact declares: config.pbtxt, a TensorRT profile .json, trtexec "
            "flags, an MLmodel file or directory; with models:/ URIs, 'signature' (the version's MLflow signature).",
            metavar="FILE",
        ),
    ] = None,
) -> None:
    """Exit 0 when every required size is proven valid, 1 when one fails, 2 on error or unknown."""
    from graphcheck.gate.decision import expand_models
    from graphcheck.gate.require import parse_requirement
    from graphcheck.render._gatecommon import batch_exit_code

    for r in require or []:
        parse_requirement(r)  # a malformed requirement is a usage error before any work
    declared = None
    if against is not None and against != "signature":
        from graphcheck.gate.artifacts import read_declaration

        declared = read_declaration(against)  # a malformed artifact is one line, exit 2, before any work
    elif against == "signature" and not all(m.startswith("models:/") for m in models):
        raise UsageError("--against signature reads a registered model's MLflow signature: give models:/NAME/VERSION")
    if policy is not None:
        from graphcheck.gate.policy import load_policy

        load_policy(policy)
    paths = expand_models(models)
    if not paths:
        raise UsageError(f"no models found in {' '.join(models)}")
    results = _run_gate(
        paths, require or [], dim or [], policy, allow_unknown or None, jobs, tracking_uri, promote, declared, against
    )
    _emit_gate(results, format)
    raise typer.Exit(batch_exit_code(results))


def _run_gate(
    paths: list[str],
    require: list[str],
    dims: list[str],
    policy: str | None,
    allow_unknown: bool | None,
    jobs: int,
    tracking_uri: str | None,
    promote: str | None,
    declared: Declaration | None = None,
    against: str | None = None,
) -> list[dict[str, object]]:
    from functools import partial

    from graphcheck.gate.decision import error_result, gate_path
    from graphcheck.gate.declared import declared_check

    check = partial(declared_check, declared) if declared is not None else None

    def registered(path: str, local: str) -> dict[str, object]:
        own = check
        if against == "signature":
            from graphcheck.gate.artifacts import read_declaration

            mlmodel = os.path.join(os.path.dirname(local), "MLmodel")
            if not os.path.isfile(mlmodel):
                raise UsageError(f"{path}: no MLmodel among the version's artifacts: it has no MLflow signature")
            own = partial(declared_check, read_declaration(mlmodel))
        return gate_path(
            local, require, dims, policy_path=policy, allow_unknown=allow_unknown, display_name=path, declared=own
        )

    def one(path: str) -> dict[str, object]:
        if path.startswith("models:/"):
            from graphcheck.gate.mlflow_registry import gate_registered

            return gate_registered(
                path, tracking_uri, partial(registered, path), promote, with_mlmodel=against == "signature"
            )
        return gate_path(path, require, dims, policy_path=policy, allow_unknown=allow_unknown, declared=check)

    if promote is not None and not all(p.startswith("models:/") for p in paths):
        raise UsageError("--promote works with registered models (models:/NAME/VERSION)")
    unconverted = _convert_first(paths)
    results: list[dict[str, object]] = []
    show = len(paths) > 1 and sys.stderr.isatty()
    if jobs > 1 and len(paths) > 1 and not any(p.startswith("models:/") for p in paths):
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from graphcheck.gate.decision import gate_path as worker

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futs = {
                pool.submit(
                    worker, p, require, dims, policy_path=policy, allow_unknown=allow_unknown, declared=check
                ): p
                for p in paths
                if p not in unconverted
            }
            done: dict[str, dict[str, object]] = {p: error_result(p, e) for p, e in unconverted.items()}
            for i, fut in enumerate(as_completed(futs), 1):
                done[futs[fut]] = fut.result()
                if show:
                    sys.stderr.write(f"\r[{i}/{len(paths)}] {printable(str(futs[fut]))}\x1b[K")
            results = [done[p] for p in paths]
    else:
        for i, p in enumerate(paths, 1):
            if show:
                sys.stderr.write(f"\r[{i}/{len(paths)}] {printable(str(p))}\x1b[K")
            results.append(error_result(p, unconverted[p]) if p in unconverted else one(p))
    if show:
        sys.stderr.write("\r\x1b[K")
    return results


def _convert_first(paths: list[str]) -> dict[str, str]:
    """Model files of other frameworks converted before the gate runs, one worker per framework for
    all of them (TensorFlow imported once per run); the one-line errors of those that failed."""
    from graphcheck.frontends.files import detect, prepare

    local = [p for p in paths if not p.startswith("models:/") and detect(p) is not None]
    if not local:
        return {}
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{len(local)} model file(s) of other frameworks: converting to ONNX where not cached\x1b[K")
        sys.stderr.flush()
    errors = prepare(local)
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K")
    return errors


def _emit_gate(results: list[dict[str, object]], fmt: GateFormat) -> None:
    from graphcheck.render.gatetext import render_gate, render_summary

    if fmt is GateFormat.json:
        payload = {"schema_version": 1, "results": results}
        _emit(json.dumps(payload, indent=2))
    elif fmt is GateFormat.sarif:
        from graphcheck.render.sarif import render_sarif

        _emit(json.dumps(render_sarif(results), indent=2))
    elif fmt is GateFormat.github:
        from graphcheck.render.github import render_github

        _emit(render_github(results))
    else:
        for r in results:
            _emit(render_gate(r))
        if len(results) > 1:
            _emit("")
            _emit(render_summary(results))


@app.command()
def rule(
    code: Annotated[str | None, typer.Argument(help="A code (GC001) or name (negative-dimension).")] = None,
) -> None:
    """Explain a diagnostic code; without one, list them all."""
    from graphcheck.report.codes import CODES, lookup_code

    if code is None:
        width = max(len(c.name) for c in CODES.values())
        for c in CODES.values():
            _emit(f"{c.code}  {c.name:<{width}} {c.severity:<8} {c.summary}")
        return
    found = lookup_code(code)
    if found is None:
        raise UsageError(f"unknown code {code!r}; `graphcheck rule` lists them")
    _emit(f"{found.code} {found.name} ({found.severity})\n{found.summary}\n\n{found.explanation}")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"graphcheck {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = None,
) -> None:
    pass


def main(argv: list[str] | None = None) -> None:
    """Console entry point: errors are one line on stderr with exit code 2."""
    try:
        rc = app(args=argv, prog_name="graphcheck", standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except GraphcheckError as exc:
        typer.echo(f"graphcheck: error: {printable(str(exc))}", err=True)  # one line, whatever the path holds
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("graphcheck: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # usage errors from the option parser, and anything unexpected
        # typer raises click's exceptions (or those of the click it vendors, in newer typer)
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            sys.exit(2)
        if type(exc).__name__ == "Abort":
            sys.exit(130)
        if os.environ.get("GRAPHCHECK_DEBUG"):
            raise
        why = printable(f"{type(exc).__name__}: {exc}")
        typer.echo(f"graphcheck: internal error: {why} (set GRAPHCHECK_DEBUG=1 for details)", err=True)
        sys.exit(2)

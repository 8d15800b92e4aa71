"""Computed fix suggestions for a size that fails.

For the first failing window layer (and the convolutions/pools before it) candidate changes are
tried on a copy of the graph: SAME padding, the smallest explicit padding that suffices, the
largest kernel, dilation or stride that still passes. Each candidate is verified by re-inferring
the changed model at the sizes asked (only from the changed node downstream, reusing every fact
above it, and stopping at its first failing condition); only changes under which the *model*
accepts them are suggested: by the ONNX spec and, where it deviates, by onnxruntime's rules (a SAME padding on a
dilated Conv, which onnxruntime refuses, is not suggested). The smallest size that works is
always offered too. Suggestions are worded for the
framework the model came from (Keras, PyTorch) when it is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from graphcheck.errors import UsageError
from graphcheck.infer.engine import INCOMPLETE_CODES
from graphcheck.infer.facts import Note, Requirement
from graphcheck.infer.resume import Trials, reanalyze
from graphcheck.model.ir import AttrValue, Graph, Node, TensorData
from graphcheck.report.report import Report
from graphcheck.symbolic.intset import MAXDIM, IntSet
from graphcheck.symbolic.usolve import work_spent

__all__ = ["Fix", "suggest_fixes"]

WINDOW_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool")
MAX_LAYERS = 24  # window layers tried, nearest the failure first
MAX_PAD = 64
MAX_STEPS = 64  # values below a kernel, dilation or stride tried one by one; past it, a bisection
# solver steps all the candidates of one search may spend together (4 x usolve.SOLVE_WORK); past it, no
# further candidate is tried: each one re-solves the conditions it changes, within SOLVE_WORK each
FIX_WORK = 1 << 22


def _largest_passing(hi: int, passes: Callable[[int], bool]) -> int | None:
    """The largest ``v`` in ``hi, hi - 1, ..., 1`` that passes: one by one up to ``MAX_STEPS`` below
    ``hi``; for a huge attribute (a kernel of 2**40 in a hostile file), a bisection that takes
    passing to be monotone and tries about 64 values, its answer checked like any other."""
    if hi <= MAX_STEPS:
        return next((v for v in range(hi, 0, -1) if passes(v)), None)
    lo, found = 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if passes(mid):
            found, lo = mid, mid + 1
        else:
            hi = mid - 1
    return found


@dataclass(frozen=True)
class Fix:
    """One change that makes the model accept the sizes asked (verified by re-analysis)."""

    layer: str  # framework layer name, or the ONNX node when no layer is known
    layer_type: str
    node: str
    param: str  # framework parameter: padding, kernel_size, strides/stride, dilation_rate/dilation,
    #             pool_size; "zero_padding" (Keras: a ZeroPadding layer of `value` before the layer);
    #             "input_length" (feed `value` instead)
    value: object
    text: str  # the suggestion in the framework's words
    onnx_change: str  # the change as made to the ONNX graph to verify it
    onnx_attrs: Mapping[str, object] = field(default_factory=dict)  # the node's attributes after the change
    weight_dims: tuple[int, ...] | None = None  # the weight's new shape (a smaller kernel), if it changed

    def to_dict(self) -> dict[str, object]:
        return {
            "layer": self.layer,
            "layer_type": self.layer_type,
            "node": self.node,
            "param": self.param,
            "value": self.value if isinstance(self.value, int | str | float) else repr(self.value),
            "text": self.text,
            "onnx_change": self.onnx_change,
        }


_AXIS = re.compile(r"\(axis (\d+)\)")


def _axis_of(what: str) -> int | None:
    m = _AXIS.search(what)
    return int(m.group(1)) if m else None


class _Trial:
    """Decides candidate changes to one node (and perhaps its weight) at the sizes asked.

    Candidates are re-inferred from the analysis already made (and its onnxruntime-semantics
    twin) by :mod:`graphcheck.infer.resume`: only the changed node and what depends on it are
    re-run, each walk stops at the candidate's first condition that fails at the sizes, and
    states already decided for an earlier candidate are not walked again.
    """

    def __init__(
        self, report: Report, sizes: Mapping[str, int], verify: Callable[[Report], bool] | None = None
    ) -> None:
        self.report = report
        self.graph = report.analysis.graph
        self.semantics = report.analysis.semantics
        self.verify = verify
        self.env, self.consistent, defaulted = report.sizes_env(sizes)
        self.defaulted = {report.analysis.symbol(n) for n in defaulted}
        self._bad_from: dict[str, int] = {}
        self._trials: dict[str, Trials] = {}
        self._work_from = work_spent()

    def _base(self, semantics: str) -> Report:
        return self.report if semantics == self.semantics else self.report.ort_report

    def _fails(self, item: Requirement | Note) -> bool:
        """A condition or note under which the changed model does not accept the sizes."""
        if isinstance(item, Note):
            return item.code in INCOMPLETE_CODES
        if not item.decidable:
            return True
        if item.cond.symbols() & self.defaulted:
            return True  # a size the user left out, free in the model as it was, matters now
        return not item.cond.holds(self.env)

    def _first_bad(self, semantics: str) -> int:
        """The position of the base analysis' first node whose conditions or notes fail at the sizes."""
        if semantics not in self._bad_from:
            a = self._base(semantics).analysis
            bad = [r.order for r in a.requirements if self._fails(r)]
            bad += [n.order for n in a.notes if self._fails(n)]
            self._bad_from[semantics] = min(bad, default=len(a.order))
        return self._bad_from[semantics]

    def first_failure(self) -> Requirement | None:
        """The model's first condition that fails at the sizes (what ``report.at(sizes)`` would
        name), found without evaluating every node's shapes."""
        failing = [
            r for r in self.report.analysis.requirements if r.decidable and not r.covers and not r.cond.holds(self.env)
        ]
        return min(failing, key=lambda r: r.order, default=None)

    def _trials_for(self, semantics: str) -> Trials:
        if semantics not in self._trials:
            self._trials[semantics] = Trials(self._base(semantics).analysis, self._fails)
        return self._trials[semantics]

    def accepts(self, node: Node, attrs: Mapping[str, AttrValue], weight: TensorData | None = None) -> bool:
        """The changed model accepts the sizes, by the spec and in onnxruntime (a fix must run);
        with ``verify`` (the gate: a whole required range), that must hold of it too."""
        if not self.consistent or work_spent() - self._work_from > FIX_WORK:
            return False  # (past the search's budget no candidate is tried: the fixes found so far stand)
        new = {node.index: replace(node, attrs=dict(attrs))}
        inits = {weight.name: weight} if weight is not None else {}
        for semantics in dict.fromkeys((self.semantics, "ort")):
            trials = self._trials_for(semantics)
            pos = trials.position(node.index)
            if pos is None or self._first_bad(semantics) < pos:
                return False  # something upstream of the change already fails
            try:
                if not trials.passes(new, inits):
                    return False
                if self.verify is not None:
                    changed = reanalyze(self._base(semantics).analysis, new, inits)
                    if changed is None or not self.verify(Report(changed, self.report.name, self.report.framework)):
                        return False
            except Exception:
                return False
        return True


def _kernel(node: Node, graph: Graph) -> tuple[list[int], TensorData | None]:
    ks = node.attrs.get("kernel_shape")
    w = graph.initializers.get(node.inputs[1]) if node.op_type != "MaxPool" and len(node.inputs) > 1 else None
    if isinstance(ks, tuple):
        return list(ks), w
    if w is not None and node.op_type in ("Conv", "ConvTranspose"):
        return list(w.dims[2:]), w
    return [], w


def _set(values: object, n: int, i: int, v: int, default: int) -> list[int]:
    out = list(values) if isinstance(values, tuple) and len(values) == n else [default] * n
    out[i] = v
    return out


def _words(report: Report) -> tuple[str, Callable[[str], str]]:
    fw = report.layers.framework
    names = {
        "keras": {"stride": "strides", "dilation": "dilation_rate", "kernel": "kernel_size", "pool": "pool_size"},
        "torch": {"stride": "stride", "dilation": "dilation", "kernel": "kernel_size", "pool": "kernel_size"},
    }.get(fw, {"stride": "strides", "dilation": "dilations", "kernel": "kernel_shape", "pool": "kernel_shape"})
    return fw, lambda k: names[k]


def suggest_fixes(
    report: Report, sizes: Mapping[str, int], verify: Callable[[Report], bool] | None = None
) -> list[Fix]:
    """Verified changes under which the model accepts ``sizes`` (empty when it already does).

    ``verify``: a further test every changed model must pass (the gate passes it the whole required
    range); then the input-size fixes, which change the sizes rather than the model, are left out.
    """
    trial = _Trial(report, sizes, verify)
    first = trial.first_failure()
    if first is None:
        return []
    fw, pname = _words(report)
    order = {n.name: i for i, n in enumerate(report.analysis.order)}
    fail_pos = order.get(first.node, len(order))
    axis = _axis_of(first.what)
    fixes: list[Fix] = []

    window_nodes = [n for n in report.analysis.order if n.op_type in WINDOW_OPS and order[n.name] <= fail_pos]
    window_nodes = sorted(window_nodes, key=lambda n: -order[n.name])[:MAX_LAYERS]
    if axis is not None:
        for node in window_nodes:
            fixes.extend(_window_fixes(report, trial, node, node.name == first.node, axis, fw, pname))

    if verify is None:
        fixes.extend(_input_fixes(report, sizes, fw))
    return fixes


def _window_fixes(
    report: Report,
    trial: _Trial,
    node: Node,
    at_failure: bool,
    axis: int,
    fw: str,
    pname: Callable[[str], str],
) -> list[Fix]:
    """Changes to one convolution/pool that make the model accept the sizes."""
    graph = trial.graph
    fixes: list[Fix] = []
    kernel, weight = _kernel(node, graph)
    nsp = len(kernel)
    if not nsp or not 2 <= axis < nsp + 2:
        return []
    i = axis - 2
    # tf2onnx runs a Conv1D/Pooling1D as a 2-D op over [N, C, 1, L]: report 1-D values
    in_shape = report.analysis.facts.get(node.inputs[0])
    one_d = (
        nsp == 2
        and in_shape is not None
        and in_shape.shape is not None
        and len(in_shape.shape) == 4
        and in_shape.shape[2 + (1 - i)] == 1
        and kernel[1 - i] == 1
    )
    lay = report.layers.of(node.name)
    lname = lay.name if lay is not None and lay.name else node.name
    ltype = (lay.kind if lay is not None else "") or node.op_type
    is_pool = node.op_type != "Conv" and node.op_type != "ConvTranspose"
    attrs = dict(node.attrs)
    strides = attrs.get("strides", (1,) * nsp)
    dils = attrs.get("dilations", (1,) * nsp)
    s_i = strides[i] if isinstance(strides, tuple) and len(strides) == nsp else 1
    d_i = dils[i] if isinstance(dils, tuple) and len(dils) == nsp else 1
    k_i = kernel[i]

    def add(
        param: str, value: object, text: str, change: str, new: Mapping[str, AttrValue], w: TensorData | None = None
    ) -> None:
        fixes.append(Fix(lname, ltype, node.name, param, value, text, change, dict(new), w.dims if w else None))

    # SAME padding (the failing layer only: it changes the output size, which later layers see)
    if at_failure and node.op_type != "ConvTranspose" and attrs.get("auto_pad", "NOTSET") != "SAME_UPPER":
        same = {k: v for k, v in attrs.items() if k != "pads"}
        same["auto_pad"] = "SAME_UPPER"
        if fw == "torch" and s_i != 1:
            pass  # PyTorch allows padding='same' only with stride 1: the explicit pads below serve
        elif trial.accepts(node, same):
            where = f"{ltype} layer '{lname}'" if fw == "keras" else f"{ltype} '{lname}'"
            add("padding", "same", f"set padding='same' on {where}", "auto_pad=SAME_UPPER", same)
    # the smallest symmetric explicit padding on the failing axis
    if at_failure and node.op_type != "ConvTranspose":
        pads = attrs.get("pads")
        base = list(pads) if isinstance(pads, tuple) and len(pads) == 2 * nsp else [0] * (2 * nsp)
        for p in range(1, MAX_PAD + 1):
            padded = dict(attrs)
            padded.pop("auto_pad", None)
            new = list(base)
            new[i] = base[i] + p
            new[i + nsp] = base[i + nsp] + p
            padded["pads"] = tuple(new)
            if trial.accepts(node, padded):
                total = new[i]
                if fw == "keras":
                    text = f"pad by {p} on each side before '{lname}' (keras.layers.ZeroPadding1D({p}))"
                elif fw == "torch":
                    text = f"set padding={total} on {ltype} '{lname}'"
                else:
                    text = f"set pads to {new} on node {node.name}"
                param = "zero_padding" if fw == "keras" else "padding"
                add(param, total if fw == "torch" else p, text, f"pads={new}", padded)
                break

    # the largest kernel that passes (convs change their weight shape with it)
    def kernel_change(k2: int) -> tuple[dict[str, AttrValue], TensorData | None]:
        kattrs = dict(attrs)
        if "kernel_shape" in kattrs or is_pool:
            kattrs["kernel_shape"] = tuple(_set(tuple(kernel), nsp, i, k2, 1))
        w2 = None
        if weight is not None and not is_pool:
            dims = list(weight.dims)
            dims[2 + i] = k2
            w2 = replace(weight, dims=tuple(dims), values=None)
        return kattrs, w2

    k2 = _largest_passing(k_i - 1, lambda v: trial.accepts(node, *kernel_change(v)))
    if k2 is not None:
        kattrs, w2 = kernel_change(k2)
        param = pname("pool") if is_pool else pname("kernel")
        value: object = k2 if nsp == 1 or one_d else tuple(_set(tuple(kernel), nsp, i, k2, 1))
        add(param, value, f"use {param}={value} (or smaller) in '{lname}'", f"kernel {k_i} -> {k2}", kattrs, w2)
    # the largest dilation, then stride, that passes (a stride before the failure shrinks what reaches it)
    for key, current, values, what in (("dilations", d_i, dils, "dilation"), ("strides", s_i, strides, "stride")):

        def changed(v: int, key: str = key, values: object = values) -> dict[str, AttrValue]:
            return {**attrs, key: tuple(_set(values, nsp, i, v, 1))}

        v2 = _largest_passing(current - 1, lambda v: trial.accepts(node, changed(v)))
        if v2 is not None:
            param = pname(what)
            add(param, v2, f"use {param}={v2} (or smaller) in '{lname}'", f"{what} {current} -> {v2}", changed(v2))
    return fixes


def input_size_fixes(report: Report, sizes: Mapping[str, int]) -> list[Fix]:
    """The sizes to feed instead (the report's own valid sets): for a model with modes or
    control-flow cases, asked of the report whose valid set is the model's."""
    return _input_fixes(report, sizes, _words(report)[0])


def _input_fixes(report: Report, sizes: Mapping[str, int], fw: str) -> list[Fix]:
    out: list[Fix] = []
    keys: dict[str, list[str]] = {}  # each symbol -> the user's keys naming it (its name, an alias, input:axis)
    for key in sizes:
        try:
            keys.setdefault(report.analysis.symbol(key).name, []).append(key)
        except UsageError:
            continue
    for name in report.symbols:
        values = report.valid_set(name)
        if values is None or name not in keys:
            continue
        v = sizes[keys[name][0]]
        if v in values:
            continue
        nxt = values.first_at_least(v)
        if nxt is None:
            below = [x for x in values.elements(1 << 16) if x < v]
            if not below:
                continue
            target = below[-1]
        else:
            target = nxt
        other = {k: x for k, x in sizes.items() if k not in keys[name]}
        other[name] = target
        try:
            ok = report.accepts(other) is True
        except Exception:
            ok = False
        if not ok:
            continue
        how = {"keras": "pad or crop the input sequence", "torch": "pad the input (torch.nn.functional.pad)"}.get(
            fw, "pad the input"
        )
        said = size_advice(values, target, below=nxt is None)
        text = f"feed {name} = {target} ({said}; {how}; valid: {values.describe(name)})"
        out.append(Fix("", "", "", "input_length", target, text, f"{name}={target}"))
    return out


def size_advice(values: IntSet, target: int, below: bool = False) -> str:
    """What is true of a suggested size ``target`` of ``values``: "at least N" only when every size from
    N on is valid ("at most N" when every size up to N is), else the next (or largest smaller) valid
    size; where the set repeats, the rule of its period that always holds ("or any multiple of 32")."""
    if below:
        if (IntSet.interval(1, target) - values).is_empty():
            return f"at most {target}"
        said = "the largest valid size below it"
    else:
        if (IntSet.interval(target) - values).is_empty():
            return f"at least {target}"
        said = "the next valid size"
    rule = _multiples(values)
    if rule is None:
        return said
    p, lo = rule
    every = f"any multiple of {p}" if lo == p else f"any multiple of {p} from {lo} on"
    mine = not below and target % p == 0 and target >= lo
    return f"{said}: {every}" if mine else f"{said}, or {every}"


def _multiples(values: IntSet) -> tuple[int, int] | None:
    """``(P, M)`` when every multiple of the set's period P > 1 from M on is valid: the sizes people pad
    an input to (a detector's stride)."""
    p = values.period
    if p == 1:
        return None
    ivs = values.classes.get(0)
    if not ivs or ivs[-1][1] <= MAXDIM - p:  # no multiple of P, or not every one up to the top
        return None
    return p, ivs[-1][0]

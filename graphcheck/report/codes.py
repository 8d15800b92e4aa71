"""Stable diagnostic codes and their explanations (``graphcheck rule GC001``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    severity: str  # "error": sizes fail; "warning": the answer is incomplete or suspicious; "info"
    summary: str
    explanation: str


_CODES = [
    Code(
        "GC001",
        "negative-dimension",
        "error",
        "A convolution or pooling window does not fit in its (padded) input.",
        "Conv, ConvTranspose and the pools compute their output size as\n"
        "  out = floor((in + pad_begin + pad_end - dilation*(kernel-1) - 1) / stride) + 1\n"
        "(ceil for ceil_mode pools, ceil(in/stride) for SAME padding). When the padded input is\n"
        "shorter than the window span dilation*(kernel-1)+1, out is 0 or negative and the runtime\n"
        "fails (onnxruntime: 'Invalid input shape', TensorFlow: 'Negative dimension size').\n"
        "A stack of such layers silently sets a minimum input size.\n"
        "Fix: pad the input to the minimum size, use SAME padding (Keras padding='same',\n"
        "PyTorch padding='same' or padding=k//2), or reduce kernel size / dilation / stride.",
    ),
    Code(
        "GC002",
        "empty-dimension",
        "error",
        "A size computes to 0 or less: the tensor would be empty or invalid.",
        "Every dimension of every tensor must be at least 1. Slice, Split, Pad with negative pads,\n"
        "Range and similar ops can produce 0-sized tensors for some input sizes; most kernels\n"
        "(onnxruntime's Conv among them) reject empty inputs, and a 0 is rarely intended.\n"
        "Fix: make sure the input is long enough for every slice and crop in the model.",
    ),
    Code(
        "GC003",
        "broadcast-mismatch",
        "error",
        "Two operands of an element-wise op have sizes that do not broadcast.",
        "Element-wise ops (Add, Mul, Where, ...) follow numpy broadcasting: on each axis the sizes\n"
        "must be equal or one of them must be 1. A dynamic size meeting a fixed one (a learned\n"
        "position embedding of length 1500 added to a sequence of length T) pins the size.\n"
        "Fix: make the sizes agree, or slice/pad one operand to the other's size.",
    ),
    Code(
        "GC004",
        "concat-mismatch",
        "error",
        "Concat inputs disagree on a non-concatenated axis.",
        "Concat joins tensors along one axis; every other axis must have equal sizes. U-Net skip\n"
        "connections concatenate an upsampled map with an earlier one: a stride-2 path rounds\n"
        "odd sizes down, so the two only agree when the size is divisible by 2**depth.\n"
        "Fix: feed sizes divisible by the total downsampling factor, or crop/pad before Concat.",
    ),
    Code(
        "GC005",
        "matmul-mismatch",
        "error",
        "The contracted dimensions of MatMul/Gemm/Einsum differ.",
        "A matrix product needs the inner sizes to agree: [.., M, K] x [.., K, N]. After Flatten,\n"
        "a Dense/Linear layer's fixed input features pin the product of the flattened sizes.\n"
        "Fix: give the layer the number of features it expects (global pooling before the head\n"
        "removes the dependence on the input size).",
    ),
    Code(
        "GC006",
        "reshape-mismatch",
        "error",
        "Reshape's target does not have the input's element count (or -1 cannot be inferred).",
        "Reshape keeps the number of elements. With a -1 in the target, the element count must be\n"
        "divisible by the product of the other target sizes. Exporters often bake the example\n"
        "input's size into a constant target, which pins a 'dynamic' axis.\n"
        "Fix: compute the target from the input's Shape (exporters do this when the axis is\n"
        "marked dynamic) or feed the size the model was traced with.",
    ),
    Code(
        "GC007",
        "pinned-dimension",
        "warning",
        "A dimension declared dynamic admits only a few values.",
        "The model declares the axis dynamic, but its conditions admit only a small finite set of\n"
        "sizes: the dynamic axis is a lie. Typical causes: a traced constant Reshape target, a\n"
        "Flatten followed by a fixed-size Dense/Linear, a learned position embedding added to the\n"
        "sequence. The finding names the node that pins it.\n"
        "Fix: declare the axis fixed, or change the pinning layer (global pooling instead of\n"
        "Flatten; slicing the position embedding to the sequence length).",
    ),
    Code(
        "GC008",
        "no-valid-size",
        "error",
        "No input size satisfies every condition: the model can never run.",
        "The conditions collected from the model contradict each other (or a fixed-shape model\n"
        "fails at its declared shape). The finding names the conditions involved.",
    ),
    Code(
        "GC009",
        "index-out-of-range",
        "error",
        "A constant index or count exceeds a dimension (Gather, TopK, Slice).",
        "A constant index i on an axis of dynamic size n needs n > i; TopK's k needs n >= k.\n"
        "Fix: make sure the input is long enough, or make the index depend on the size.",
    ),
    Code(
        "GC010",
        "shape-mismatch",
        "error",
        "An op's inputs disagree (channels vs weights, parameter sizes, split sizes).",
        "Ops such as Conv, BatchNormalization, LSTM or Split require some sizes to be equal or\n"
        "divisible: input channels must match the weights, normalization parameters the\n"
        "normalized axis, split sizes the axis. A model that is malformed for every size lands here.",
    ),
    Code(
        "GC101",
        "unsupported-op",
        "warning",
        "No rule for this op: what depends on its outputs is unknown.",
        "graphcheck has no shape rule for the op (or its domain). Its outputs, and every size\n"
        "computed from them, are unknown; the valid set reported is then only what is proven\n"
        "elsewhere, and no size is claimed valid.",
    ),
    Code(
        "GC102",
        "unknown-value",
        "warning",
        "The analysis could not follow a node (a value or attribute form it cannot know).",
        "A size depends on a tensor's contents that are not constant (a shape computed from data),\n"
        "or on an attribute form not handled. Outputs of the node are unknown.",
    ),
    Code(
        "GC103",
        "control-flow",
        "warning",
        "Control flow (If/Loop/Scan) or sequence values: outputs not analysed.",
        "Subgraph outputs depend on run-time control flow; their sizes are unknown to the analysis.",
    ),
    Code(
        "GC104",
        "data-dependent",
        "info",
        "A size depends on the data (NonZero, Unique, NonMaxSuppression).",
        "The size is a fresh unknown decided at run time; conditions on it cannot be decided\n"
        "from the input sizes alone.",
    ),
    Code(
        "GC105",
        "solver-incomplete",
        "warning",
        "The exact valid set is out of the solver's reach; it is given as conditions.",
        "Some conditions couple several sizes in a way the solver does not put in closed form (or\n"
        "repeat with a very long period). Membership of a given size is still decided exactly;\n"
        "the statement lists the conditions instead of a solved set.",
    ),
    Code(
        "GC106",
        "runtime-deviation",
        "info",
        "onnxruntime deviates from the ONNX spec here: it accepts or rejects other sizes.",
        "graphcheck follows the ONNX spec. Where onnxruntime computes sizes differently, the finding\n"
        "says which sizes onnxruntime will treat differently. Known deviations: its pools truncate a\n"
        "negative numerator toward zero (returning 1, or an empty tensor, where the spec's floor gives\n"
        "an invalid size), treat auto_pad VALID with ceil_mode like zero explicit pads, size SAME\n"
        "padding from the undilated kernel when pooling with dilations, and its Conv rejects\n"
        "dilations with SAME auto_pad altogether.",
    ),
    Code(
        "GC107",
        "exporter-range-mismatch",
        "warning",
        "The range the exporter declared for a size differs from the exact valid set.",
        "torch.export (the dynamo ONNX exporter) records the value range it assumed for each dynamic\n"
        "size (pkg.torch.export.ExportedProgram.range_constraints). It only checks what was declared\n"
        "or guarded while tracing; the finding lists the sizes its range admits that fail, and the\n"
        "sizes that work but it excludes.\n"
        "Fix: declare the dynamic dimension with the valid range (torch.export.Dim(min=..., max=...)),\n"
        "or change the model so every size in the declared range works.",
    ),
    Code(
        "GC108",
        "exporter-specialized",
        "warning",
        "An exporter fixed a size the user asked to be dynamic.",
        "torch.export (the dynamo exporter) specializes a size when tracing the code needs its value:\n"
        "a branch on x.shape, an op without symbolic-size support, a Linear after a Flatten. The front end\n"
        "then tries the next exporter of its chain (Dim.AUTO, the legacy TorchScript exporter) and\n"
        "analyses the axis as the user's symbol all the same; the finding names the exporter, the\n"
        "guard and the source line the framework gave, and says whose graph was analysed. The\n"
        "analysed graph is exact, but the Python code may take another path at other sizes.\n"
        "Fix: remove the dependence on the size in the code named, or declare the size static.",
    ),
    Code(
        "GC109",
        "exporter-fallback",
        "info",
        "The exporter asked for failed; another one produced the analysed graph.",
        "A front end tries its exporters in order (torch: the dynamo exporter, then the legacy\n"
        "TorchScript one); when one fails, the finding gives its one-line reason and names the\n"
        "exporter whose graph was analysed. The two may differ in what they trace as constants.\n"
        "A failure that is the exporter's known route and changes nothing in what is analysed\n"
        "(tf2onnx's from_keras on a Keras 3 Sequential, traced by from_function instead) is said\n"
        "in the report's 'exported by' line instead.\n"
        "Fix: none needed; pass exporter=... to choose one.",
    ),
    Code(
        "GC110",
        "partial-analysis",
        "warning",
        "The analysis is proven for part of the sizes only; for the others it is unknown.",
        "A node whose meaning depends on the sizes in a way graphcheck decides for most sizes but\n"
        "not all (a Reshape target entry that would be -1, switching to inference, only at some\n"
        "sizes; indices known only to lie in a range that fits the table only at some sizes) is\n"
        "followed where it is decided. The valid set stated is proven; the sizes outside the part\n"
        "covered are neither claimed valid nor invalid, and the finding names the node and them.\n"
        "Fix: none needed in the model; check the uncovered sizes in a runtime if they matter.",
    ),
    Code(
        "GC111",
        "runtime-refusal",
        "error",
        "The ONNX spec allows this node, but onnxruntime refuses the model at every input size.",
        "onnxruntime checks some attributes more strictly than the spec and refuses the model (when\n"
        "the session is created, or at every run): Conv with dilations and auto_pad SAME_UPPER or\n"
        "SAME_LOWER ('Dilation not supported for AutoPadType::SAME_UPPER'), MaxPool, AveragePool and\n"
        "LpPool whose pads are not smaller than the kernel ('Pad should be smaller than kernel'),\n"
        "ConvTranspose whose output_padding is not smaller than the stride (the spec asks it to be less\n"
        "than the stride or the dilation). By the spec the sizes the finding's node accepts are the\n"
        "valid set reported; with semantics='ort' (report.ort_accepts) no size is valid. This differs\n"
        "from GC106, a deviation at some sizes only.\n"
        "Fix: use explicit pads instead of auto_pad SAME with dilations; keep pool pads below the\n"
        "kernel (pad the input with a Pad node instead); keep output_padding below the stride.",
    ),
    Code(
        "GC901",
        "internal-error",
        "warning",
        "An op rule raised an unexpected error; its outputs are treated as unknown.",
        "This is a bug in graphcheck. Please report it with the model (or the node) attached.",
    ),
    Code(
        "GC201",
        "required-size-fails",
        "error",
        "The gate: a size the policy requires is not accepted by the model.",
        "`graphcheck gate` checks the sizes a requirement asks for (--require, or require = [...] in\n"
        "graphcheck.toml / [tool.graphcheck]) against the exact valid set. Some required size fails;\n"
        "the result gives the failing part of the requirement, the smallest failing size and the first\n"
        "layer that fails there, with the numbers filled in. Where that layer's condition is one of the\n"
        "GC0xx findings, the result carries that code instead.\n"
        "Fix: change the model (the finding's fix), or narrow the requirement to the sizes you need.",
    ),
    Code(
        "GC202",
        "required-size-unknown",
        "warning",
        "The gate: whether the required sizes are accepted is unknown.",
        "The analysis could not decide the requirement: it stopped at a node it cannot follow\n"
        "(GC101-GC103, GC901), or coupled sizes were asked over an unbounded or very large range.\n"
        "No size is claimed valid on a guess, so the gate neither passes nor fails (exit code 2).\n"
        "Fix: bound the requirement, fix the sizes that make the analysis stop (--dim), or pass\n"
        "--allow-unknown (allow-unknown = true in the policy) to accept the answer as it is.",
    ),
    Code(
        "GC203",
        "model-unreadable",
        "error",
        "The gate: the model file cannot be read or analysed.",
        "The file is missing, empty, truncated, not an ONNX model, or the policy or options given for\n"
        "it are malformed. The result carries the error. The gate fails with exit code 2.",
    ),
]

CODES: dict[str, Code] = {c.code: c for c in _CODES}


def lookup_code(key: str) -> Code | None:
    key = key.strip()
    if key.upper() in CODES:
        return CODES[key.upper()]
    for c in _CODES:
        if c.name == key.lower():
            return c
    return None

"""onnxruntime contrib ops with a CPU kernel that have no rule, each with the reason (shown in its
GC101 note and listed in the README): tests/infer/ops/test_msft_coverage.py keeps this list and the
rules together equal to onnxruntime's CPU kernels of the com.microsoft and com.microsoft.nchwc
domains.

Three kinds of reason. Ops whose output sizes are decided by data, not by sizes (a generation loop
runs until its tokens say stop, a tokenizer's token count depends on the text): no rule can follow
them, and graphcheck says so. And ops not followed yet: none of onnxruntime's tools covered here
(the transformer optimizer, the quantizers, offline optimization, the LLM model builders' common
architectures) emits them; each says what would be needed. And ops the tools emit for GPUs
only, which onnxruntime's CPU build cannot run (listed too, so a CPU user learns why).
"""

from __future__ import annotations

from graphcheck.infer.registry import no_rule

MS = "com.microsoft"

_DATA = "the output sizes depend on data, not on the input sizes: "

no_rule(
    MS,
    _DATA + "a generation loop (its subgraphs run until max_length or end-of-sequence; the output length is the "
    "number of tokens generated)",
    "BeamSearch",
    "GreedySearch",
    "WhisperBeamSearch",
    "Sampling",
)
no_rule(MS, _DATA + "a tokenizer (the number of tokens depends on the text)", "Tokenizer")
no_rule(MS, _DATA + "the warping path's length depends on the cost matrix's values", "DynamicTimeWarping")
no_rule(
    MS,
    _DATA + "speculative decoding (how many predicted tokens are merged depends on the tokens)",
    "BifurcationDetector",
)
no_rule(MS, "a test kernel of onnxruntime's (no model uses it)", "SampleOp")
no_rule(
    MS,
    "a sparse tensor input (graphcheck's tensors are dense; the sparse matrix's shape is not an input size)",
    "SparseToDenseMatMul",
)

_NOT_YET = "no rule yet (not in the tool chains covered; "

no_rule(MS, _NOT_YET + "Qwen2-VL's multimodal rotary embedding; needs its section layout)", "MRotaryEmbedding")
no_rule(
    MS,
    _NOT_YET + "model builders emit them only for mixture-of-experts LLMs; needs the quantized experts' layouts)",
    "QMoE",
    "MoEGroupRouter",
)
no_rule(
    MS,
    _NOT_YET + "blocks of recent state-space and linear-attention LLMs, new in onnxruntime 1.32)",
    "BranchwiseRMSNorm",
    "CausalConvWithState",
    "EngramGate",
    "GatedAdd",
    "GatedDeltaNet",
    "GatedRMSNorm",
    "HyperConnectionPostMix",
    "HyperConnectionPreMix",
    "LinearAttention",
    "LinearAttentionGate",
    "NGramHashMapping",
    "VarlenCausalConvWithState",
    "VarlenNGramHashMapping",
)
no_rule(MS, _NOT_YET + "an embedding of experimental packed-weight formats)", "GatherPacked")
no_rule(MS, _NOT_YET + "the attention LSTM of early seq2seq models)", "AttnLSTM")
no_rule(MS, _NOT_YET + "a ConvTranspose whose pads are an input value)", "ConvTransposeWithDynamicPads")
no_rule(MS, _NOT_YET + "a 4-bit MatMul superseded by MatMulNBits; its B shape is an input value)", "MatMulFpQ4")
no_rule(MS, _NOT_YET + "a character-level word embedding of early text models)", "WordConvEmbedding")

# Ops the tools emit for GPUs only: onnxruntime has no CPU kernel for them, so a CPU session refuses the
# model and no rule could be confirmed against the CPU build (the transformer optimizer writes them
# with use_gpu=True or for diffusion/ViT models; the quantizer's QLinearReduceMean likewise)
NO_CPU_KERNEL = "no CPU kernel in onnxruntime (CUDA/ROCm/DirectML only): a CPU session refuses the model, and "
NO_CPU_KERNEL += "no rule could be confirmed against the CPU build"
no_rule(
    MS,
    NO_CPU_KERNEL,
    "BiasAdd",
    "BiasSplitGelu",
    "BiasSoftmax",
    "BiasDropout",
    "GemmFastGelu",
    "GroupNorm",
    "SkipGroupNorm",
    "NhwcConv",
    "PackedAttention",
    "PackedMultiHeadAttention",
    "RemovePadding",
    "RestorePadding",
    "GatedRelativePositionBias",
    "RelativePositionBias",
    "QLinearReduceMean",
    "QOrderedAttention",
    "QOrderedGelu",
    "QOrderedLayerNormalization",
    "QOrderedMatMul",
    "QuantizeWithOrder",
    "DequantizeWithOrder",
)

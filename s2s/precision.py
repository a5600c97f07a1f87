"""The number format a model translates in: fp32, or bf16 where the hardware multiplies it.

bf16 keeps fp32's exponent range with an 8-bit mantissa. CPUs with AVX512_BF16 or AMX
(Intel Xeons since Cooper Lake and Sapphire Rapids) and CUDA GPUs since Ampere multiply
bf16 matrices natively, several times faster than fp32; elsewhere torch emulates it, more
slowly than fp32. So `auto` picks bf16 only on a CPU that has it. On a GPU it stays fp32:
there the recipes' small products wait on kernel launches, not on arithmetic (bf16
autocast made training slower on an H200, docs/training.md), and bf16 translation on a
GPU has not been measured; `bf16` asks for it.

In bf16 the embeddings, the GRU/LSTM layers, the output layer and every other Linear
layer hold bf16 weights and compute bf16 activations; matrix products accumulate in fp32
inside the kernels. Attention stays fp32 (`s2s.attention` says why), as does an alignment
head (a small part of forced decoding's work), and search turns the output layer's scores
to fp32 before the log-softmax, so that beam scores add up in fp32 (`Seq2Seq.decode_step`).

Training on a CPU with bf16 (`train.bf16`) uses only `has_bf16` from here: the trainer
puts a translation model's output layer in bf16 (`Seq2Seq.output_bf16`).
"""

from __future__ import annotations

import torch
from torch import nn

from s2s.aligner import AlignmentHead
from s2s.attention import Attention
from s2s.errors import UserError

PRECISIONS = ("auto", "fp32", "bf16")


def has_bf16(device: torch.device) -> bool:
    """Whether `device` is a CPU that multiplies bf16 matrices in hardware (AVX512_BF16 or AMX)."""
    if device.type != "cpu":
        return False
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(probe is not None and probe() for probe in probes)


def resolve(precision: str, device: torch.device, quantize: str | None = None) -> str:
    """"fp32" or "bf16" for the `precision` a user asked for ("auto": bf16 on a CPU that has
    it, where the weights are not quantized)."""
    if precision not in PRECISIONS:
        raise UserError(f"--precision: unknown {precision!r} (known: {', '.join(PRECISIONS)})")
    if precision == "auto":
        return "bf16" if quantize is None and has_bf16(device) else "fp32"
    if precision == "bf16" and quantize is not None:
        raise UserError(f"--precision bf16 and --quantize {quantize} exclude each other: choose one")
    return precision


def apply(model: nn.Module, precision: str) -> nn.Module:
    """`model` in the resolved `precision` ("fp32" leaves it as it is); attention and an
    alignment head stay fp32."""
    if precision != "bf16":
        return model
    model = model.to(torch.bfloat16)
    for module in model.modules():
        if isinstance(module, (Attention, AlignmentHead)):
            module.float()
    return model

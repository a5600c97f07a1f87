"""Int8 dynamic quantization for CPU translation.

The GRU and LSTM layers (and cgru's GRU cell; a plain RNN stays fp32) and every Linear
layer get int8 weights; activations are quantized on the fly, per batch. Embeddings stay
fp32. This is torch's eager-mode dynamic quantization (`torch.ao.quantization.quantize_dynamic`): torch marks that module
deprecated in favour of torchao, which has no quantized GRU/LSTM, so s2s keeps it while
the pinned torch release carries it. Its warnings are silenced here; nothing else changes.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from s2s.errors import UserError

QUANTIZE = ("int8",)


def quantize(model: nn.Module, kind: str, device: torch.device) -> nn.Module:
    """A copy of `model` (in eval mode) with int8 weights in its GRU/LSTM and Linear layers."""
    if kind not in QUANTIZE:
        raise UserError(f"--quantize: unknown kind {kind!r} (known: {', '.join(QUANTIZE)})")
    if device.type != "cpu":
        raise UserError(f"--quantize {kind} runs on the CPU only (got --device {device.type})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model.eval(), {nn.Linear, nn.GRU, nn.GRUCell, nn.LSTM}, dtype=torch.qint8,
                                inplace=False)


def quantized_rows(output: nn.Module, ids: torch.Tensor) -> nn.Module:
    """An int8 Linear layer made by `quantize` cut to its output rows `ids` (V',) (for the
    vocabulary shortlist, s2s.shortlist)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

        if not isinstance(output, DynamicLinear):
            raise TypeError(f"expected an nn.Linear or its int8 form, got {type(output).__name__}")
        weight, bias = output.weight(), output.bias()  # qint8 (V, E), fp32 (V,)
        rows = ids.cpu()
        cut = DynamicLinear(weight.size(1), len(rows), dtype=torch.qint8)
        cut.set_weight_bias(weight[rows], None if bias is None else bias[rows])
        return cut

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


class QuantizedRows:
    """An int8 Linear layer made by `quantize`, unpacked once, to cut to some of its output
    rows again and again (for the vocabulary shortlist, s2s.shortlist)."""

    def __init__(self, output: nn.Module):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

            if not isinstance(output, DynamicLinear):
                raise TypeError(f"expected an nn.Linear or its int8 form, got {type(output).__name__}")
            self.weight, self.bias = output.weight(), output.bias()  # qint8 (V, E), fp32 (V,)
        self.reduce_range = output.version is not None and output.version >= 4

    def cut(self, ids: torch.Tensor) -> nn.Module:
        """The layer over the rows `ids` (V',), packed once, computed as the layer does."""
        rows = ids.cpu()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            packed = torch.ops.quantized.linear_prepack(self.weight[rows], None if self.bias is None else self.bias[rows])
        return _PackedRows(packed, self.reduce_range)


class _PackedRows(nn.Module):
    """Packed int8 rows of a Linear layer, applied as torch's dynamic int8 Linear applies its own."""

    def __init__(self, packed, reduce_range: bool):
        super().__init__()
        self.packed, self.reduce_range = packed, reduce_range

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self.packed, reduce_range=self.reduce_range).to(x.dtype)

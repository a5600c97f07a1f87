"""The decoder's one-layer GRU under teacher forcing on a CPU, one step at a time, with
two savings over calling nn.GRU at every step.

With input feeding the decoder's GRU reads [y_t; f_t] at step t, the target embedding
beside the last step's output vector, so it cannot run over the whole target at once.
Called step by step, nn.GRU multiplies the whole input at every step, and autograd sums
each weight's gradient over the steps, one full-size sum (and one small product) per step.
Here instead:

- The embeddings' part of the input product, W_iy y_t + b_i, is one product over all
  steps before the loop; only the output vector's part, W_if f_t, stays in it.
- Each step is one autograd node whose backward is the GRU's equations (as torch.nn.GRU
  states them) written out. It keeps the rows that the weight gradients need and hands
  them to the batch's `_Weights` node, which autograd runs after every step's backward:
  that node forms dW_if, dW_hh and db_h as one product over all steps' rows at once.

`python bench/recurrence.py` trains the reference model with train.bf16 and the sampled
softmax both ways in turn: 7,942 and 7,732 pieces/s by hand against 7,338 and 7,235 with
nn.GRU, 1.07-1.08x (docs/performance.md). The parameters are nn.GRU's own (weight_ih_l0
split by columns), so checkpoints, search (which calls nn.GRU) and every other path are
unchanged; outputs and gradients equal nn.GRU's up to float rounding
(tests/test_recurrence.py). On a GPU the decoder keeps calling nn.GRU, whose cuDNN step
has not been measured against this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F


@dataclass
class _Rows:
    """What the steps' backward passes leave for the weight gradients: per step, the gate
    gradients (n, 3H) beside the inputs they multiply (n, H)."""

    input_grads: list[torch.Tensor] = field(default_factory=list)  # d(W_if f + W_iy y + b_i)
    feeds: list[torch.Tensor] = field(default_factory=list)  # f
    hidden_grads: list[torch.Tensor] = field(default_factory=list)  # d(W_hh h + b_h)
    hiddens: list[torch.Tensor] = field(default_factory=list)  # h


class _Weights(torch.autograd.Function):
    """Stands for W_if, W_hh and b_h in the graph: its output, an empty token that every step
    takes, makes autograd run its backward after all the steps', once for the batch."""

    @staticmethod
    def forward(ctx, w_feed: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor, rows: _Rows) -> torch.Tensor:
        ctx.rows = rows
        return w_feed.new_zeros(())

    @staticmethod
    @once_differentiable
    def backward(ctx, _token_grad: torch.Tensor):
        rows = ctx.rows
        input_grads, hidden_grads = torch.cat(rows.input_grads), torch.cat(rows.hidden_grads)  # (N, 3H)
        return (input_grads.t() @ torch.cat(rows.feeds), hidden_grads.t() @ torch.cat(rows.hiddens),
                hidden_grads.sum(0), None)


class _Step(torch.autograd.Function):
    """h' = GRU(h, x) with W_iy y + b_i given: r, z = sigmoid(.), n = tanh(i_n + r * (W_hn h + b_hn)),
    h' = (1 - z) * n + z * h."""

    @staticmethod
    def forward(ctx, given: torch.Tensor, feed: torch.Tensor, hidden: torch.Tensor, token: torch.Tensor,
                w_feed: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor, rows: _Rows) -> torch.Tensor:
        # given: (n, 3H) = W_iy y + b_i; feed, hidden: (n, H); the weights detached
        size = hidden.size(1)
        gates_i = torch.addmm(given, feed, w_feed.t())  # (n, 3H)
        gates_h = torch.addmm(b_hh, hidden, w_hh.t())  # (n, 3H)
        reset_update = gates_i[:, :2 * size].add_(gates_h[:, :2 * size]).sigmoid_()  # (n, 2H): r, z
        hidden_n = gates_h[:, 2 * size:]  # (n, H) W_hn h + b_hn
        new = gates_i[:, 2 * size:].addcmul_(reset_update[:, :size], hidden_n).tanh_()  # (n, H)
        ctx.save_for_backward(feed, hidden, reset_update, new, hidden_n, w_feed, w_hh)
        ctx.rows = rows
        return torch.addcmul(new, reset_update[:, size:], hidden - new)  # (n, H)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        feed, hidden, reset_update, new, hidden_n, w_feed, w_hh = ctx.saved_tensors
        size = hidden.size(1)
        reset, update = reset_update[:, :size], reset_update[:, size:]
        grad_n = grad * (1 - update) * (1 - new * new)  # through tanh, (n, H)
        grad_reset_update = torch.cat([grad_n * hidden_n, grad * (hidden - new)], 1)
        grad_reset_update = grad_reset_update * reset_update * (1 - reset_update)  # through sigmoid, (n, 2H)
        grad_i = torch.cat([grad_reset_update, grad_n], 1)  # (n, 3H)
        grad_h = torch.cat([grad_reset_update, grad_n * reset], 1)  # (n, 3H)
        rows = ctx.rows  # detached: a tensor with a grad_fn here would make a cycle through the graph
        rows.input_grads.append(grad_i)
        rows.feeds.append(feed.detach())
        rows.hidden_grads.append(grad_h)
        rows.hiddens.append(hidden.detach())
        grad_hidden = torch.addmm(grad * update, grad_h, w_hh)  # (n, H)
        return grad_i, grad_i @ w_feed, grad_hidden, grad.new_zeros(()), None, None, None, None


def applies(rnn: nn.Module, device: torch.device) -> bool:
    """Whether `GRURecurrence` stands in for `rnn` on `device`: a one-layer GRU in fp32 on a
    CPU (training's case; a bf16 model for translation keeps nn.GRU, so that forcing a
    translation scores it as search did, to the last bit)."""
    return (type(rnn) is nn.GRU and rnn.num_layers == 1 and not rnn.bidirectional and device.type == "cpu"
            and rnn.weight_hh_l0.dtype == torch.float32)


class GRURecurrence:
    """A one-layer nn.GRU stepped over a batch's target under teacher forcing, its input at
    step t the embedding y_t (given for all steps at once) beside a feed f_t (given at the step)."""

    def __init__(self, rnn: nn.GRU, embedded: torch.Tensor):
        # embedded: (B, T, E), the GRU's input is [y; f] (E + H)
        size = embedded.size(-1)
        w_ih = rnn.weight_ih_l0  # (3H, E + H)
        self.given = F.linear(embedded.transpose(0, 1), w_ih[:, :size], rnn.bias_ih_l0).unbind(0)  # T x (B, 3H)
        self.rows = _Rows()
        w_feed = w_ih[:, size:]  # (3H, H)
        self.token = _Weights.apply(w_feed, rnn.weight_hh_l0, rnn.bias_hh_l0, self.rows)
        self.weights = (w_feed.detach(), rnn.weight_hh_l0.detach(), rnn.bias_hh_l0.detach())

    def step(self, t: int, feed: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """The state (n, H) after step t for the batch's first n rows, from their feed and
        state (n, H)."""
        given = self.given[t][:hidden.size(0)]  # (n, 3H)
        return _Step.apply(given, feed, hidden, self.token, *self.weights, self.rows)

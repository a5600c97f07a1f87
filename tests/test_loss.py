"""The training loss: over the whole vocabulary, or over the batch's target pieces."""

import torch
import torch.nn.functional as F

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
from s2s.data import collate
from s2s.loss import batch_loss
from s2s.model import Seq2Seq
from s2s.tokenizer import PAD

V = 40
SRC = [[4, 5, 6, 3], [7, 3], [8, 8, 5, 6, 7, 3]]
TGT = [[9, 10, 11], [12], [9, 13, 14, 9]]


def small_model(tied: bool = False) -> Seq2Seq:
    torch.manual_seed(5)
    config = ModelConfig(embed_dim=8, dropout=0.0, tie_embeddings=tied, encoder=EncoderConfig(hidden_size=8),
                         decoder=DecoderConfig(hidden_size=12))
    return Seq2Seq.from_config(config, V, V)


def test_the_batch_vocabulary_loss_is_the_softmax_over_the_batchs_target_pieces():
    model, batch = small_model(), collate(SRC, TGT)
    targets = batch.tgt_out[batch.tgt_out != PAD]
    full, _, n = batch_loss(model, batch, 0.0)
    cut, _, m = batch_loss(model, batch, 0.0, batch_vocabulary=True)
    assert n == m == targets.numel()
    logits, _ = model(batch.src, batch.src_len, batch.tgt_in, batch.tgt_out)  # (N, V)
    kept = targets.unique()  # EOS and the pieces of TGT
    assert kept.tolist() == sorted({3, *[t for s in TGT for t in s]})
    expected = F.cross_entropy(logits[:, kept], torch.searchsorted(kept, targets), reduction="sum")
    torch.testing.assert_close(cut, expected)
    assert cut < full  # fewer pieces to share the probability with
    smoothed, _, _ = batch_loss(model, batch, 0.1, batch_vocabulary=True)
    uniform = -torch.log_softmax(logits[:, kept], dim=-1).mean(dim=-1).sum()  # smoothing over the kept pieces
    torch.testing.assert_close(smoothed, 0.9 * expected + 0.1 * uniform)


def test_only_the_batchs_rows_of_the_output_layer_learn_from_it():
    for tied in (False, True):
        model, batch = small_model(tied), collate(SRC, TGT)
        batch_loss(model, batch, 0.1, batch_vocabulary=True)[0].backward()
        grad = model.output.weight.grad.abs().sum(dim=1)  # (V,)
        touched = set(grad.nonzero().squeeze(1).tolist())
        inputs = set(batch.tgt_in.unique().tolist()) - {PAD} if tied else set()  # tied: the embeddings' rows too
        assert touched == {3, *[t for s in TGT for t in s]} | inputs

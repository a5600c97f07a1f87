"""The CUDA path: search and one training step on the GPU (skipped without one)."""

import pytest
import torch

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
from s2s.data import collate, source_batch
from s2s.model import Seq2Seq
from s2s.search import greedy
from s2s.tokenizer import PAD

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to torch")

SRC = [[4, 5, 6, 3], [7, 3], [8, 8, 5, 6, 7, 3]]
TGT = [[5, 6], [7], [8, 5, 6]]


def model(device):
    torch.manual_seed(0)
    config = ModelConfig(embed_dim=16, dropout=0.0, encoder=EncoderConfig(cell="lstm", hidden_size=8),
                         decoder=DecoderConfig(cell="lstm", hidden_size=16))
    return Seq2Seq.from_config(config, 11, 11).to(device).eval()


def test_greedy_on_cuda_matches_cpu():
    src, src_len = source_batch(SRC)
    on_cpu = greedy(model("cpu"), src, src_len)
    on_gpu = greedy(model("cuda"), src.cuda(), src_len)
    assert [h.tokens for h in on_gpu] == [h.tokens for h in on_cpu]
    for a, b in zip(on_cpu, on_gpu):
        assert abs(a.score - b.score) < 1e-3


def test_a_training_step_on_cuda():
    m = model("cuda").train()
    batch = collate(SRC, TGT).to(torch.device("cuda"))
    logits, _ = m(batch.src, batch.src_len, batch.tgt_in)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), batch.tgt_out.reshape(-1), ignore_index=0)
    loss.backward()
    assert all(p.grad is not None and p.grad.is_cuda for p in m.parameters() if p.requires_grad)


def test_training_on_cuda_with_bf16_autocast(demo_corpus, tmp_path):
    from s2s import checkpoint
    from s2s.run import train
    from tests.conftest import tiny_config
    progress = train(tiny_config(demo_corpus, max_steps=10, bf16=True), tmp_path / "run", device=torch.device("cuda"))
    assert progress.step == 10 and progress.skipped_steps == 0
    weights = checkpoint.load(tmp_path / "run" / "last.pt")["model"]
    assert all(w.dtype == torch.float32 and bool(torch.isfinite(w).all()) for w in weights.values())


@pytest.mark.parametrize("variant", [dict(attention="general", local_window=2), dict(coverage=True),
                                     dict(attention="none", input_feeding=False, context="transformed_mean")])
def test_decoder_variants_step_by_step_equal_teacher_forced_on_cuda(variant):
    torch.manual_seed(0)
    config = ModelConfig(embed_dim=16, dropout=0.0, encoder=EncoderConfig(hidden_size=8),
                         decoder=DecoderConfig(hidden_size=16, **variant))
    m = Seq2Seq.from_config(config, 11, 11).cuda().eval()
    batch = collate(SRC, TGT).to(torch.device("cuda"))
    logits, weights = m(batch.src, batch.src_len, batch.tgt_in)
    memory, state = m.encode(batch.src, batch.src_len)
    for t in range(batch.tgt_in.size(1)):
        log_probs, w, state = m.decode_step(batch.tgt_in[:, t], memory, state)
        real = batch.tgt_in[:, t] != PAD  # teacher forcing skips the steps after a target's end
        torch.testing.assert_close(log_probs[real], torch.log_softmax(logits[real, t], -1), atol=1e-4, rtol=1e-3)
        torch.testing.assert_close(w[real], weights[real, t], atol=1e-4, rtol=1e-3)


def test_guided_alignment_training_with_bf16_on_cuda(demo_corpus, tmp_path):
    from s2s.run import train
    from tests.conftest import tiny_config
    progress = train(tiny_config(demo_corpus, max_steps=10, guided_alignment=1.0, lr_schedule="cosine",
                                 bf16=True),
                     tmp_path / "run", device=torch.device("cuda"))
    assert progress.step == 10 and progress.skipped_steps == 0


def test_a_run_with_a_moving_average_resumes_on_cuda(demo_corpus, tmp_path):
    from s2s import checkpoint
    from s2s.run import train
    from tests.conftest import tiny_config
    cuda = torch.device("cuda")
    train(tiny_config(demo_corpus, max_steps=20, ema_decay=0.9), tmp_path / "straight", device=cuda)
    train(tiny_config(demo_corpus, max_steps=10, ema_decay=0.9), tmp_path / "split", device=cuda)
    train(tiny_config(demo_corpus, max_steps=20, ema_decay=0.9), tmp_path / "split", resume=True, device=cuda)
    a, b = (checkpoint.load(tmp_path / run / "last.pt")["model"] for run in ("straight", "split"))
    for k in a:  # cuDNN's kernels need not add in the same order twice
        torch.testing.assert_close(a[k], b[k], atol=1e-4, rtol=1e-3)

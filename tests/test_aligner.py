"""The alignment head: its weights, its loss, that it leaves translation alone, and that it
learns the links it is trained towards."""

from dataclasses import replace

import pytest
import torch

from s2s.aligner import AlignmentHead, head_loss
from s2s.alignment import error_rate, Gold, links
from s2s.config import Config, DataConfig, DecoderConfig, EncoderConfig, ModelConfig, TrainConfig
from s2s.errors import UserError
from s2s.model import Seq2Seq
from s2s.run import train
from s2s.tokenizer import EOS, PAD
from tests.conftest import aligned_demo, tiny_config

MODEL = ModelConfig(embed_dim=8, dropout=0.0, encoder=EncoderConfig(hidden_size=6),
                    decoder=DecoderConfig(hidden_size=10), alignment_head=12)


def batch():
    src = torch.tensor([[5, 6, 7, EOS], [8, EOS, PAD, PAD]])  # (B, S)
    tgt_out = torch.tensor([[9, 10, EOS], [11, EOS, PAD]])  # (B, T)
    tgt_in = torch.tensor([[1, 9, 10], [1, 11, PAD]])  # BOS first
    return src, torch.tensor([4, 2]), tgt_in, tgt_out


def test_the_heads_weights_cover_the_real_source_positions_only():
    torch.manual_seed(0)
    model = Seq2Seq.from_config(MODEL, 20, 20).eval()
    src, src_len, tgt_in, tgt_out = batch()
    logits, weights = model(src, src_len, tgt_in, tgt_out)
    assert logits.shape == (5, 20) and weights.shape == (2, 3, 4)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3))
    assert weights[1, :, 2:].abs().sum() == 0  # padding
    _, attention = model(src, src_len, tgt_in)  # without the targets: the translation attention
    assert not torch.allclose(attention, weights)


def test_the_head_changes_nothing_in_translation():
    """Its loss reaches only its own weights, and the other weights start as without it."""
    torch.manual_seed(0)
    plain = Seq2Seq.from_config(replace(MODEL, alignment_head=0), 20, 20)
    torch.manual_seed(0)
    model = Seq2Seq.from_config(MODEL, 20, 20)
    head = {name for name, _ in model.named_parameters() if name.startswith("aligner.")}
    assert head and {name for name, _ in plain.named_parameters()} == {n for n, _ in model.named_parameters()} - head
    for name, p in plain.named_parameters():
        assert torch.equal(p, dict(model.named_parameters())[name]), name
    src, src_len, tgt_in, tgt_out = batch()
    _, weights = model(src, src_len, tgt_in, tgt_out)
    head_loss(weights, torch.tensor([[2, -1, -1], [0, -1, -1]]), tgt_out, src_len).backward()
    for name, p in model.named_parameters():
        touched = p.grad is not None and bool(p.grad.abs().sum() > 0)
        assert touched == (name in head), name


def test_head_loss_by_hand_unaligned_pieces_go_to_the_source_eos():
    weights = torch.tensor([[[0.1, 0.2, 0.3, 0.4], [0.5, 0.1, 0.1, 0.3], [0.25] * 4],
                            [[0.6, 0.4, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0], [0.25] * 4]])  # (B, T, S)
    _, src_len, _, tgt_out = batch()
    alignment = torch.tensor([[2, -1, -1], [-1, -1, -1]])
    # row 0: piece 0 on position 2 (0.3), piece 1 unaligned -> EOS at 3 (0.3), EOS target left out;
    # row 1: piece 0 unaligned -> EOS at 1 (0.4), then EOS and padding left out
    expected = -(torch.log(torch.tensor(0.3)) * 2 + torch.log(torch.tensor(0.4)))
    assert torch.isclose(head_loss(weights, alignment, tgt_out, src_len), expected)


def test_the_head_reads_the_attention_only_where_the_model_has_it():
    head = AlignmentHead(src_vocab_size=9, tgt_vocab_size=7, memory_size=4, hidden_size=3, embed_dim=2, size=5,
                         attention=False)
    assert head.prior is None
    w = head(src=torch.tensor([[5, 8, EOS]]), tgt=torch.tensor([[6, EOS]]), values=torch.randn(1, 3, 4),
             mask=torch.tensor([[True, True, False]]), vectors=torch.randn(1, 2, 3), attention=None,
             src_embedded=torch.randn(1, 3, 2), tgt_embedded=torch.randn(1, 2, 2))
    assert w.shape == (1, 2, 3) and w[0, :, 2].abs().sum() == 0


def test_with_null_a_word_weighing_the_source_eos_most_gets_no_link():
    weights = torch.tensor([[0.7, 0.1, 0.2], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4]])  # (T, S): 2 words + EOS
    assert links(weights, [0, 1], [0, 1, 1]) == [(0, 0), (1, 1)]
    # word 1: its pieces average 0.15 / 0.25 / 0.55 on EOS: no link
    assert links(weights, [0, 1], [0, 1, 1], null=True) == [(0, 0)]


def test_config_errors_name_the_key(demo_corpus):
    config = tiny_config(demo_corpus)
    with pytest.raises(UserError, match="model.alignment_head.*train.guided_alignment"):
        replace(config, model=replace(config.model, alignment_head=16))
    with pytest.raises(UserError, match="model.alignment_head"):
        replace(config.model, alignment_head=-1)
    with pytest.raises(UserError, match="model.alignment_head.*translate only"):
        Config(data=DataConfig(train="x", valid="y", format="tsv"), task="classify",
               model=ModelConfig(alignment_head=8))
    # without attention the head is what guided alignment trains
    Config(data=config.data, train=replace(TrainConfig(), guided_alignment=1.0),
           model=ModelConfig(decoder=DecoderConfig(attention="none", input_feeding=False), alignment_head=8))


def test_a_translation_is_aligned_by_the_head_as_its_forced_decoding_is(demo_corpus, tmp_path):
    """Guided by IBM Model 1 (no links file), a head model trains; --alignments of its own
    translations force them once more, so they equal `s2s align` of the same pairs."""
    from s2s.translator import Translator
    from s2s.text import read_lines

    config = tiny_config(demo_corpus, max_steps=10, guided_alignment=1.0)
    train(replace(config, model=replace(config.model, alignment_head=16)), tmp_path / "run")
    translator = Translator.load(tmp_path / "run" / "last.pt", device="cpu")
    lines = list(read_lines(demo_corpus / "valid.src"))[:5] + [""]
    best = [found[0] for found in translator.nbest(lines, 1)]
    forced = translator.force_all(lines, [t.text for t in best])
    assert [translator.alignment(t) for t in best] == [translator.alignment(t) for t in forced]
    assert translator.alignment(best[-1]) == []
    for line, t in zip(lines, best):
        assert all(i < len(line.split()) and j < len(t.text.split()) for i, j in translator.alignment(t))


def test_the_head_learns_the_links_it_is_trained_towards(tmp_path):
    """Trained on the demo corpus's own word links, the head's word links come far closer
    to them than the attention of the same model trained without it; and the translation
    weights trained with the head are those trained without it, to the bit."""
    from s2s.translator import Translator

    triples = aligned_demo(tmp_path)
    aer = {}
    for head in (0, 32):
        config = tiny_config(tmp_path, max_steps=60, guided_alignment=float(bool(head)), lr=0.01)
        config = replace(config, model=replace(config.model, alignment_head=head),
                         data=replace(config.data, train_alignments=str(tmp_path / "train.align") if head else ""))
        train(config, tmp_path / f"run{head}")
        translator = Translator.load(tmp_path / f"run{head}" / "last.pt", device="cpu")
        held = triples[-100:]
        found = [set(translator.alignment(t)) for t in translator.force_all([s for s, _, _ in held],
                                                                            [t for _, t, _ in held])]
        gold = [Gold(frozenset(g), frozenset(g)) for _, _, g in held]
        aer[head] = error_rate(found, gold).aer
    assert aer[32] < 0.5 * aer[0], aer
    plain, headed = (torch.load(tmp_path / f"run{head}" / "last.pt", weights_only=False)["model"] for head in (0, 32))
    assert set(headed) - set(plain) and all(k.startswith("aligner.") for k in set(headed) - set(plain))
    for name, value in plain.items():
        assert torch.equal(value, headed[name]), name

"""Classifiers and taggers: padding never changes a sentence's labels, every word gets
exactly one label from its first piece, and a tiny model learns a handful of examples."""

import random

import pytest
import torch

from s2s.config import POOLINGS, EncoderConfig, ModelConfig
from s2s.labeled import collate, encode_inputs, encode_words
from s2s.labeler import Classifier, Tagger, last_pieces
from s2s.tokenizer import EOS, UNK

CELLS = ["rnn", "gru", "lstm"]


def config(cell="gru", pooling="last", layers=1, bidirectional=True, head_size=0, word_pieces="first"):
    return ModelConfig(embed_dim=12, dropout=0.0, pooling=pooling, head_size=head_size, word_pieces=word_pieces,
                       encoder=EncoderConfig(cell=cell, hidden_size=10, num_layers=layers,
                                             bidirectional=bidirectional))


def sentences(n=5, vocab=30, seed=0):
    rng = random.Random(seed)
    return [[rng.randrange(4, vocab) for _ in range(rng.randint(1, 9))] + [EOS] for _ in range(n)]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_a_classifiers_logits_do_not_depend_on_padding(cell, pooling):
    torch.manual_seed(0)
    model = Classifier(config(cell, pooling, layers=2), vocab_size=30, num_labels=3).eval()
    src = sentences()
    batch = collate(src, [[0]] * len(src), None)
    together = model(batch.src, batch.src_len)  # (B, L)
    for i, s in enumerate(src):
        alone = collate([s], [[0]], None)
        torch.testing.assert_close(model(alone.src, alone.src_len)[0], together[i], atol=1e-5, rtol=1e-4)


def assert_each_sentence_alone_gets_its_rows(model, src, first, together):
    """Tagged alone, each sentence gets the rows the whole padded batch gave its words."""
    start = 0
    for s, f in zip(src, first):
        alone = collate([s], [[0] * len(f)], [f])
        torch.testing.assert_close(model(alone.src, alone.src_len, alone.first),
                                   together[start:start + len(f)], atol=1e-5, rtol=1e-4)
        start += len(f)


@pytest.mark.parametrize("cell", CELLS)
def test_a_taggers_labels_do_not_depend_on_padding_and_come_from_first_pieces(cell):
    torch.manual_seed(0)
    model = Tagger(config(cell, head_size=7), vocab_size=30, num_labels=4).eval()
    src = sentences(4)
    first = [list(range(0, len(s) - 1, 2)) for s in src]  # every other piece starts a word
    batch = collate(src, [[0] * len(f) for f in first], first)
    together = model(batch.src, batch.src_len, batch.first)  # (N, L)
    assert together.shape == (sum(map(len, first)), 4)
    memory, _ = model.encoder(batch.src, batch.src_len)
    rows = torch.stack([memory[b, p] for b, f in enumerate(first) for p in f])
    torch.testing.assert_close(model.output(rows), together)
    assert_each_sentence_alone_gets_its_rows(model, src, first, together)


def test_mean_max_and_attention_pooling_read_real_positions_only():
    torch.manual_seed(0)
    model = Classifier(config(pooling="mean"), vocab_size=30, num_labels=2).eval()
    src = sentences(3)
    batch = collate(src, [[0]] * 3, None)
    memory, final = model.encoder(batch.src, batch.src_len)
    mask = batch.src != 0
    mean = model.pooling(memory, final, mask)
    for i, n in enumerate(batch.src_len.tolist()):
        torch.testing.assert_close(mean[i], memory[i, :n].mean(0))
    assert not mask.all()  # the sentences differ in length, so there is padding to ignore
    high_padding = torch.where(mask.unsqueeze(-1), memory, torch.full_like(memory, 100.0))  # above every state
    largest = Classifier(config(pooling="max"), vocab_size=30, num_labels=2).pooling(high_padding, final, mask)
    for i, n in enumerate(batch.src_len.tolist()):
        torch.testing.assert_close(largest[i], memory[i, :n].amax(0))
    attention = Classifier(config(pooling="attention"), vocab_size=30, num_labels=2).pooling
    pooled = attention(memory, final, mask)
    assert torch.isfinite(pooled).all() and pooled.shape == final.shape


def test_every_word_gets_one_first_piece_even_unseen_and_split_ones(tokenizer):
    words = ["The", "zqxjvw", "Ünïcødé", "dogs", "!", "qqqqqqqqqqqqqqqqqqqqqqqqqq"]
    pieces, first = encode_words(tokenizer, words)
    assert len(first) == len(words) and pieces[-1] == EOS
    assert first[0] == 0 and all(a < b for a, b in zip(first, first[1:])) and first[-1] < len(pieces) - 1
    ends = first[1:] + [len(pieces) - 1]
    for word, start, end in zip(words, first, ends):  # each word's pieces are its own encoding, in order
        assert pieces[start:end] == (tokenizer.encode_src([word])[0] or [UNK])
    src, firsts = encode_inputs("tag", tokenizer, [words, ["a"], []])
    assert [len(f) for f in firsts] == [6, 1, 0] and src[2] == [EOS]


def test_a_words_last_piece_is_the_one_before_the_next_word_or_before_eos():
    # sentence 0: words at pieces [0, 1], [2], [3, 4], EOS at 5; sentence 1: one word [0, 1], EOS at 2
    first = torch.tensor([[0, 2, 3], [0, -1, -1]])
    assert last_pieces(first, torch.tensor([6, 3])).tolist() == [[1, 2, 4], [1, 0, 0]]


@pytest.mark.parametrize("cell", CELLS)
def test_first_last_tagging_reads_both_ends_of_each_word_and_ignores_padding(cell):
    torch.manual_seed(0)
    model = Tagger(config(cell, word_pieces="first_last"), vocab_size=30, num_labels=4).eval()
    src = sentences(4)
    first = [list(range(0, len(s) - 1, 3)) for s in src]  # words of up to 3 pieces; the last may be shorter
    batch = collate(src, [[0] * len(f) for f in first], first)
    together = model(batch.src, batch.src_len, batch.first)  # (N, L)
    memory, _ = model.encoder(batch.src, batch.src_len)
    # a word starting at p ends at p + 2, or at the piece before EOS if that comes first
    rows = torch.stack([torch.cat([memory[b, p], memory[b, min(p + 2, len(s) - 2)]])
                        for b, (s, f) in enumerate(zip(src, first)) for p in f])
    torch.testing.assert_close(model.output(rows), together)
    assert_each_sentence_alone_gets_its_rows(model, src, first, together)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("kind", ["classify", "tag", "tag_first_last"])
def test_a_tiny_model_learns_a_handful_of_examples(cell, kind):
    torch.manual_seed(1)
    src = sentences(8, seed=3)
    if kind == "classify":
        labels = [[i % 3] for i in range(8)]
        model, first = Classifier(config(cell, "attention"), 30, 3), None
    else:
        first = [list(range(len(s) - 1)) for s in src]
        labels = [[(p * 7 + i) % 4 for p in f] for i, (s, f) in enumerate(zip(src, first))]  # position-dependent
        model = Tagger(config(cell, word_pieces="first_last" if kind == "tag_first_last" else "first"), 30, 4)
    batch = collate(src, labels, first)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(300):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(batch.src, batch.src_len, batch.first), batch.labels)
        loss.backward()
        optimizer.step()
    model.eval()
    assert (model(batch.src, batch.src_len, batch.first).argmax(-1) == batch.labels).all()

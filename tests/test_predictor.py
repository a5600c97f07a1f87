"""Predictor ensembles: the members' label probabilities averaged, whatever the order of
their labels or their tokenizers; members that do not fit together refused by name."""

import copy

import pytest
import torch

from s2s import checkpoint
from s2s.config import Config, DataConfig, EncoderConfig, ModelConfig, TokenizerConfig
from s2s.errors import UserError
from s2s.labeler import LABELERS
from s2s.labels import LabelSet
from s2s.predictor import Predictor
from s2s.tokenizer import Tokenizer

LABELS = ["NEG", "NEU", "POS"]
LINES = ["the cat sees a dog", "", "a red bird", "big small red cat chases the child", "dog"]


def member(task, tokenizer, seed):
    """An untrained labeler (its outputs are arbitrary but fixed) and its config."""
    config = Config(task=task, data=DataConfig(train="t", valid="v"), tokenizer=TokenizerConfig(vocab_size=120),
                    model=ModelConfig(embed_dim=16, dropout=0.0, pooling="mean", encoder=EncoderConfig(hidden_size=16)))
    torch.manual_seed(seed)
    return LABELERS[task](config.model, tokenizer.src_vocab_size, len(LABELS)), config


def permuted(model, labels):
    """The same model with its outputs in the order of `labels` (rows of the last layer moved)."""
    other = copy.deepcopy(model)
    order = [LABELS.index(label) for label in labels]
    last = other.output[-1]
    with torch.no_grad():
        last.weight.copy_(model.output[-1].weight[order])
        last.bias.copy_(model.output[-1].bias[order])
    return other


def by_hand(predictor, members, lines):
    """Each line's (or word's) label from the summed softmax of each member, in LABELS order."""
    out = []
    for line in predictor.inputs(lines):
        if not line:
            out.append("")
            continue
        total = 0
        for model, tokenizer, labels in members:
            probs = Predictor(model, tokenizer, labels, predictor.config, torch.device("cpu"))._probabilities(
                model, tokenizer, [line])[0]
            total = total + probs[:, [labels.index[label] for label in LABELS]]
        out.append(" ".join(LABELS[y] for y in total.argmax(-1).tolist()))
    return out


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_an_ensemble_averages_its_members_probabilities(task, tokenizer, demo_corpus):
    from s2s.text import read_lines
    other_tokenizer = Tokenizer.train(TokenizerConfig(vocab_size=80), read_lines(demo_corpus / "train.src"), None)
    (a, config), (b, _) = member(task, tokenizer, 1), member(task, other_tokenizer, 2)
    labels = LabelSet(LABELS)
    alone = Predictor(a, tokenizer, labels, config, torch.device("cpu"))
    # the same model twice, once with its labels in another order, labels as it alone does
    reordered = LabelSet(["POS", "NEG", "NEU"])
    twice = Predictor(a, tokenizer, labels, config, torch.device("cpu"),
                      more=[(permuted(a, reordered.labels), tokenizer, reordered)])
    assert twice.predict(twice.inputs(LINES)) == alone.predict(alone.inputs(LINES))
    # two different members, the second with its own tokenizer and label order
    members = [(a, tokenizer, labels), (permuted(b, reordered.labels), other_tokenizer, reordered)]
    pair = Predictor(a, tokenizer, labels, config, torch.device("cpu"), more=members[1:])
    out = pair.predict(pair.inputs(LINES))
    assert out == by_hand(pair, members, LINES)
    words = [len(line.split()) for line in LINES] if task == "tag" else [1 if line else 0 for line in LINES]
    assert [len(o.split()) for o in out] == words


def test_loading_an_ensemble_refuses_members_that_do_not_fit(tokenizer, tmp_path):
    def save(name, task, labels):
        model, config = member(task, tokenizer, 1)
        checkpoint.save(tmp_path / f"{name}.pt", {"config": config.to_dict(), "tokenizer": tokenizer.state(),
                                                  "model": model.state_dict(), "labels": labels})
        return tmp_path / f"{name}.pt"
    a, b = save("a", "classify", LABELS), save("b", "classify", ["NEU", "POS", "NEG"])
    both = Predictor.load([a, b], torch.device("cpu"))
    assert len(both.members) == 2 and both.labels.labels == LABELS
    with pytest.raises(UserError, match=r"c.pt has other labels than .*a.pt.*\(MIXED NEG in only one"):
        Predictor.load([a, save("c", "classify", ["MIXED", "NEU", "POS"])], torch.device("cpu"))
    with pytest.raises(UserError, match=r"d.pt is a tag model and .*a.pt a classify model"):
        Predictor.load([a, save("d", "tag", LABELS)], torch.device("cpu"))

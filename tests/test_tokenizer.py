import pytest

from s2s.config import TokenizerConfig
from s2s.errors import UserError
from s2s.tokenizer import BOS, EOS, PAD, UNK, Tokenizer

LINES = ["the small dog sees a cat", "some cats see the dogs", "a bird holds the red flower"] * 30


def test_special_ids_are_fixed(tokenizer):
    assert (tokenizer.src.pad_id(), tokenizer.src.unk_id(), tokenizer.src.bos_id(),
            tokenizer.src.eos_id()) == (PAD, UNK, BOS, EOS)


def test_raw_text_round_trips(tokenizer, demo_corpus):
    lines = (demo_corpus / "valid.tgt").read_text().splitlines()[:20]
    assert tokenizer.decode_tgt(tokenizer.encode_tgt(lines)) == lines


def test_joint_and_separate_models():
    joint = Tokenizer.train(TokenizerConfig(vocab_size=24), LINES, LINES)
    assert joint.joint and joint.src is joint.tgt
    separate = Tokenizer.train(TokenizerConfig(vocab_size=24, joint=False, type="bpe"), LINES, LINES)
    assert not separate.joint and separate.src is not separate.tgt
    assert separate.tgt_vocab_size == 24


def test_state_restores_the_same_segmentation(tokenizer):
    again = Tokenizer.from_state(tokenizer.state())
    assert again.encode_src(["The big dog sees a cat."]) == tokenizer.encode_src(["The big dog sees a cat."])


def test_vocabulary_too_large_is_a_clear_error():
    with pytest.raises(UserError, match="tokenizer.vocab_size=5000"):
        Tokenizer.train(TokenizerConfig(vocab_size=5000), LINES, LINES)

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


WORDY = ["The big dog sees a cat.", "  two   spaces\tand a tab ", "ﬁne ligature, Straßen-Café\u00a0x",
         "unknown ✈✈ pieces ✈", "a\u3000b \x1c c", "", "   ", "x"]


@pytest.mark.parametrize("side", ["src", "tgt"])
def test_each_piece_belongs_to_a_word_in_order_and_each_word_has_a_piece(tokenizer, side):
    encode, words_of = getattr(tokenizer, f"encode_{side}"), getattr(tokenizer, f"{side}_words")
    for text in WORDY:
        words = words_of(text)
        assert len(words) == len(encode([text])[0]), text
        assert words == sorted(words), text
        assert sorted(set(words)) == list(range(len(text.split()))), text


def test_the_pieces_of_a_word_are_its_own(tokenizer):
    text = "The big dog sees some cats near the river."
    words = tokenizer.src_words(text)
    pieces = tokenizer.src_pieces(tokenizer.encode_src([text])[0])
    for w, word in enumerate(text.split()):
        assert "".join(p for p, i in zip(pieces, words) if i == w).lstrip("▁") == word


def test_output_pieces_map_to_the_words_of_their_decoded_text(tokenizer):
    for ids in ([UNK, 20, 21, UNK, 30], [40, 41, 42, 43], [UNK], tokenizer.encode_tgt(["Ka vorn mi miset vidit."])[0]):
        words = tokenizer.output_words(ids)
        assert len(words) == len(ids) and words == sorted(words)
        assert sorted(set(words)) == list(range(len(tokenizer.decode_tgt([ids])[0].split()))), ids

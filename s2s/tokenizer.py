"""The tokenizer stage: sentencepiece models for source and target, with fixed special ids.

Raw text goes in and detokenized text comes out; the serialized models travel inside
each checkpoint, so translating needs nothing but the checkpoint.
"""

from __future__ import annotations

import bisect
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import sentencepiece as spm

from s2s.errors import UserError

if TYPE_CHECKING:  # not imported at run time: the processes that encode a corpus stay free of torch
    from s2s.config import TokenizerConfig

PAD, UNK, BOS, EOS = 0, 1, 2, 3
_WORD = re.compile(r"\S+")  # a word of str.split(): \s is what str.isspace() calls whitespace


def _train_one(lines: Iterable[str], config: TokenizerConfig, what: str, seed: int) -> bytes:
    """Trains one sentencepiece model in memory and returns its serialized proto."""
    out = io.BytesIO()
    spm.set_random_generator_seed(seed)  # sampling of large corpora repeats from the seed
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=(line for line in lines if line.strip()),
            model_writer=out,
            model_type=config.type,
            vocab_size=config.vocab_size,
            character_coverage=config.character_coverage,
            input_sentence_size=config.max_sentences,
            shuffle_input_sentence=True,
            pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
            max_sentence_length=1 << 16,
            minloglevel=2,
        )
    except RuntimeError as e:
        message = str(e).splitlines()[-1] if str(e) else repr(e)
        raise UserError(f"cannot train the {what} tokenizer (tokenizer.vocab_size="
                        f"{config.vocab_size}, tokenizer.type={config.type}): {message}") from None
    return out.getvalue()


class Tokenizer:
    """Source and target sentencepiece processors (the same one when the vocabulary is joint)."""

    def __init__(self, src_model: bytes, tgt_model: bytes | None = None):
        self.src_model = src_model
        self.tgt_model = tgt_model
        self.src = spm.SentencePieceProcessor(model_proto=src_model)
        self.tgt = self.src if tgt_model is None else spm.SentencePieceProcessor(model_proto=tgt_model)
        for proc in {id(self.src): self.src, id(self.tgt): self.tgt}.values():
            ids = (proc.pad_id(), proc.unk_id(), proc.bos_id(), proc.eos_id())
            if ids != (PAD, UNK, BOS, EOS):
                raise UserError(f"tokenizer model has special ids {ids}, expected "
                                f"pad/unk/bos/eos = {(PAD, UNK, BOS, EOS)}")

    @classmethod
    def train(cls, config: TokenizerConfig, src_lines: Iterable[str], tgt_lines: Iterable[str] | None,
              seed: int = 1) -> "Tokenizer":
        """Learns the tokenizer from training text: one joint model or one per side (one
        model of the source alone when there is no target text: classify and tag)."""
        if tgt_lines is None:
            return cls(_train_one(src_lines, config, "source", seed))
        if config.joint:
            return cls(_train_one(itertools.chain(src_lines, tgt_lines), config, "joint", seed))
        return cls(_train_one(src_lines, config, "source", seed),
                   _train_one(tgt_lines, config, "target", seed))

    @property
    def joint(self) -> bool:
        return self.tgt_model is None

    @property
    def src_vocab_size(self) -> int:
        return self.src.get_piece_size()

    @property
    def tgt_vocab_size(self) -> int:
        return self.tgt.get_piece_size()

    def encode_src(self, lines: list[str]) -> list[list[int]]:
        return self.src.encode(lines)

    def encode_tgt(self, lines: list[str]) -> list[list[int]]:
        return self.tgt.encode(lines)

    def decode_tgt(self, ids: list[list[int]]) -> list[str]:
        return self.tgt.decode(ids)

    def src_words(self, text: str) -> list[int]:
        """For each source piece of `text` (as `encode_src` gives them), the index of the
        whitespace-split word of `text` it belongs to."""
        return _words_of_pieces(text, self.src.encode(text, return_type="proto").pieces)

    def tgt_words(self, text: str) -> list[int]:
        """For each target piece of `text` (as `encode_tgt` gives them), the index of its word."""
        return _words_of_pieces(text, self.tgt.encode(text, return_type="proto").pieces)

    def output_words(self, ids: list[int]) -> list[int]:
        """For each of the target pieces `ids`, the index of its word in their decoded text
        (`decode_tgt`)."""
        proto = self.tgt.decode_ids_as_proto(ids)
        return _words_of_pieces(proto.text, proto.pieces)

    def src_pieces(self, ids: list[int]) -> list[str]:
        return [self.src.id_to_piece(i) for i in ids]

    def tgt_pieces(self, ids: list[int]) -> list[str]:
        return [self.tgt.id_to_piece(i) for i in ids]

    def state(self) -> dict:
        """What a checkpoint stores: the serialized models."""
        return {"src": self.src_model, "tgt": self.tgt_model}

    @classmethod
    def from_state(cls, state: dict) -> "Tokenizer":
        return cls(state["src"], state.get("tgt"))


def _words_of_pieces(text: str, pieces) -> list[int]:
    """The word (of text.split()) of each sentencepiece piece, from the pieces' UTF-8 byte
    offsets into `text`: the word of its first non-space character, or for a piece of
    whitespace alone (a lone "▁") the word that follows it (the last word if none does)."""
    chars = list(itertools.accumulate(len(c.encode("utf-8")) for c in text))  # bytes up to each char's end
    starts = [m.start() for m in _WORD.finditer(text)]  # each word's first character
    found = []
    for piece in pieces:
        begin = bisect.bisect_right(chars, piece.begin)  # the character that starts at byte `begin`
        end = bisect.bisect_right(chars, piece.end - 1) + 1 if piece.end > piece.begin else begin
        surface = text[begin:end]
        if surface.strip():
            at = begin + len(surface) - len(surface.lstrip())
            found.append(max(bisect.bisect_right(starts, at) - 1, 0))
        else:
            found.append(min(bisect.bisect_left(starts, end), max(len(starts) - 1, 0)))
    return found


def chunks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    """Groups lines into lists of at most `size` (for encoding large files a chunk at a time)."""
    it = iter(lines)
    while chunk := list(itertools.islice(it, size)):
        yield chunk

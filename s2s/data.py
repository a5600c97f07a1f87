"""Parallel text: reading aligned files, filtering by length, token-bucketed batches.

A split is a file PREFIX read as PREFIX.LANG (or PREFIX.LANG.gz). Sources are encoded
with EOS appended; targets are stored bare and get BOS/EOS when batched.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO
from pathlib import Path

import torch

from s2s.errors import UserError
from s2s.tokenizer import BOS, EOS, PAD, Tokenizer

log = logging.getLogger(__name__)

POOL_BATCHES = 100  # sort this many batches' worth of examples at a time (length bucketing)


def split_path(prefix: str, lang: str) -> Path:
    """The file of one side of a split: PREFIX.LANG, or PREFIX.LANG.gz if only that exists."""
    plain = Path(f"{prefix}.{lang}")
    if plain.exists():
        return plain
    packed = Path(f"{prefix}.{lang}.gz")
    if packed.exists():
        return packed
    raise UserError(f"file not found: {plain} (nor {packed.name})")


def iter_lines(handle: BinaryIO, name: str, errors: str = "strict") -> Iterator[str]:
    """Yields the lines of a binary UTF-8 stream without line ends (LF or CRLF).

    Invalid UTF-8 is an error naming the line and byte, or with errors="replace" becomes
    U+FFFD replacement characters.
    """
    for number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode("utf-8", errors=errors)
        except UnicodeDecodeError as e:
            raise UserError(f"{name}:{number}: invalid UTF-8 at byte {e.start} of the line "
                            f"(counting from 0: byte 0x{raw[e.start]:02x})") from None
        yield text.rstrip("\r\n")


def read_lines(path: str | Path, errors: str = "strict") -> Iterator[str]:
    """Yields the lines of a UTF-8 text file (gzipped if it ends in .gz), without line ends."""
    path = Path(path)
    try:
        handle = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None
    with handle:
        try:
            yield from iter_lines(handle, str(path), errors)
        except (OSError, EOFError) as e:  # a damaged .gz fails only once it is read
            raise UserError(f"cannot read {path}: {e}") from None


def read_parallel(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    """Reads two line-aligned files; unequal line counts or no lines are errors naming both."""
    src, tgt = list(read_lines(src_path)), list(read_lines(tgt_path))
    if len(src) != len(tgt):
        raise UserError(f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}: "
                        "the files must be aligned line by line")
    if not src:
        raise UserError(f"{src_path} and {tgt_path} are empty")
    return src, tgt


def fingerprint(src: list[str], tgt: list[str]) -> str:
    """A hash of a parallel text's content, to tell on resume whether it is still the same."""
    digest = hashlib.sha256()
    for a, b in zip(src, tgt):
        digest.update(a.encode("utf-8") + b"\t" + b.encode("utf-8") + b"\n")
    return f"{len(src)}:{digest.hexdigest()[:16]}"


@dataclass
class Batch:
    """Padded tensors for one batch; lengths count real tokens (source EOS included)."""

    src: torch.Tensor  # (B, S) source ids + EOS, PAD after
    src_len: torch.Tensor  # (B,) on CPU, as pack_padded_sequence wants
    tgt_in: torch.Tensor  # (B, T) BOS + target ids, PAD after
    tgt_out: torch.Tensor  # (B, T) target ids + EOS, PAD after
    align: torch.Tensor | None = None  # (B, T) source position each tgt_out piece aligns to, -1 for none

    def to(self, device: torch.device) -> "Batch":
        """The batch on `device`; to a GPU through pinned memory, so the copy overlaps compute."""
        tensors = [t for t in (self.src, self.tgt_in, self.tgt_out, self.align) if t is not None]
        if device.type == "cuda":
            moved = [t.pin_memory().to(device, non_blocking=True) for t in tensors]
        else:
            moved = [t.to(device) for t in tensors]
        return Batch(moved[0], self.src_len, moved[1], moved[2], moved[3] if self.align is not None else None)


def pad(seqs: list[list[int]], value: int = PAD) -> torch.Tensor:
    """Right-pads id lists into a (B, L) tensor."""
    out = torch.full((len(seqs), max(map(len, seqs))), value, dtype=torch.long)
    for i, seq in enumerate(seqs):
        out[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return out


def source_batch(src: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Source ids (EOS already appended) as a padded (B, S) tensor and (B,) lengths."""
    return pad(src), torch.tensor([len(s) for s in src], dtype=torch.long)


def collate(src: list[list[int]], tgt: list[list[int]], align: list[list[int]] | None = None) -> Batch:
    """Makes a training batch from encoded sources (with EOS) and bare targets, with each
    target piece's aligned source position when given (EOS gets -1: unaligned)."""
    src_ids, src_len = source_batch(src)
    aligned = None if align is None else pad([a + [-1] for a in align], value=-1)
    return Batch(src_ids, src_len, pad([[BOS] + t for t in tgt]), pad([t + [EOS] for t in tgt]), aligned)


class ParallelData:
    """An encoded parallel corpus; training data is filtered by maximum length."""

    def __init__(self, src: list[list[int]], tgt: list[list[int]], src_text: list[str],
                 tgt_text: list[str]):
        self.src, self.tgt = src, tgt
        self.src_text, self.tgt_text = src_text, tgt_text
        self.align: list[list[int]] | None = None  # per pair, each target piece's source position
        self.kept: list[int] = list(range(len(src)))  # each pair's line in the text it was read from

    @classmethod
    def load(cls, prefix: str, src_lang: str, tgt_lang: str, tokenizer: Tokenizer,
             max_len: int | None = None) -> "ParallelData":
        """Reads and encodes a split; with max_len, drops (and logs) pairs longer than it."""
        src_path, tgt_path = split_path(prefix, src_lang), split_path(prefix, tgt_lang)
        src_text, tgt_text = read_parallel(src_path, tgt_path)
        return cls.from_text(src_text, tgt_text, tokenizer, max_len, name=str(src_path))

    @classmethod
    def from_text(cls, src_text: list[str], tgt_text: list[str], tokenizer: Tokenizer,
                  max_len: int | None = None, name: str = "corpus") -> "ParallelData":
        """Encodes aligned lines; with max_len, drops (and logs) empty or longer pairs."""
        src = [s + [EOS] for s in tokenizer.encode_src(src_text)]
        tgt = tokenizer.encode_tgt(tgt_text)
        if max_len is None:
            return cls(src, tgt, src_text, tgt_text)
        keep = [i for i in range(len(src))
                if 0 < len(src[i]) - 1 <= max_len and 0 < len(tgt[i]) <= max_len]
        log.info("%s: %d pairs, %d dropped (empty or over %d pieces)", name, len(src),
                 len(src) - len(keep), max_len)
        if not keep:
            raise UserError(f"{name}: no sentence pair is within data.max_len={max_len} pieces")
        pick = lambda xs: [xs[i] for i in keep]  # noqa: E731
        data = cls(pick(src), pick(tgt), pick(src_text), pick(tgt_text))
        data.kept = keep
        return data

    def __len__(self) -> int:
        return len(self.src)

    def batch(self, indices: list[int]) -> Batch:
        align = None if self.align is None else [self.align[i] for i in indices]
        return collate([self.src[i] for i in indices], [self.tgt[i] for i in indices], align)

    def counts(self, indices: list[int]) -> tuple[int, int]:
        """(tokens, targets) of a batch without building it: tokens are source + target
        pieces (BOS/EOS not counted), targets what the loss counts (target pieces plus EOS)."""
        n_src = sum(len(self.src[i]) - 1 for i in indices)
        n_tgt = sum(len(self.tgt[i]) for i in indices)
        return n_src + n_tgt, n_tgt + len(indices)

    def epoch_batches(self, batch_tokens: int, seed: int, epoch: int) -> list[list[int]]:
        """One epoch's batches of pair indices, the same for the same (seed, epoch): sorted
        by source then target length, and padded size max(source, target + EOS)."""
        return token_batches([len(s) for s in self.src], [len(t) + 1 for t in self.tgt],
                             batch_tokens, seed, epoch)


def token_batches(src_len: list[int], tgt_len: list[int], batch_tokens: int, seed: int,
                  epoch: int) -> list[list[int]]:
    """One epoch's batches of example indices, the same for the same (seed, epoch).

    Examples are shuffled, sorted by (src_len, tgt_len) inside pools of about POOL_BATCHES
    batches (so a batch holds similar lengths and little padding), cut so that
    sentences x longest side <= batch_tokens, and the batches shuffled again.
    """
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(len(src_len), generator=gen).tolist()
    size = lambda i: max(src_len[i], tgt_len[i])  # noqa: E731
    mean = sum(size(i) for i in order[:1000]) / min(len(order), 1000)
    pool = max(1, int(POOL_BATCHES * batch_tokens / mean))
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        current: list[int] = []
        longest = 0
        for i in sorted(order[start:start + pool], key=lambda i: (src_len[i], tgt_len[i])):
            longest_if_added = max(longest, size(i))
            if current and longest_if_added * (len(current) + 1) > batch_tokens:
                batches.append(current)
                current, longest_if_added = [], size(i)
            current.append(i)
            longest = longest_if_added
        if current:
            batches.append(current)
    shuffled = torch.randperm(len(batches), generator=gen).tolist()
    return [batches[i] for i in shuffled]

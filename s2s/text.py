"""Text files: finding a split's files, reading UTF-8 lines (plain or gzipped), checking
that two files pair up line by line, and fingerprinting a parallel text, all streamed so
that a corpus of any size is read in bounded memory.

A split is a file PREFIX read as PREFIX.LANG (or PREFIX.LANG.gz). Nothing here needs
torch: the processes that encode a corpus import this module and little else.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from s2s.errors import UserError

CHUNK_LINES = 65_536  # lines read and checked at a time by the streaming passes


def split_path(prefix: str, lang: str) -> Path:
    """The file of one side of a split: PREFIX.LANG, or PREFIX.LANG.gz if only that exists."""
    plain = Path(f"{prefix}.{lang}")
    if plain.exists():
        return plain
    packed = Path(f"{prefix}.{lang}.gz")
    if packed.exists():
        return packed
    raise UserError(f"file not found: {plain} (nor {packed.name})")


def _decode(raw: bytes, name: str, number: int, errors: str) -> str:
    try:
        return raw.decode("utf-8", errors=errors)
    except UnicodeDecodeError as e:
        raise UserError(f"{name}:{number}: invalid UTF-8 at byte {e.start} of the line "
                        f"(counting from 0: byte 0x{raw[e.start]:02x})") from None


def iter_lines(handle: BinaryIO, name: str, errors: str = "strict") -> Iterator[str]:
    """Yields the lines of a binary UTF-8 stream without line ends (LF or CRLF).

    Invalid UTF-8 is an error naming the line and byte, or with errors="replace" becomes
    U+FFFD replacement characters.
    """
    for number, raw in enumerate(handle, start=1):
        yield _decode(raw, name, number, errors).rstrip("\r\n")


def _open(path: Path) -> BinaryIO:
    try:
        return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None


def line_chunks(path: str | Path, size: int | None = None) -> Iterator[list[str]]:
    """The lines of a UTF-8 text file (gzipped if it ends in .gz), without line ends, as
    lists of at most `size` (CHUNK_LINES): one decode per chunk, so large files stream at C speed."""
    path, size = Path(path), size or CHUNK_LINES
    with _open(path) as handle:
        number = 0
        try:
            while raws := list(itertools.islice(handle, size)):
                try:
                    text = b"".join(raws).decode("utf-8")
                except UnicodeDecodeError:  # find and name the line
                    for k, raw in enumerate(raws):
                        _decode(raw, str(path), number + k + 1, "strict")
                    raise  # a line split between chunks cannot happen: chunks hold whole lines
                lines = text.split("\n")
                if lines[-1] == "":  # the chunk's last line ended in LF
                    lines.pop()
                number += len(raws)
                yield [line.rstrip("\r") for line in lines] if "\r" in text else lines
        except (OSError, EOFError, zlib.error) as e:  # a damaged .gz fails only once it is read
            raise UserError(f"cannot read {path}: {e}") from None


def read_lines(path: str | Path, errors: str = "strict") -> Iterator[str]:
    """Yields the lines of a UTF-8 text file (gzipped if it ends in .gz), without line ends."""
    path = Path(path)
    with _open(path) as handle:
        try:
            yield from iter_lines(handle, str(path), errors)
        except (OSError, EOFError, zlib.error) as e:  # a damaged .gz fails only once it is read
            raise UserError(f"cannot read {path}: {e}") from None


def read_parallel(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    """Reads two line-aligned files; unequal line counts or no lines are errors naming both."""
    src, tgt = list(read_lines(src_path)), list(read_lines(tgt_path))
    _check_pairing(src_path, len(src), tgt_path, len(tgt))
    return src, tgt


def _check_pairing(src_path: Path, src_lines: int, tgt_path: Path, tgt_lines: int) -> None:
    if src_lines != tgt_lines:
        raise UserError(f"{src_path} has {src_lines} lines but {tgt_path} has {tgt_lines}: "
                        "the files must be aligned line by line")
    if not src_lines:
        raise UserError(f"{src_path} and {tgt_path} are empty")


class Fingerprint:
    """A running hash of a parallel text's line pairs, fed a chunk at a time."""

    def __init__(self):
        self.digest, self.pairs = hashlib.sha256(), 0

    def update(self, src: list[str], tgt: list[str]) -> None:
        self.digest.update("".join(f"{a}\t{b}\n" for a, b in zip(src, tgt)).encode("utf-8"))
        self.pairs += len(src)

    def value(self) -> str:
        return f"{self.pairs}:{self.digest.hexdigest()[:16]}"


def fingerprint(src: list[str], tgt: list[str]) -> str:
    """A hash of a parallel text's content, to tell on resume whether it is still the same."""
    running = Fingerprint()
    running.update(src, tgt)
    return running.value()


def _stamp(*paths: Path) -> tuple:
    return tuple(x for path in paths for stat in [path.stat()] for x in (stat.st_size, stat.st_mtime_ns))


@dataclass(frozen=True)
class ParallelFiles:
    """Two line-aligned files, checked: valid UTF-8, equal line counts, not empty."""

    src: Path
    tgt: Path
    lines: int  # pairs
    size: int  # bytes of both files together, as stored (compressed for .gz)
    fingerprint: str  # the same as `fingerprint` of their lines
    stamp: tuple  # both files' size and modification time when scanned

    @classmethod
    def scan(cls, src_path: Path, tgt_path: Path) -> "ParallelFiles":
        """Streams both files once, checking and fingerprinting them in bounded memory."""
        running = Fingerprint()
        src_lines = tgt_lines = 0
        src_chunks, tgt_chunks = line_chunks(src_path), line_chunks(tgt_path)
        for src, tgt in itertools.zip_longest(src_chunks, tgt_chunks, fillvalue=[]):
            src_lines, tgt_lines = src_lines + len(src), tgt_lines + len(tgt)
            if src_lines != tgt_lines:  # count the rest, then name both files
                src_lines += sum(map(len, src_chunks))
                tgt_lines += sum(map(len, tgt_chunks))
                break
            running.update(src, tgt)
        _check_pairing(src_path, src_lines, tgt_path, tgt_lines)
        stamp = _stamp(src_path, tgt_path)
        return cls(src_path, tgt_path, src_lines, stamp[0] + stamp[2], running.value(), stamp)

    def unchanged(self) -> bool:
        """Whether both files still have the size and modification time they had when scanned."""
        return _stamp(self.src, self.tgt) == self.stamp

"""The corpus cache: a training corpus encoded once into compact piece files
(`s2s.pieces`), and the tokenizer learnt from it, each kept under a key made from the
text's fingerprint (and the tokenizer's), so that a later run on the same text starts in
seconds and a file that changed is never read from a stale entry.

CACHE_DIR (the run directory's cache/, or data.cache_dir to share it between runs) holds
  tokenizer-KEY.src.model [.tgt.model]   sentencepiece models (KEY: text, tokenizer settings, seed)
  pieces-KEY/                            src.* and tgt.* (s2s.pieces) and meta.json, written last
                                         (KEY: text and tokenizer models)
Entries appear whole or not at all (written aside, then renamed). Large corpora are encoded
by worker processes, a chunk of lines at a time, and the tokenizer learns in a process of its
own: the memory either needs goes back to the system before training starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import shutil
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sentencepiece as spm

from s2s.atomic import atomic_file
from s2s.errors import UserError
from s2s.pieces import Pieces, Writer, flatten
from s2s.text import ParallelFiles, line_chunks
from s2s.tokenizer import Tokenizer

if TYPE_CHECKING:
    from s2s.config import TokenizerConfig

log = logging.getLogger(__name__)

# Corpora larger than this (bytes of text) are encoded by worker processes, and their
# tokenizer learns in a child process; smaller ones in process, which starts faster.
LARGE_BYTES = 32 << 20


def _key(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:20]


@contextlib.contextmanager
def _writing(cache_dir: Path) -> Iterator[None]:
    """A cache that cannot be written (no room, no permission) is the user's to fix: say where."""
    try:
        yield
    except OSError as e:
        raise UserError(f"cannot write the corpus cache in {cache_dir}: {e.strerror or e} (data.cache_dir "
                        "names another place for it)") from None


def workers() -> int:
    """Processes for encoding: the cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# -- the tokenizer ------------------------------------------------------------------------

def _learn(config: TokenizerConfig, src: Path, tgt: Path | None, seed: int) -> dict:
    """A tokenizer's state, learnt from streamed files (run in a child process for large ones)."""
    lines = lambda path: itertools.chain.from_iterable(line_chunks(path))  # noqa: E731
    return Tokenizer.train(config, lines(src), None if tgt is None else lines(tgt), seed=seed).state()


def tokenizer(files: ParallelFiles, config: TokenizerConfig, seed: int, cache_dir: Path) -> Tokenizer:
    """The tokenizer of `config` learnt from `files`, from the cache when it holds it."""
    key = _key(files.fingerprint, json.dumps(asdict(config), sort_keys=True), str(seed))
    src_file, tgt_file = cache_dir / f"tokenizer-{key}.src.model", cache_dir / f"tokenizer-{key}.tgt.model"
    if src_file.is_file() and (config.joint or tgt_file.is_file()):
        log.info("tokenizer from the cache: %s", src_file)
        return Tokenizer(src_file.read_bytes(), None if config.joint else tgt_file.read_bytes())
    if files.size > LARGE_BYTES:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            state = pool.apply(_learn, (config, files.src, files.tgt, seed))
    else:
        state = _learn(config, files.src, files.tgt, seed)
    with _writing(cache_dir):
        cache_dir.mkdir(parents=True, exist_ok=True)
        if state["tgt"] is not None:
            with atomic_file(tgt_file) as out:
                out.write(state["tgt"])
        with atomic_file(src_file) as out:  # last: it marks the entry complete
            out.write(state["src"])
    return Tokenizer.from_state(state)


# -- the encoded corpus -------------------------------------------------------------------

_worker: tuple[spm.SentencePieceProcessor, spm.SentencePieceProcessor] | None = None


def _start_worker(src_model: bytes, tgt_model: bytes | None) -> None:
    global _worker
    src = spm.SentencePieceProcessor(model_proto=src_model)
    _worker = (src, src if tgt_model is None else spm.SentencePieceProcessor(model_proto=tgt_model))


def _encode(src_lines: list[str], tgt_lines: list[str], dtypes: tuple[str, str]) -> tuple[np.ndarray, ...]:
    """(src lengths, src ids, tgt lengths, tgt ids) of a chunk of line pairs."""
    src, tgt = _worker
    return (*flatten(src.encode(src_lines, num_threads=1), np.dtype(dtypes[0])),
            *flatten(tgt.encode(tgt_lines, num_threads=1), np.dtype(dtypes[1])))


def _chunks_encoded(files: ParallelFiles, tok: Tokenizer, dtypes: tuple[str, str], processes: int):
    """Yields each chunk's arrays in order: in process, or from `processes` workers with a
    few chunks in flight, so memory stays bounded whatever the corpus size."""
    if processes <= 1:
        _start_worker(tok.src_model, tok.tgt_model)
        for src, tgt in files.pairs():
            yield _encode(src, tgt, dtypes)
        return
    with multiprocessing.get_context("spawn").Pool(processes, _start_worker, (tok.src_model, tok.tgt_model)) as pool:
        pending: deque = deque()
        for src, tgt in files.pairs():
            pending.append(pool.apply_async(_encode, (src, tgt, dtypes)))
            if len(pending) > 2 * processes:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's
        return True
    return True


def _build(files: ParallelFiles, tok: Tokenizer, entry: Path, processes: int) -> None:
    """Encodes `files` into the cache entry `entry` (written aside, then renamed)."""
    for stale in entry.parent.glob(f"{entry.name}.tmp-*"):  # left by a process that was killed
        if not _alive(int(stale.name.rsplit("-", 1)[1])):
            shutil.rmtree(stale, ignore_errors=True)
    aside = entry.with_name(f"{entry.name}.tmp-{os.getpid()}")
    shutil.rmtree(aside, ignore_errors=True)
    aside.mkdir(parents=True)
    src_out, tgt_out = Writer(aside / "src", tok.src_vocab_size), Writer(aside / "tgt", tok.tgt_vocab_size)
    dtypes = (src_out.dtype.name, tgt_out.dtype.name)
    done, step = 0, max(files.lines // 10, 1)
    try:
        for src_len, src_ids, tgt_len, tgt_ids in _chunks_encoded(files, tok, dtypes, processes):
            src_out.append(src_len, src_ids)
            tgt_out.append(tgt_len, tgt_ids)
            if (done + len(src_len)) // step > done // step:
                log.info("encoded %d of %d pairs", done + len(src_len), files.lines)
            done += len(src_len)
        src_out.close()
        tgt_out.close()
        (aside / "meta.json").write_text(json.dumps({"pairs": done, "fingerprint": files.fingerprint}) + "\n")
        try:
            os.rename(aside, entry)
        except OSError:  # another process made the same entry meanwhile
            if not (entry / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _open(entry: Path, files: ParallelFiles) -> tuple[Pieces, Pieces] | None:
    """The entry's two sides, or None where it is missing or damaged."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
        if meta["pairs"] != files.lines or meta["fingerprint"] != files.fingerprint:
            raise ValueError("it was made from other text")
        src, tgt = Pieces.open(entry / "src"), Pieces.open(entry / "tgt")
        if len(src) != files.lines or len(tgt) != files.lines:
            raise ValueError("its line counts differ from the text's")
        return src, tgt
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError, KeyError) as e:
        log.warning("the cache entry %s is damaged (%s): encoding the corpus again", entry, e)
        shutil.rmtree(entry, ignore_errors=True)
        return None


def encoded(files: ParallelFiles, tok: Tokenizer, cache_dir: Path, build: bool = True) -> tuple[Pieces, Pieces]:
    """Both sides of `files` encoded by `tok`: from the cache, or encoded into it first
    (unless `build` is false: then the entry must exist, as under torchrun once rank 0
    has built it)."""
    entry = cache_dir / f"pieces-{_key(files.fingerprint, tok.src_model, tok.tgt_model or b'')}"
    found = _open(entry, files)
    if found is None and build:
        processes = workers() if files.size > LARGE_BYTES else 1
        log.info("encoding %d pairs into %s (%d process%s)", files.lines, entry, processes,
                 "es" if processes > 1 else "")
        with _writing(cache_dir):
            _build(files, tok, entry, processes)
        found = _open(entry, files)
    if found is None:
        raise RuntimeError(f"the corpus cache entry {entry} is missing")
    log.info("encoded corpus: %s (%.1f MB)", entry, sum(f.stat().st_size for f in entry.iterdir()) / 1e6)
    return found

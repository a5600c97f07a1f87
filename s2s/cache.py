"""The corpus cache: a training corpus encoded once into compact piece files
(`s2s.pieces`), and the tokenizer learnt from it, each kept under a key made from the
text's fingerprint (and the tokenizer's), so that a later run on the same text starts in
seconds and a file that changed is never read from a stale entry.

CACHE_DIR (the run directory's cache/, or data.cache_dir to share it between runs) holds
  tokenizer-KEY.src.model [.tgt.model]   sentencepiece models (KEY: text, tokenizer settings, seed)
  pieces-KEY/                            src.{ids,len}, tgt.{ids,len} and meta.json, written last
                                         (KEY: text and tokenizer models)
Entries appear whole or not at all (written aside, then renamed). The helper jobs
(`s2s.worker`) run in process for small corpora; for large ones the tokenizer learns in a
program of its own and one program per core encodes a share of the chunks, so training
starts with none of the memory they needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from s2s import worker
from s2s.errors import UserError
from s2s.pieces import LENGTH_DTYPE, Pieces, id_dtype
from s2s.text import CHUNK_LINES, ParallelFiles
from s2s.tokenizer import Tokenizer

if TYPE_CHECKING:
    from s2s.config import TokenizerConfig

log = logging.getLogger(__name__)

# Corpora larger than this (bytes of text as stored) get helper programs; smaller ones are
# learnt and encoded in process, which starts faster.
LARGE_BYTES = 32 << 20
FORMAT = 1  # of a pieces entry; another number is encoded again
STALE_SECONDS = 24 * 3600  # an aside this old was left by a process that died


def _key(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def workers() -> int:
    """Helper programs for encoding: the cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@contextlib.contextmanager
def _writing(cache_dir: Path) -> Iterator[None]:
    """A cache that cannot be written (no room, no permission) is the user's to fix: say where."""
    try:
        yield
    except OSError as e:
        raise UserError(f"cannot write the corpus cache in {cache_dir}: {e.strerror or e} (data.cache_dir "
                        "names another place for it)") from None


def _run(jobs: list[dict], what: str, helpers: bool) -> list[dict]:
    """Runs worker jobs, in process or each as a program of its own; their results in order."""
    if not helpers:
        return [worker.JOBS[job["kind"]](job) for job in jobs]
    programs = [subprocess.Popen([sys.executable, "-m", "s2s.worker"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in jobs]
    try:
        outputs = [program.communicate(json.dumps(job)) for program, job in zip(programs, jobs)]
    finally:
        for program in programs:  # on an interrupt, none outlives the run
            if program.poll() is None:
                program.kill()
                program.wait()
    results = []
    for program, (out, err) in zip(programs, outputs):
        if program.returncode == worker.USER_ERROR:
            raise UserError(err.strip())
        if program.returncode < 0:
            raise UserError(f"{what}: the helper process was killed (signal {-program.returncode}); out of "
                            "memory? A smaller tokenizer.max_sentences makes the tokenizer's need smaller")
        if program.returncode:
            raise RuntimeError(f"{what}: the helper process failed:\n{err}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _aside(cache_dir: Path, name: str) -> Path:
    """A new directory to write an entry NAME in before it is renamed; clears the asides of
    processes that died (older than STALE_SECONDS)."""
    for stale in cache_dir.glob("*.tmp-*"):
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}.tmp-", dir=cache_dir))


def _changed(files: ParallelFiles) -> UserError:
    return UserError(f"{files.src} or {files.tgt} changed while s2s was reading it: train again once it "
                     "stays as it is")


# -- the tokenizer ------------------------------------------------------------------------

def tokenizer(files: ParallelFiles, config: TokenizerConfig, seed: int, cache_dir: Path) -> Tokenizer:
    """The tokenizer of `config` learnt from `files`, from the cache when it holds it."""
    key = _key(files.fingerprint, json.dumps(asdict(config), sort_keys=True), str(seed))
    stem = cache_dir / f"tokenizer-{key}"
    src_file, tgt_file = Path(f"{stem}.src.model"), Path(f"{stem}.tgt.model")
    if src_file.is_file() and (config.joint or tgt_file.is_file()):
        log.info("tokenizer from the cache: %s", src_file)
        return Tokenizer(src_file.read_bytes(), None if config.joint else tgt_file.read_bytes())
    log.info("training the sentencepiece tokenizer on %s and %s", files.src, files.tgt)
    with _writing(cache_dir):
        cache_dir.mkdir(parents=True, exist_ok=True)
        aside = _aside(cache_dir, stem.name)  # an unwritable cache is found out before learning
    try:
        job = {"kind": "learn", "config": asdict(config), "src": str(files.src), "tgt": str(files.tgt),
               "seed": seed, "out": str(aside / "model")}
        _run([job], "learning the tokenizer", files.size > LARGE_BYTES)
        if not files.unchanged():
            raise _changed(files)
        with _writing(cache_dir):
            if not config.joint:
                os.replace(aside / "model.tgt.model", tgt_file)
            os.replace(aside / "model.src.model", src_file)  # last: it marks the entry complete
    finally:
        shutil.rmtree(aside, ignore_errors=True)
    return Tokenizer(src_file.read_bytes(), None if config.joint else tgt_file.read_bytes())


# -- the encoded corpus -------------------------------------------------------------------

def _merge(parts: list[Path], out: Path, side: str, dtype: np.dtype, lines: int, chunk: int) -> None:
    """Joins the shares' files of one side in chunk order (chunk c is in share c % shares)."""
    handles = [(open(f"{p}.{side}.len", "rb"), open(f"{p}.{side}.ids", "rb")) for p in parts]
    try:
        with open(f"{out}.len", "wb") as len_out, open(f"{out}.ids", "wb") as ids_out:
            for number, start in enumerate(range(0, lines, chunk)):
                len_in, ids_in = handles[number % len(parts)]
                lengths = np.fromfile(len_in, dtype=LENGTH_DTYPE, count=min(chunk, lines - start))
                ids = np.fromfile(ids_in, dtype=dtype, count=int(lengths.sum(dtype=np.int64)))
                lengths.tofile(len_out)
                ids.tofile(ids_out)
            for handle in (len_out, ids_out):
                handle.flush()
                os.fsync(handle.fileno())
    finally:
        for pair in handles:
            for handle in pair:
                handle.close()


def _build(files: ParallelFiles, tok: Tokenizer, entry: Path, shares: int) -> None:
    """Encodes `files` into the cache entry `entry` (written aside, then renamed)."""
    aside = _aside(entry.parent, entry.name)
    try:
        dtypes = {"src": id_dtype(tok.src_vocab_size).name, "tgt": id_dtype(tok.tgt_vocab_size).name}
        (aside / "src.model").write_bytes(tok.src_model)
        if tok.tgt_model is not None:
            (aside / "tgt.model").write_bytes(tok.tgt_model)
        parts = [aside / f"part{k}" for k in range(shares)]
        jobs = [{"kind": "encode", "src": str(files.src), "tgt": str(files.tgt), "src_model": str(aside / "src.model"),
                 "tgt_model": None if tok.tgt_model is None else str(aside / "tgt.model"), "part": str(part),
                 "index": k, "shares": shares, "chunk": CHUNK_LINES, "src_dtype": dtypes["src"],
                 "tgt_dtype": dtypes["tgt"]} for k, part in enumerate(parts)]
        found = _run(jobs, "encoding the corpus", shares > 1)
        if found[0]["fingerprint"] != files.fingerprint or any(r["pairs"] != files.lines for r in found):
            raise _changed(files)
        for side in ("src", "tgt"):
            _merge(parts, aside / side, side, np.dtype(dtypes[side]), files.lines, CHUNK_LINES)
        for leftover in [*aside.glob("part*"), *aside.glob("*.model")]:
            leftover.unlink()
        meta = {"format": FORMAT, "pairs": files.lines, "fingerprint": files.fingerprint, "dtypes": dtypes}
        with open(aside / "meta.json", "w") as out:
            out.write(json.dumps(meta) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.rename(aside, entry)
        except OSError:  # another process made the same entry meanwhile
            if not (entry / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _open(entry: Path, files: ParallelFiles) -> tuple[Pieces, Pieces] | None:
    """The entry's two sides, or None where it is missing, damaged or of another format."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as e:
        meta = {"error": str(e)}
    try:
        if meta.get("format") != FORMAT or meta["pairs"] != files.lines or meta["fingerprint"] != files.fingerprint:
            raise ValueError(meta.get("error", "its format or text differs"))
        src = Pieces.open(entry / "src", np.dtype(meta["dtypes"]["src"]))
        tgt = Pieces.open(entry / "tgt", np.dtype(meta["dtypes"]["tgt"]))
        if len(src) != files.lines or len(tgt) != files.lines:
            raise ValueError("its line counts differ from the text's")
        return src, tgt
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("the cache entry %s is damaged (%s): encoding the corpus again", entry, e)
        shutil.rmtree(entry, ignore_errors=True)
        return None


def encoded(files: ParallelFiles, tok: Tokenizer, cache_dir: Path) -> tuple[Pieces, Pieces]:
    """Both sides of `files` encoded by `tok`: from the cache, or encoded into it first.

    Under torchrun rank 0 calls this first and the others after it (s2s.translation): on
    one machine they find rank 0's entry; on a machine of their own each encodes its copy.
    """
    entry = cache_dir / f"pieces-{_key(files.fingerprint, tok.src_model, tok.tgt_model or b'')}"
    found = _open(entry, files)
    if found is None:
        shares = workers() if files.size > LARGE_BYTES else 1
        log.info("encoding %d pairs into %s (%d process%s)", files.lines, entry, shares, "es" if shares > 1 else "")
        with _writing(cache_dir):
            cache_dir.mkdir(parents=True, exist_ok=True)
            _build(files, tok, entry, shares)
        found = _open(entry, files)
        if found is None:
            raise RuntimeError(f"the corpus cache entry {entry} was written but cannot be read")
    log.info("encoded corpus: %s (%.1f MB)", entry, sum(f.stat().st_size for f in entry.iterdir()) / 1e6)
    return found

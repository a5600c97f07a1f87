"""The corpus cache's helper jobs: learning a tokenizer from streamed files, and encoding
one share of a corpus's chunks.

`s2s.cache` runs them in process for small corpora and, for large ones, as separate
programs, `python -m s2s.worker` with the job as JSON on stdin, so that the memory they
need goes back to the system when they end, and a helper that dies (out of memory, say)
is an error the caller can report, never a hang. A program of its own imports nothing
of the caller's script and nothing of torch. Exit status 3 means a user error, its
message on stderr; on success, a JSON result is the last line on stdout.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import sentencepiece as spm

from s2s.errors import UserError
from s2s.pieces import LENGTH_DTYPE, flatten
from s2s.text import Fingerprint, line_chunks
from s2s.tokenizer import Tokenizer

USER_ERROR = 3  # exit status of a helper that met a user's mistake


def learn(job: dict) -> dict:
    """Learns a tokenizer from the files `job["src"]` (and `job["tgt"]`, if any) with the
    settings `job["config"]`; writes OUT.src.model (and OUT.tgt.model)."""
    lines = lambda path: (line for chunk in line_chunks(path) for line in chunk)  # noqa: E731
    config = types.SimpleNamespace(**job["config"])
    tokenizer = Tokenizer.train(config, lines(job["src"]), lines(job["tgt"]) if job["tgt"] else None,
                                seed=job["seed"])
    Path(f"{job['out']}.src.model").write_bytes(tokenizer.src_model)
    if tokenizer.tgt_model is not None:
        Path(f"{job['out']}.tgt.model").write_bytes(tokenizer.tgt_model)
    return {}


def encode(job: dict) -> dict:
    """Encodes chunks index, index + shares, index + 2 shares, ... of a parallel text into
    PART.src.{ids,len} and PART.tgt.{ids,len}; every share reads the whole text (to stay
    in step with the chunks) and returns its pair count, and share 0 its fingerprint too
    (one hash of the text is enough), by which the caller knows that the text did not
    change since it was scanned."""
    src_model, tgt_model = Path(job["src_model"]).read_bytes(), job["tgt_model"]
    src = spm.SentencePieceProcessor(model_proto=src_model)
    tgt = src if tgt_model is None else spm.SentencePieceProcessor(model_proto=Path(tgt_model).read_bytes())
    running, pairs = Fingerprint() if job["index"] == 0 else None, 0
    with open(f"{job['part']}.src.ids", "wb") as src_ids, open(f"{job['part']}.src.len", "wb") as src_len, \
            open(f"{job['part']}.tgt.ids", "wb") as tgt_ids, open(f"{job['part']}.tgt.len", "wb") as tgt_len:
        chunks = zip(line_chunks(job["src"], job["chunk"]), line_chunks(job["tgt"], job["chunk"]))
        for number, (src_lines, tgt_lines) in enumerate(chunks):
            pairs += len(src_lines)
            if running is not None:
                running.update(src_lines, tgt_lines)
            if number % job["shares"] != job["index"]:
                continue
            for lines, processor, dtype, ids_out, len_out in ((src_lines, src, job["src_dtype"], src_ids, src_len),
                                                              (tgt_lines, tgt, job["tgt_dtype"], tgt_ids, tgt_len)):
                lengths, ids = flatten(processor.encode(lines, num_threads=1), np.dtype(dtype))
                lengths.astype(LENGTH_DTYPE).tofile(len_out)
                ids.tofile(ids_out)
    return {"pairs": pairs, "fingerprint": running and running.value()}


JOBS = {"learn": learn, "encode": encode}


def main() -> None:
    job = json.load(sys.stdin)
    try:
        result = JOBS[job["kind"]](job)
    except UserError as e:
        print(e, file=sys.stderr)
        sys.exit(USER_ERROR)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

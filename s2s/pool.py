"""Worker processes that search whole batches side by side on a CPU (`--workers N`).

A search step is a few products that split over the CPU's cores and many small
operations and lines of Python that do not: on 2 cores, beam 5 over one batch runs about
1.6x as fast as on one. N processes that each search whole batches on their own share of
the threads keep every core busy all the time instead.

The workers are forked from the translating process once its model is loaded (and its
shortlist made), so they share its weights' memory and start in milliseconds: no second
import of torch and no second load. Batches go out in order, each to whichever worker is
free, and their results come back in order. A worker runs torch on its share of the
threads (at least one), ignores Ctrl-C (the parent stops them), and ends with the pool or
with the process that forked it. Plain processes and pipes, not multiprocessing.Pool: a
pool whose worker is killed mid-batch waits for it for ever, and can hang as it ends.

Results may differ from those of one process in the last bits of a sum, as they do with
another number of threads, and so, rarely, in a word.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
import ctypes
import dataclasses
import itertools
import multiprocessing
import os
import signal
import sys
import traceback
import weakref
from multiprocessing.connection import Connection, wait
from typing import Any

import torch

from s2s.config import SearchConfig
from s2s.data import source_batch
from s2s.errors import UserError
from s2s.hypothesis import Hypothesis
from s2s.padded import PaddedModel
from s2s.search import search

# What each pool's workers search with, by the pool's number: set before the workers fork,
# so that each finds its model here, and dropped when the pool ends.
_models: dict[int, tuple[Any, bool]] = {}
_numbers = itertools.count()
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends


def can_fork() -> bool:
    """Whether this system starts processes by forking (Linux does; Windows cannot)."""
    return "fork" in multiprocessing.get_all_start_methods()


def check_workers(workers: int, device: torch.device) -> None:
    """A clear error for workers on a device other than the CPU (forked processes cannot share a GPU's state)."""
    if workers > 1 and device.type != "cpu":
        raise UserError(f"--workers {workers} runs processes on the CPU; on {device} leave it at 1")


def search_batch(model: Any, padded: bool, units: list[list[int]], config: SearchConfig, nbest: int,
                 device: torch.device | None = None) -> list[list[Hypothesis]]:
    """What s2s.search returns for one batch of encoded sources (EOS included), on `device`."""
    src, src_len = source_batch(units)
    return search(PaddedModel(model) if padded else model, src.to(device or src.device), src_len, config,
                  nbest=nbest)


def _serve(connection: Connection, number: int, threads: int, parent: int) -> None:
    """A worker: its share of the threads, Ctrl-C left to the parent and, on Linux, an end as
    soon as the parent ends, however it ends (killed, say); then batches (units, config,
    nbest) in and search's n-best lists out, their attention as numpy arrays (sent by value,
    not through shared memory), or the text of an error, until the parent hangs up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # it ended before that was set
            os._exit(0)
    torch.set_num_threads(threads)
    model, padded = _models[number]
    while True:
        try:
            units, config, nbest = connection.recv()
        except EOFError:
            return
        try:
            found = search_batch(model, padded, units, config, nbest)
            reply = True, [[dataclasses.replace(h, attention=h.attention.numpy()) for h in hyps] for hyps in found]
        except Exception:  # noqa: BLE001  the parent raises it
            reply = False, traceback.format_exc()
        connection.send(reply)


def _end(processes: list[Any], number: int) -> None:
    for process in processes:
        process.terminate()  # SIGTERM: a worker ends at once
    for process in processes:
        process.join()
    _models.pop(number, None)


class SearchPool:
    """`workers` processes that search batches with `model` (bf16 rows padded when
    `padded`, as s2s.padded explains), made for one model and kept while it is used."""

    def __init__(self, model: Any, workers: int, padded: bool = False):
        if not can_fork():
            raise UserError(f"--workers {workers}: this system cannot fork processes; leave it at 1")
        self.model, self.padded, self.workers = model, padded, workers
        self.number = next(_numbers)
        _models[self.number] = (model, padded)
        threads = max(1, torch.get_num_threads() // workers)
        context = multiprocessing.get_context("fork")
        self._processes, self._connections = [], []
        for _ in range(workers):
            mine, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, self.number, threads, os.getpid()),
                                      name="s2s-search", daemon=True)
            process.start()
            theirs.close()
            self._processes.append(process)
            self._connections.append(mine)
        self._end = weakref.finalize(self, _end, self._processes, self.number)

    def serves(self, model: Any, padded: bool) -> bool:
        """Whether this pool's workers search with `model` and that padding."""
        return self.model is model and self.padded == padded and self._end.alive

    def search(self, batches: Iterable[list[list[int]]], config: SearchConfig,
               nbest: int) -> Iterator[list[list[Hypothesis]]]:
        """For each batch of encoded sources, in order, what s2s.search returns for it. Each
        batch goes to a worker as soon as one is free; a worker that dies is an error, not a
        wait for ever. Left before its end, the pool ends (the workers' batches are not wanted)."""
        todo = enumerate(batches)
        idle, busy = list(self._connections), {}  # busy: connection -> the batch's number
        found: dict[int, list[list[Hypothesis]]] = {}
        given = 0
        try:
            while True:
                while idle and (task := next(todo, None)) is not None:
                    connection = idle.pop()
                    connection.send((task[1], config, nbest))
                    busy[connection] = task[0]
                if given in found:
                    yield found.pop(given)
                    given += 1
                    continue
                if not busy:
                    return
                ready = wait([*busy, *(process.sentinel for process in self._processes)])
                for connection in (r for r in ready if r in busy):
                    try:
                        ok, reply = connection.recv()
                    except EOFError:  # its worker died
                        break
                    if not ok:
                        raise RuntimeError(f"a search worker failed:\n{reply}")
                    found[busy.pop(connection)] = [[dataclasses.replace(h, attention=torch.from_numpy(h.attention))
                                                    for h in hyps] for hyps in reply]
                    idle.append(connection)
                if any(not process.is_alive() for process in self._processes):
                    raise UserError(f"a worker process (--workers {self.workers}) ended before its batch was "
                                    "done, killed from outside or out of memory; translate with fewer workers")
        finally:
            if busy:
                self.close()

    def close(self) -> None:
        """Ends the workers (at once: nothing they still hold is wanted)."""
        self._end()

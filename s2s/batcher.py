"""One worker thread that serves many callers: jobs that arrive close together run as one batch.

A caller submits a job (a list of lines and a hashable key: the settings they are
translated with) and gets a `concurrent.futures.Future` for its results, one per line. The
worker takes the oldest job and every job already waiting, then goes on taking jobs while
they keep coming less than `wait` seconds apart (a burst of requests from many clients),
up to `max_lines` lines (`Batcher._take` says how long it waits); it runs each group of
jobs with the same key as one call of `run(key, lines)`, whose results it hands back to
each job in order.
So many small concurrent requests are translated in batches as large as a file's, sorted
by length inside the call, while one model and one worker do all the work.

The queue is bounded in lines: `submit` raises `Full` instead of letting it grow without
end. A caller that stops waiting cancels its future; a job whose future was cancelled
before the worker took it is skipped. `stop` lets the worker finish what is queued.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


class Full(Exception):
    """The queue holds as many lines as it may: the caller should try again later."""


@dataclass
class Job:
    lines: list[str]
    key: Hashable
    future: Future = field(default_factory=Future)
    arrived: float = field(default_factory=time.monotonic)


_STOP = object()
# How long a batch may wait for the last batch's clients (Batcher._take): this many times
# `wait`, or this share of the last batch's time where that is longer.
MAX_WAITS, CATCH_UP = 10, 0.1


class Batcher:
    """A bounded queue of jobs and the one thread that runs them in batches.

    `run(key, lines)` returns one result per line; `wait` is the gap (seconds) between
    arrivals that ends a batch (0: only the jobs already queued join);
    `max_lines` caps a batch (a larger job still runs, alone); `max_queued` caps the lines
    waiting; `batching=False` runs one job at a time.
    """

    def __init__(self, run: Callable[[Hashable, list[str]], Sequence[Any]], *, wait: float = 0.005,
                 max_lines: int = 256, max_queued: int = 4096, batching: bool = True):
        self.run, self.wait, self.max_lines, self.max_queued = run, wait, max_lines, max_queued
        self.batching = batching
        self._queue: queue.Queue = queue.Queue()
        self._queued = 0  # lines submitted and not yet taken by the worker
        self._unanswered = 0  # lines submitted and not yet answered (queued or being translated)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="s2s-batcher", daemon=True)
        self._closed = False
        self._last_run = 0.0  # seconds the last batch took
        self._answered = 0  # lines it answered
        self._finished = 0.0  # when it ended (time.monotonic())
        self.batches = 0  # batches run, and the lines in them: for /health and the bench
        self.lines_run = 0

    def start(self) -> "Batcher":
        self._thread.start()
        return self

    @property
    def queued(self) -> int:
        """Lines waiting for the worker."""
        return self._queued

    @property
    def unanswered(self) -> int:
        """Lines submitted and not yet answered: waiting, or being translated."""
        return self._unanswered

    def submit(self, lines: list[str], key: Hashable) -> Future:
        """Queues a job; its future gets the list of results, or the exception `run` raised."""
        with self._lock:
            if self._closed:
                raise Full("the server is shutting down")
            if self._queued and self._queued + len(lines) > self.max_queued:
                raise Full(f"{self._queued} lines are waiting to be translated (the limit is {self.max_queued})")
            self._queued += len(lines)
            self._unanswered += len(lines)
        job = Job(list(lines), key)
        self._queue.put(job)
        return job.future

    def stop(self, timeout: float | None = None) -> None:
        """Runs what is queued, then ends the worker; later submits are refused."""
        with self._lock:
            self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)

    # -- the worker -----------------------------------------------------------------------

    def _take(self) -> tuple[list[Job], bool]:
        """The next batch: the oldest job and those that join it; and whether to stop after it.

        Jobs join while they keep arriving less than `wait` apart. Right after a batch, its
        clients tend to send again at once, but their requests come back spread over tens of
        milliseconds while the event loop answers and reads them all: so a batch that starts
        within `patience` of the last one's end first waits (at most `patience`) until it has
        as many lines as the last one answered. Without that, clients split into a large
        group and a small one that take turns, and the small batches cost nearly as much
        time as the large ones.
        """
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch, lines = [first], len(first.lines)
        start = time.monotonic()
        patience = max(MAX_WAITS * self.wait, CATCH_UP * self._last_run)
        expected = self._answered if start - self._finished <= patience else 0
        while self.batching and lines < self.max_lines:
            deadline = start + patience
            if lines >= expected:
                deadline = min(max(batch[-1].arrived, start) + self.wait, deadline)
            try:
                left = deadline - time.monotonic()
                job = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is _STOP:
                return batch, True
            batch.append(job)
            lines += len(job.lines)
        return batch, False

    def _work(self) -> None:
        while True:
            batch, stop = self._take()
            if batch:
                self._run(batch)
            if stop:
                self._drain()
                return

    def _drain(self) -> None:
        """Runs the jobs still queued behind the stop (submitted while stopping)."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not _STOP:
                self._run([job])

    def _run(self, batch: list[Job]) -> None:
        lines = sum(len(job.lines) for job in batch)
        with self._lock:
            self._queued -= lines
        started = time.monotonic()
        try:
            self._run_groups(batch)
        finally:
            with self._lock:
                self._unanswered -= lines
            self._finished = time.monotonic()
            self._last_run, self._answered = self._finished - started, lines

    def _run_groups(self, batch: list[Job]) -> None:
        live = [job for job in batch if job.future.set_running_or_notify_cancel()]  # skips the cancelled
        groups: dict[Hashable, list[Job]] = {}
        for job in live:
            groups.setdefault(job.key, []).append(job)
        for key, jobs in groups.items():
            lines = [line for job in jobs for line in job.lines]
            try:
                results = self.run(key, lines)
            except Exception as e:  # a bug: each caller hears of it, the worker goes on
                log.exception("translating a batch of %d lines failed", len(lines))
                for job in jobs:
                    job.future.set_exception(e)
                continue
            self.batches += 1
            self.lines_run += len(lines)
            start = 0
            for job in jobs:
                job.future.set_result(list(results[start:start + len(job.lines)]))
                start += len(job.lines)

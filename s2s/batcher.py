"""One worker thread that serves many callers: jobs that arrive close together run as one batch.

A caller submits a job (a list of items, e.g. lines, and a hashable key: the settings they
are translated with) and gets a `concurrent.futures.Future` for its results, one per item.
The worker takes the oldest job and every job already waiting, then goes on taking jobs
while they keep coming less than `wait` seconds apart (a burst of requests from many
clients), as long as the batch stays within `max_items` (`Batcher._take` says how long it
waits). It runs each group of jobs with the same key as one call of `run(key, items)`,
whose results it hands back to each job in order. So many small concurrent requests are
translated in batches as large as a file's, sorted by length inside the call, while one
model and one worker do all the work.

The queue is bounded in items: `submit` raises `Full` instead of letting it grow without
end. A caller that stops waiting calls `abandon`: a job not yet run leaves the queue's
count at once and is never run; a running one is stopped as soon as `run` next asks its
`stop` callable, once every job of its group is abandoned. `stop` lets the worker finish
what is queued and refuses new jobs.
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

_STOP = object()
# How long a batch may wait for the last batch's clients (Batcher._take): this many times
# `wait`, or this share of the last batch's time where that is longer, but never longer
# than PATIENCE_CAP seconds.
MAX_WAITS, CATCH_UP, PATIENCE_CAP = 10, 0.1, 0.5


class Full(Exception):
    """The queue holds as many items as it may: the caller should try again later."""


@dataclass
class Job:
    items: list
    key: Hashable
    future: Future = field(default_factory=Future)
    arrived: float = field(default_factory=time.monotonic)
    state: str = "queued"  # queued (counted as waiting) -> taken (being run) -> done
    abandoned: bool = False  # its caller stopped waiting while it ran


class Batcher:
    """A bounded queue of jobs and the one thread that runs them in batches.

    `run(key, items, stop)` returns one result per item, and may end early by raising
    when `stop()` is true (every caller of the batch has gone); `wait` is the gap (seconds) between
    arrivals that ends a batch (0: none is waited for, though the clients of the batch
    just answered still are, see `_take`); `max_items` caps a batch (a larger job runs
    alone); `max_queued` caps the items waiting; `batching=False` runs one job at a time.
    """

    def __init__(self, run: Callable[[Hashable, list, Callable[[], bool]], Sequence[Any]], *, wait: float = 0.005,
                 max_items: int = 256, max_queued: int = 4096, batching: bool = True):
        self.run, self.wait, self.max_items, self.max_queued = run, wait, max_items, max_queued
        self.batching = batching
        self._queue: queue.Queue = queue.Queue()
        self._held: Job | None = None  # taken from the queue, but too large for the batch then made
        self._running: dict[int, Job] = {}  # id(future) -> job, for the batch being run
        self._lock = threading.Lock()
        self._queued = 0  # items submitted and not yet taken by the worker
        self._unanswered = 0  # items submitted and not yet answered (queued or being run)
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="s2s-batcher", daemon=True)
        self._last_run = 0.0  # seconds the last batch took,
        self._answered = 0  # how many jobs it answered,
        self._finished = 0.0  # and when it ended (time.monotonic())
        self.batches = 0  # batches run, and the items in them: for /health and the bench
        self.items_run = 0

    def start(self) -> "Batcher":
        self._thread.start()
        return self

    @property
    def queued(self) -> int:
        """Items waiting for the worker."""
        return self._queued

    @property
    def unanswered(self) -> int:
        """Items submitted and not yet answered: waiting, or being run."""
        return self._unanswered

    def submit(self, items: list, key: Hashable) -> Future:
        """Queues a job; its future gets the list of results, or the exception `run` raised."""
        job = Job(list(items), key)
        with self._lock:
            if self._closed:
                raise Full("the server is shutting down")
            if self._queued and self._queued + len(job.items) > self.max_queued:
                raise Full(f"{self._queued} lines are waiting to be translated (the limit is {self.max_queued})")
            self._queued += len(job.items)
            self._unanswered += len(job.items)
            self._queue.put(job)  # under the lock: never behind the stop once stop has begun
        job.future.add_done_callback(lambda future: future.cancelled() and self._forget(job))
        return job.future

    def stop(self, timeout: float | None = None) -> None:
        """Runs what is queued, then ends the worker; later submits are refused."""
        with self._lock:
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)

    def abandon(self, future: Future) -> None:
        """Its caller no longer waits for `future`: a job not yet run is dropped, a running one
        is stopped once all of its group are abandoned."""
        if future.cancel():
            return
        with self._lock:
            job = self._running.get(id(future))
            if job is not None:
                job.abandoned = True

    def _forget(self, job: Job) -> None:
        """A cancelled job's items leave the counts (it is skipped when its turn comes)."""
        with self._lock:
            if job.state == "queued":
                self._queued -= len(job.items)
            if job.state != "done":
                self._unanswered -= len(job.items)
            job.state = "done"

    # -- the worker -----------------------------------------------------------------------

    def _take(self) -> tuple[list[Job], bool]:
        """The next batch: the oldest job and those that join it; and whether to stop after it.

        Jobs join while they keep arriving less than `wait` apart. Right after a batch, its
        clients tend to send again at once, but their requests come back spread over tens of
        milliseconds while the event loop answers and reads them all: so a batch that starts
        within `patience` of the last one's end first waits (at most `patience`) until it
        holds as many jobs as the last one answered. Without that, clients split into a
        large group and a small one that take turns, and the small batches cost nearly as
        much time as the large ones.
        """
        first, self._held = self._held or self._queue.get(), None
        if first is _STOP:
            return [], True
        batch, items = [first], len(first.items)
        start = time.monotonic()
        patience = min(max(MAX_WAITS * self.wait, CATCH_UP * self._last_run), PATIENCE_CAP)
        expected = self._answered if start - self._finished <= patience else 0
        while self.batching and items < self.max_items:
            deadline = start + patience
            if len(batch) >= expected:
                deadline = min(max(batch[-1].arrived, start) + self.wait, deadline)
            try:
                left = deadline - time.monotonic()
                job = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is _STOP:
                return batch, True
            if items + len(job.items) > self.max_items:
                self._held = job  # it starts the next batch
                break
            batch.append(job)
            items += len(job.items)
        return batch, False

    def _work(self) -> None:
        while True:
            batch, stop = self._take()
            if batch:
                self._run(batch)
            if stop:
                break
        for job in ([self._held] if self._held else []) + self._drain():
            self._run([job])

    def _drain(self) -> list[Job]:
        """The jobs still queued behind the stop."""
        jobs = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return jobs
            if job is not _STOP:
                jobs.append(job)

    def _run(self, batch: list[Job]) -> None:
        with self._lock:
            for job in batch:
                if job.state == "queued":
                    self._queued -= len(job.items)
                    job.state = "taken"
        live = [job for job in batch if job.future.set_running_or_notify_cancel()]  # not the cancelled
        with self._lock:
            self._running = {id(job.future): job for job in live}
        started = time.monotonic()
        groups: dict[Hashable, list[Job]] = {}
        for job in live:
            groups.setdefault(job.key, []).append(job)
        for key, jobs in groups.items():
            items = [item for job in jobs for item in job.items]
            try:
                results = self.run(key, items, lambda jobs=jobs: all(job.abandoned for job in jobs))
            except Exception as e:  # stopped for callers who left, or a bug: each hears of it, the worker goes on
                if not all(job.abandoned for job in jobs):
                    log.exception("translating a batch of %d lines failed", len(items))
                for job in jobs:
                    self._answer(job, exception=e)
                continue
            self.batches += 1
            self.items_run += len(items)
            start = 0
            for job in jobs:
                self._answer(job, results[start:start + len(job.items)])
                start += len(job.items)
        with self._lock:
            self._running = {}
        self._finished = time.monotonic()
        self._last_run, self._answered = self._finished - started, len(live)

    def _answer(self, job: Job, results: Sequence[Any] = (), exception: Exception | None = None) -> None:
        with self._lock:
            self._unanswered -= len(job.items)
            job.state = "done"
        if exception is not None:
            job.future.set_exception(exception)
        else:
            job.future.set_result(list(results))

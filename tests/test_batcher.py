"""The batcher hands each job its own results, batches jobs that arrive together, and stays
bounded, whatever its callers do."""

import threading
import time
from concurrent.futures import CancelledError

import pytest

from s2s.batcher import Batcher, Full


class Recorder:
    """A run function that records each call and answers KEY:LINE for each line."""

    def __init__(self, gate: threading.Event | None = None):
        self.calls: list[tuple] = []
        self.gate = gate

    def __call__(self, key, lines, stop=None):
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append((key, list(lines)))
        return [f"{key}:{line}" for line in lines]


def test_each_job_gets_its_own_results_in_order_from_many_threads():
    batcher = Batcher(Recorder(), wait=0.01).start()
    results = {}

    def client(c):
        lines = [f"c{c}-l{i}" for i in range(c % 4 + 1)]
        results[c] = (lines, batcher.submit(lines, "k").result(5))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.stop()
    assert len(results) == 40
    for lines, got in results.values():
        assert got == [f"k:{line}" for line in lines]


def test_jobs_arriving_within_the_wait_run_as_one_call():
    gate = threading.Event()
    run = Recorder(gate)
    batcher = Batcher(run, wait=0.5).start()
    futures = [batcher.submit([f"line {i}"], "k") for i in range(5)]
    gate.set()
    assert [f.result(5) for f in futures] == [[f"k:line {i}"] for i in range(5)]
    batcher.stop()
    assert run.calls == [("k", [f"line {i}" for i in range(5)])]
    assert (batcher.batches, batcher.items_run) == (1, 5)


def test_jobs_with_other_settings_run_apart_and_each_gets_its_own():
    run = Recorder()
    batcher = Batcher(run, wait=0.3).start()
    a, b, c = batcher.submit(["x"], "beam1"), batcher.submit(["y"], "beam5"), batcher.submit(["z"], "beam1")
    assert (a.result(5), b.result(5), c.result(5)) == (["beam1:x"], ["beam5:y"], ["beam1:z"])
    batcher.stop()
    assert sorted(run.calls) == [("beam1", ["x", "z"]), ("beam5", ["y"])]


def test_without_batching_each_job_runs_alone():
    run = Recorder()
    batcher = Batcher(run, wait=0.3, batching=False).start()
    futures = [batcher.submit([f"{i}"], "k") for i in range(4)]
    [f.result(5) for f in futures]
    batcher.stop()
    assert [lines for _, lines in run.calls] == [["0"], ["1"], ["2"], ["3"]]


def test_a_batch_never_grows_past_max_items_and_a_larger_job_runs_alone():
    gate = threading.Event()
    run = Recorder(gate)
    batcher = Batcher(run, wait=0.5, max_items=4).start()
    sizes = [1, 2, 10, 3, 1]
    futures = [batcher.submit([f"{n}-{i}" for i in range(n)], "k") for n in sizes]
    gate.set()
    assert [len(f.result(5)) for f in futures] == sizes
    batcher.stop()
    assert [len(lines) for _, lines in run.calls] == [3, 10, 4]  # in order: 1+2 | 10 | 3+1


def test_a_full_queue_refuses_and_accepts_again_once_drained():
    gate = threading.Event()
    batcher = Batcher(Recorder(gate), wait=0, max_queued=3).start()
    running = batcher.submit(["a"], "k")  # taken by the worker, which waits at the gate
    deadline = time.monotonic() + 5
    while batcher.queued and time.monotonic() < deadline:
        time.sleep(0.01)
    waiting = batcher.submit(["b", "c", "d"], "k")
    with pytest.raises(Full):
        batcher.submit(["e"], "k")
    gate.set()
    assert running.result(5) == ["k:a"] and waiting.result(5) == ["k:b", "k:c", "k:d"]
    assert batcher.submit(["e"], "k").result(5) == ["k:e"]
    batcher.stop()


def test_a_cancelled_job_is_never_run():
    gate = threading.Event()
    run = Recorder(gate)
    batcher = Batcher(run, wait=0).start()
    first = batcher.submit(["first"], "k")
    deadline = time.monotonic() + 5
    while batcher.queued and time.monotonic() < deadline:
        time.sleep(0.01)
    gone = batcher.submit(["gone", "too"], "k")
    assert (batcher.queued, batcher.unanswered) == (2, 3)
    assert gone.cancel()
    assert (batcher.queued, batcher.unanswered) == (0, 1)  # its lines leave the counts at once
    gate.set()
    assert first.result(5) == ["k:first"]
    with pytest.raises(CancelledError):
        gone.result(5)
    batcher.stop()
    assert all("gone" not in lines for _, lines in run.calls)


def test_a_failing_batch_fails_its_jobs_and_the_worker_goes_on():
    def run(key, lines, stop):
        if "boom" in lines:
            raise RuntimeError("bug")
        return lines

    batcher = Batcher(run, wait=0).start()
    with pytest.raises(RuntimeError):
        batcher.submit(["boom"], "k").result(5)
    assert batcher.submit(["fine"], "k").result(5) == ["fine"]
    batcher.stop()


def test_stop_finishes_what_is_queued_then_refuses():
    gate = threading.Event()
    batcher = Batcher(Recorder(gate), wait=0).start()
    futures = [batcher.submit([str(i)], "k") for i in range(3)]
    stopper = threading.Thread(target=batcher.stop)
    stopper.start()
    gate.set()
    stopper.join(5)
    assert [f.result(0) for f in futures] == [["k:0"], ["k:1"], ["k:2"]]
    with pytest.raises(Full):
        batcher.submit(["late"], "k")


def test_clients_just_answered_are_waited_for_so_batches_stay_whole():
    """Eight clients in a closed loop, each sending again 0-10 ms after its answer: with a gap
    of 1 ms alone they would trickle into batches of one or two; the batcher waits for them."""
    import random

    def slow(key, lines, stop):
        time.sleep(0.5)  # the wait for the clients just answered is up to a tenth of this
        return lines

    batcher = Batcher(slow, wait=0.001).start()
    start = threading.Barrier(8)

    def client(c):
        rng = random.Random(c)
        start.wait()
        for round in range(3):
            batcher.submit([f"{c}-{round}"], "k").result(10)
            time.sleep(rng.uniform(0, 0.010))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    batcher.stop()
    assert batcher.items_run == 24
    assert batcher.items_run / batcher.batches >= 4  # without the wait: about 1.5


def test_the_wait_for_the_last_batchs_clients_counts_requests_not_lines():
    """After one client's 200-line batch, a lone one-line request is not held back waiting
    for 200 lines to come."""
    batcher = Batcher(lambda key, lines, stop: (time.sleep(1.0), lines)[1], wait=0).start()
    batcher.submit(["x"] * 200, "k").result(10)
    start = time.monotonic()
    batcher.submit(["y"], "k").result(10)
    took = time.monotonic() - start
    batcher.stop()
    assert took < 1.0 + 0.05  # its own 1 s, not 1 s and the 0.1 s wait for company


def test_an_abandoned_job_is_dropped_if_waiting_and_stopped_if_running():
    started, stops = threading.Event(), []

    def run(key, lines, stop):
        started.set()
        for _ in range(200):  # checks `stop` between steps, as search does between batches
            if stop():
                stops.append(lines)
                raise RuntimeError("stopped")
            time.sleep(0.01)
        return lines

    batcher = Batcher(run, wait=0).start()
    running = batcher.submit(["long"], "k")
    assert started.wait(5)
    waiting = batcher.submit(["next"], "k")
    batcher.abandon(waiting)
    assert waiting.cancelled() and batcher.queued == 0
    begun = time.monotonic()
    batcher.abandon(running)
    with pytest.raises(RuntimeError):
        running.result(5)
    assert time.monotonic() - begun < 1.0 and stops == [["long"]]  # not the 2 s it would have taken
    assert batcher.unanswered == 0 and batcher.submit(["after"], "k").result(5) == ["after"]
    batcher.stop()


def test_a_running_job_goes_on_while_one_of_its_batch_still_waits():
    gate, finished = threading.Event(), []

    def run(key, lines, stop):
        gate.wait(5)
        finished.append(stop())
        return lines

    batcher = Batcher(run, wait=0.3).start()
    one, two = batcher.submit(["one"], "k"), batcher.submit(["two"], "k")
    time.sleep(0.5)  # both taken into one batch
    batcher.abandon(one)
    gate.set()
    assert two.result(5) == ["two"] and finished == [False]
    batcher.stop()

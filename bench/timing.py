"""Timing for the benches: the machine's fp32 matmul peak, and a command's wall time and memory."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch


def matmul_peak(repeats: int = 10) -> float:
    """The best median GFLOP/s of fp32 square matrix products on this machine."""
    best = 0.0
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - start)
        best = max(best, 2 * n ** 3 / statistics.median(times) / 1e9)
    return best


def run_timed(cmd: list[str]) -> tuple[float, int]:
    """Runs a command (its messages kept back unless it fails); returns its wall seconds and
    peak resident memory (KB)."""
    with tempfile.TemporaryFile() as messages:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stderr=messages)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            messages.seek(0)
            sys.exit(f"failed: {' '.join(cmd)}\n{messages.read().decode(errors='replace')}")
    return seconds, usage.ru_maxrss

"""Load test of `s2s serve`: many clients sending one sentence each, with batching on and off,
against `s2s translate` on the same lines, in one run on one machine.

For each number of concurrent clients (1, 8, 64), the clients send the test lines one per
request (each client sends its next line as soon as its last is answered) until every line
was sent once or the time is up, and the bench reports requests/s (= sentences/s here),
latency percentiles and errors; every answer is checked against `s2s translate`'s output
for that line (a result that matches another line's translation counts as shifted).

    python bench/serve.py -m runs/multi30k_de_en          # Multi30k de-en test_2016_flickr
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx


def parse_args() -> argparse.Namespace:
    data = Path(os.environ.get("S2S_DATA", "data")) / "multi30k"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", default="runs/multi30k_de_en", help="checkpoint or run directory")
    parser.add_argument("--src", default=str(data / "test_2016_flickr.de"), help="the lines to send")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--requests", type=int, default=1000, help="most requests per setting")
    parser.add_argument("--seconds", type=float, default=60, help="most seconds per setting")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of s2s translate (median)")
    return parser.parse_args()


def cpu() -> str:
    """The CPU's model name and the flags that matter to torch's kernels."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    shown = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8") if f in flags]
    return f"{model}, {os.cpu_count()} cores, flags: {' '.join(shown) or 'none of avx2/avx512/amx'}"


def translate_command(model: str, src: str, repeats: int) -> tuple[list[str], float]:
    """`s2s translate`'s output and the median seconds of the whole command."""
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.txt"
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "s2s", "translate", "-m", model, "-i", src, "-o", str(out),
                            "--quiet"], check=True)
            seconds.append(time.perf_counter() - start)
        return out.read_text(encoding="utf-8").splitlines(), statistics.median(seconds)


def translate_alone(model: str, lines: list[str], repeats: int) -> float:
    """Median seconds of Translator.translate over the lines in this process (model loaded first)."""
    from s2s import Translator

    translator = Translator.load(model, device="cpu")
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        translator.translate(lines)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


class Server:
    def __init__(self, model: str, *options: str):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "s2s", "serve", "-m", model, "--port", str(self.port),
                                         *options], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("s2s serve did not start within 120 s")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)


async def load(url: str, lines: list[str], expected: list[str], clients: int, most: int, seconds: float) -> dict:
    """`clients` concurrent clients sending one line per request; figures and checks."""
    where = {text: i for i, text in enumerate(expected)}
    todo = iter(range(min(most, len(lines))))
    latencies, errors, differ, shifted = [], 0, 0, 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await client.post("/translate", json={"text": [lines[0]]})  # warm-up
        before = (await client.get("/health")).json()
        end = time.perf_counter() + seconds

        async def one_client():
            nonlocal errors, differ, shifted
            for i in todo:
                if time.perf_counter() > end:
                    return
                start = time.perf_counter()
                try:
                    response = await client.post("/translate", json={"text": [lines[i]]})
                    text = response.json()["translations"][0]["text"] if response.status_code == 200 else None
                except (httpx.HTTPError, ValueError, KeyError):
                    text = None
                latencies.append(time.perf_counter() - start)
                if text is None:
                    errors += 1
                elif text != expected[i]:
                    differ += 1
                    shifted += where.get(text, i) != i

        start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        wall = time.perf_counter() - start
        after = (await client.get("/health")).json()
    batches = after["batches"] - before["batches"]
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {"requests": len(latencies), "per_s": len(latencies) / wall, "p50": quantiles[49] * 1000,
            "p95": quantiles[94] * 1000, "p99": quantiles[98] * 1000, "errors": errors, "differ": differ,
            "shifted": shifted, "lines_per_batch": (after["lines_translated"] - before["lines_translated"]) / max(1, batches)}


def main() -> None:
    args = parse_args()
    lines = Path(args.src).read_text(encoding="utf-8").splitlines()
    print(f"CPU: {cpu()}")
    print(f"model {args.model}; {len(lines)} lines from {args.src}; the model's own search settings")
    expected, command = translate_command(args.model, args.src, args.repeats)
    alone = translate_alone(args.model, lines, args.repeats)
    print(f"s2s translate: {len(lines) / command:.1f} sentences/s whole command ({command:.1f} s), "
          f"{len(lines) / alone:.1f} sentences/s translating alone ({alone:.1f} s); median of {args.repeats}")
    print()
    print("| batching | clients | requests | requests/s | p50 ms | p95 ms | p99 ms | errors | differ | shifted "
          "| lines/batch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rates = {}
    for batching in (True, False):
        server = Server(args.model, *([] if batching else ["--no-batching"]))
        try:
            for clients in args.clients:
                r = asyncio.run(load(server.url, lines, expected, clients, args.requests, args.seconds))
                rates[batching, clients] = r["per_s"]
                print(f"| {'on' if batching else 'off'} | {clients} | {r['requests']} | {r['per_s']:.1f} | "
                      f"{r['p50']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} | {r['errors']} | {r['differ']} | "
                      f"{r['shifted']} | {r['lines_per_batch']:.1f} |", flush=True)
        finally:
            server.stop()
    print()
    for clients in args.clients:
        print(f"{clients} clients: batching on is {rates[True, clients] / rates[False, clients]:.1f}x off; "
              f"{100 * rates[True, clients] * command / len(lines):.0f}% of s2s translate's whole command, "
              f"{100 * rates[True, clients] * alone / len(lines):.0f}% of translating alone")
    print(json.dumps({"clients": args.clients, "sentences_per_s": {f"{'on' if b else 'off'}-{c}": round(v, 2)
                                                                   for (b, c), v in rates.items()}}))


if __name__ == "__main__":
    main()

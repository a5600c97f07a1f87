"""Load test of `s2s serve`: many clients sending one sentence each, with batching on and off,
against `s2s translate` on the same lines, in one run on one machine.

For each number of concurrent clients (1, 8, 64), the clients send the test lines one per
request (each client sends its next line as soon as its last is answered) until every line
was sent once or the time is up, and the bench reports requests/s (= sentences/s here),
latency percentiles and errors; every answer is checked against `s2s translate`'s output
for that line (a result that matches another line's translation counts as shifted). The
comparison with `s2s translate` (the whole command, and Translator.translate alone in this
process) alternates with the largest number of clients, round by round, so that the
machine's drift from minute to minute falls on both sides; ratios are per round, then the
median.

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

from machine import cpu

WARM_UP = 16  # single-line requests sent before each setting is timed (from the end of the file)


def parse_args() -> argparse.Namespace:
    data = Path(os.environ.get("S2S_DATA", "data")) / "multi30k"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", default="runs/multi30k_de_en", help="checkpoint or run directory")
    parser.add_argument("--src", default=str(data / "test_2016_flickr.de"), help="the lines to send")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--requests", type=int, default=1000, help="most requests per setting")
    parser.add_argument("--seconds", type=float, default=60, help="most seconds per setting")
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds of s2s translate, then the server with the most clients (medians)")
    return parser.parse_args()


def translate_command(model: str, src: str) -> tuple[list[str], float]:
    """`s2s translate`'s output and the seconds of the whole command."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.txt"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "s2s", "translate", "-m", model, "-i", src, "-o", str(out), "--quiet"],
                       check=True)
        seconds = time.perf_counter() - start
        return out.read_text(encoding="utf-8").splitlines(), seconds


def translate_alone(translator, lines: list[str]) -> float:
    """Seconds of Translator.translate over the lines in this process (model loaded already)."""
    start = time.perf_counter()
    translator.translate(lines)
    return time.perf_counter() - start


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
        for line in lines[-WARM_UP:]:  # warm-up: the first batches of each shape are slower
            await client.post("/translate", json={"text": [line]})
        await client.post("/translate", json={"text": lines[-64:]})
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


def row(batching: str, clients: str, r: dict) -> str:
    return (f"| {batching} | {clients} | {r['requests']} | {r['per_s']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} | "
            f"{r['p99']:.0f} | {r['errors']} | {r['differ']} | {r['shifted']} | {r['lines_per_batch']:.1f} |")


def main() -> None:
    from s2s import Translator

    args = parse_args()
    lines = Path(args.src).read_text(encoding="utf-8").splitlines()
    print(f"CPU: {cpu()}")
    print(f"model {args.model}; {len(lines)} lines from {args.src}; the model's own search settings")
    expected, _ = translate_command(args.model, args.src)  # what every answer is checked against
    translator = Translator.load(args.model, device="cpu")
    translator.translate(lines[:64])
    print()
    print("| batching | clients | requests | requests/s | p50 ms | p95 ms | p99 ms | errors | differ | shifted "
          "| lines/batch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rates, most = {}, max(args.clients)
    rounds = []  # (s2s translate whole command, translating alone, the server with `most` clients), sentences/s
    measure = lambda url, clients: asyncio.run(load(url, lines, expected, clients, args.requests, args.seconds))  # noqa: E731
    server = Server(args.model)
    try:
        for clients in sorted(set(args.clients) - {most}):
            r = measure(server.url, clients)
            rates[True, clients] = r["per_s"]
            print(row("on", str(clients), r), flush=True)
        for n in range(1, args.repeats + 1):  # the target's comparison, side by side in alternation
            _, command = translate_command(args.model, args.src)
            alone = translate_alone(translator, lines)
            r = measure(server.url, most)
            rounds.append((len(lines) / command, len(lines) / alone, r["per_s"]))
            print(row("on", f"{most} (round {n})", r), flush=True)
    finally:
        server.stop()
    rates[True, most] = statistics.median(served for _, _, served in rounds)
    server = Server(args.model, "--no-batching")
    try:
        for clients in args.clients:
            r = measure(server.url, clients)
            rates[False, clients] = r["per_s"]
            print(row("off", str(clients), r), flush=True)
    finally:
        server.stop()
    print()
    for n, (command, alone, served) in enumerate(rounds, 1):
        print(f"round {n}: s2s translate {command:.1f} sentences/s whole command, {alone:.1f} translating alone; "
              f"the server with {most} clients {served:.1f}: {100 * served / command:.0f}% and {100 * served / alone:.0f}%")
    print(f"{most} clients, median of the rounds: {100 * statistics.median(s / c for c, _, s in rounds):.0f}% of "
          f"s2s translate's whole command, {100 * statistics.median(s / a for _, a, s in rounds):.0f}% of translating "
          f"alone")
    for clients in args.clients:
        print(f"{clients} clients: batching on is {rates[True, clients] / rates[False, clients]:.1f}x off"
              + (" (the median of the rounds against the one run with batching off)" if clients == most else ""))
    print(json.dumps({"sentences_per_s": {f"{'on' if b else 'off'}-{c}": round(v, 2) for (b, c), v in rates.items()},
                      "rounds": [[round(x, 2) for x in r] for r in rounds]}))


if __name__ == "__main__":
    main()

"""`s2s serve` as a real process on 127.0.0.1: what `s2s translate` gives, line by line, under
concurrent clients; bad input answered and survived; SIGTERM still answers what is in flight."""

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx2", reason="httpx2 (a dev dependency) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (fastapi, uvicorn) is not installed: pip install -e '.[serve]'")

from tests.conftest import load_page_driver  # noqa: E402

pytestmark = pytest.mark.slow


class Server:
    """`s2s serve` in a child process (docs/screenshot.py starts it), ready when /health answers."""

    def __init__(self, model: Path, *options: str):
        self.process, url = load_page_driver().serve(model, *options, stderr=subprocess.PIPE)
        self.url = url.rstrip("/")
        self.port = int(self.url.rsplit(":", 1)[1])

    def post(self, body, **kwargs) -> httpx.Response:
        content = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return httpx.post(f"{self.url}/translate", content=content, **{"timeout": 120, **kwargs})

    def health(self) -> dict:
        return httpx.get(f"{self.url}/health", timeout=10).json()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        finally:
            self.process.stderr.close()


@pytest.fixture(scope="module")
def served(demo_run):
    server = Server(demo_run / "run")
    yield server
    server.stop()


def cli_nbest(model: Path, lines: list[str], n: int, tmp_path: Path) -> list[list[tuple[str, str]]]:
    """`s2s translate --nbest n` of the lines: (score to 4 decimals, text) per rank per line."""
    source = tmp_path / "lines.txt"
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "s2s", "translate", "-m", str(model), "--nbest", str(n), "-i",
                          str(source)], capture_output=True, text=True, check=True).stdout
    found: list[list[tuple[str, str]]] = [[] for _ in lines]
    for row in out.splitlines():
        number, _, score, text = row.split("\t", 3)
        if score != "-inf":
            found[int(number) - 1].append((score, text))
    return found


def test_results_equal_s2s_translates_line_by_line(served, demo_run, tmp_path):
    lines = (demo_run / "demo" / "test.src").read_text(encoding="utf-8").splitlines()[:30]
    lines += ["", "  ", f"{lines[0]} {lines[1]} {lines[2]}"]  # blank lines, and a paragraph of three sentences
    answer = served.post({"text": lines, "nbest": 3})
    assert answer.status_code == 200, answer.text
    got = [[(f"{o['score']:.4f}", o["text"]) for o in line["nbest"]] for line in answer.json()["translations"]]
    assert got == cli_nbest(demo_run / "run", lines, 3, tmp_path)


def test_concurrent_clients_each_get_their_own_line_in_batches(served, demo_run, tmp_path):
    lines = (demo_run / "demo" / "test.src").read_text(encoding="utf-8").splitlines()[100:132]
    expected = [found[0][1] for found in cli_nbest(demo_run / "run", lines, 1, tmp_path)]
    before = served.health()
    got: dict[int, str] = {}

    def client(i):
        got[i] = served.post({"text": [lines[i]]}).json()["translations"][0]["text"]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(lines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [got[i] for i in range(len(lines))] == expected
    after = served.health()
    assert after["lines_translated"] - before["lines_translated"] == len(lines)
    assert after["batches"] - before["batches"] < len(lines)  # requests that came together ran together


def test_bad_input_gets_a_4xx_and_the_server_answers_the_next(served):
    assert served.post(b'{"text": ["\xff\xfe"]}').status_code == 400
    assert served.post("x" * (2 << 20)).status_code == 413
    assert served.post({"text": ["a"], "beam": -1}).status_code == 422
    assert served.post({"text": ["The dog sees a cat."]}).json()["translations"][0]["text"]


def test_sigterm_during_a_request_still_answers_it_then_exits(demo_run):
    server = Server(demo_run / "run")
    lines = (demo_run / "demo" / "test.src").read_text(encoding="utf-8").splitlines()[:200]
    answers = []
    thread = threading.Thread(target=lambda: answers.append(server.post({"text": lines, "beam": 12})))
    thread.start()
    deadline = time.monotonic() + 30
    while server.health()["unanswered_lines"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # until the request is being translated
    assert not answers
    status = server.stop()
    thread.join(60)
    assert answers and answers[0].status_code == 200
    assert len(answers[0].json()["translations"]) == 200
    assert status in (-signal.SIGTERM, 128 + signal.SIGTERM)  # killed by the signal it re-raises, or 143
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health", timeout=2)


def test_a_client_that_leaves_takes_its_lines_out_of_the_queue(demo_run):
    server = Server(demo_run / "run", "--batch-wait-ms", "0")
    try:
        lines = (demo_run / "demo" / "test.src").read_text(encoding="utf-8").splitlines()
        busy = threading.Thread(target=lambda: server.post({"text": lines[:256], "beam": 24}))
        busy.start()  # keeps the worker busy for seconds
        deadline = time.monotonic() + 30
        while server.health()["queued_lines"] or not server.health()["unanswered_lines"]:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with pytest.raises(httpx.TimeoutException):  # waits in the queue, then hangs up
            server.post({"text": lines[256:306]}, timeout=0.5)
        deadline = time.monotonic() + 5
        while server.health()["unanswered_lines"] != 256:
            assert time.monotonic() < deadline, server.health()
            time.sleep(0.05)
        assert busy.is_alive()  # the 50 lines left while the first request was still being translated
        busy.join(120)
    finally:
        server.stop()


def test_a_port_in_use_is_one_line_naming_it(served, demo_run):
    result = subprocess.run([sys.executable, "-m", "s2s", "serve", "-m", str(demo_run / "run"), "--port",
                             str(served.port)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: --host 127.0.0.1 --port {served.port}: cannot listen there (Address already in use); "
        "is another server using it? Choose another --port"]
    elsewhere = subprocess.run([sys.executable, "-m", "s2s", "serve", "-m", str(demo_run / "run"), "--host",
                                "192.0.2.1"], capture_output=True, text=True, timeout=120)  # TEST-NET-1, never ours
    assert elsewhere.returncode == 1 and "choose another --host" in elsewhere.stderr

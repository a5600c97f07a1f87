"""The server's API answers as the Translator does, names what is wrong with a bad request,
refuses what would overload it, and keeps answering afterwards (in-process, no sockets)."""

import dataclasses
import json
import threading
import time

import pytest
import torch

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed: pip install -e '.[serve]'")
from fastapi.testclient import TestClient  # noqa: E402

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig, SearchConfig  # noqa: E402
from s2s.model import Seq2Seq  # noqa: E402
from s2s.server import Limits, create_app  # noqa: E402
from s2s.translator import Translator  # noqa: E402

LINES = ["the dog sees a cat .", "", "a big red dog runs . the cat sleeps near the river .", "cat"]


def make_translator(tokenizer) -> Translator:
    torch.manual_seed(0)
    config = ModelConfig(embed_dim=16, dropout=0.0, encoder=EncoderConfig(hidden_size=8),
                         decoder=DecoderConfig(hidden_size=16))
    model = Seq2Seq.from_config(config, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    return Translator(model.eval(), tokenizer, torch.device("cpu"), batch_size=3, search=SearchConfig(beam=4),
                      max_src_len=100)  # each sentence of a line translated on its own


@dataclasses.dataclass
class Gated(Translator):
    """A translator that waits at a gate before each batch: a busy worker, on demand."""

    gate: threading.Event = dataclasses.field(default_factory=threading.Event)
    entered: threading.Event = dataclasses.field(default_factory=threading.Event)

    def nbest(self, lines, n, first_line=1):
        self.entered.set()
        self.gate.wait(10)
        return super().nbest(lines, n, first_line)


@pytest.fixture(scope="module")
def client(tokenizer):
    app = create_app(make_translator(tokenizer), Limits(max_lines=8, max_line_chars=200, max_request_bytes=6000,
                                                        max_attention_lines=4),
                     info={"parameters": 1, "config": {"data": {"src_lang": "src"}}})
    with TestClient(app) as client:
        yield client


def post(client, body):
    return client.post("/translate", content=body if isinstance(body, (str, bytes)) else json.dumps(body))


def test_results_are_the_translators_own_line_by_line(client, tokenizer):
    translator = make_translator(tokenizer)
    answer = post(client, {"text": LINES, "nbest": 3, "attention": True}).json()["translations"]
    expected = translator.nbest(LINES, 3)
    assert len(answer) == len(LINES)
    for got, found in zip(answer, expected):
        assert (got["text"], got["score"]) == (found[0].text, pytest.approx(found[0].score, abs=1e-5))
        assert [o["text"] for o in got["nbest"]] == [t.text for t in found]
    blank = answer[1]
    assert blank == {"text": "", "score": 0.0, "nbest": [{"text": "", "score": 0.0}], "attention": []}


def test_an_ensemble_serves_as_one_model(tokenizer):
    from s2s.ensemble import Ensemble

    members = [make_translator(tokenizer).model]
    torch.manual_seed(1)
    members.append(Seq2Seq.from_config(ModelConfig(embed_dim=16, dropout=0.0, encoder=EncoderConfig(hidden_size=8),
                                                   decoder=DecoderConfig(cell="cgru", hidden_size=12,
                                                                         input_feeding=False)),
                                       tokenizer.src_vocab_size, tokenizer.tgt_vocab_size).eval())
    translator = dataclasses.replace(make_translator(tokenizer), model=Ensemble(members))
    with TestClient(create_app(translator, Limits(), info={"parameters": 1})) as ensemble_client:
        answer = post(ensemble_client, {"text": LINES, "nbest": 2, "alignments": True}).json()["translations"]
    for got, found in zip(answer, translator.nbest(LINES, 2)):
        assert [o["text"] for o in got["nbest"]] == [t.text for t in found]
        assert got["alignment"] == [list(link) for link in translator.alignment(found[0])]
    assert len({j for _, j in answer[0]["alignment"]}) == len(answer[0]["text"].split())


def test_samples_are_the_translators_own_and_any_number(client, tokenizer):
    settings = {"sample": True, "top_p": 0.9, "seed": 4}
    answer = post(client, {"text": LINES, "nbest": 6, **settings}).json()["translations"]  # 6 > beam 4
    expected = make_translator(tokenizer).with_search(**settings).nbest(LINES, 6)
    for got, found in zip(answer, expected):
        assert [o["text"] for o in got["nbest"]] == [t.text for t in found]
    assert post(client, {"text": LINES, "sample": True, "top_p": 0}).status_code == 422


def test_attention_is_a_block_per_sentence_with_a_row_per_output_piece(client, tokenizer):
    got = post(client, {"text": ["the dog sees a cat .", "a dog runs . the cat sleeps ."], "attention": True})
    one, two = (line["attention"] for line in got.json()["translations"])
    assert len(one) == 1 and len(two) == 2
    translator = make_translator(tokenizer)
    whole = translator.attention(translator.nbest(["a dog runs . the cat sleeps ."], 1)[0][0])
    assert [p for block in two for p in block["source"]] == whole.source
    for block in one + two:
        weights = torch.tensor(block["weights"])
        assert weights.shape == (len(block["target"]), len(block["source"]))
        assert torch.allclose(weights.sum(1), torch.ones(len(block["target"])), atol=1e-3)
        assert block["source"][-1] == "</s>"


def test_alignments_are_the_translators_own_for_each_translation(client, tokenizer):
    translator = make_translator(tokenizer)
    got = post(client, {"text": LINES, "nbest": 2, "alignments": True}).json()["translations"]
    for answer, found in zip(got, translator.nbest(LINES, 2)):
        assert answer["alignment"] == [list(link) for link in translator.alignment(found[0])]
        assert [o["alignment"] for o in answer["nbest"]] == [[list(link) for link in translator.alignment(t)]
                                                             for t in found]
    assert got[1]["alignment"] == [] and "attention" not in got[0]
    assert len({j for _, j in got[2]["alignment"]}) == len(got[2]["text"].split())


def test_search_options_reach_search(client, tokenizer):
    translator = make_translator(tokenizer).with_search(beam=1)
    got = post(client, {"text": LINES, "beam": 1}).json()["translations"]
    assert [g["text"] for g in got] == translator.translate(LINES)
    assert "nbest" not in got[0] and "attention" not in got[0]


@pytest.mark.parametrize("body, status, names", [
    ("", 400, "empty"),
    ("{\"text\": [\"a\"", 400, "not valid JSON"),
    (b"{\"text\": [\"\xff\"]}", 400, "UTF-8"),
    ("[\"a\"]", 400, "JSON object"),
    ("[" * 5000 + "]" * 5000, 413, "limit"),
    ("[" * 1500 + "]" * 1500, 400, "nested too deeply"),
    ('{"text": ["a"], "beam": %s}' % ("9" * 5000), 400, "not valid JSON here"),  # more digits than int() takes
    ({"text": []}, 422, "text:"),
    ({"text": "a line"}, 422, "text:"),
    ({"text": ["a", 3]}, 422, "text[1]:"),
    ({"text": ["a\nb"]}, 422, "text[0]: contains a line break"),
    ({"text": ["\ud800"]}, 422, "text[0]: not valid Unicode"),
    ({"text": ["a"] * 9}, 413, "text: 9 lines"),
    ({"text": ["a"] * 5, "attention": True}, 413, "attention: asked for 5 lines"),
    ({"text": ["a" * 201]}, 413, "text[0]: 201 characters"),
    ({"text": ["a"], "beam": 0}, 422, "beam:"),
    ({"text": ["a"], "beam": "5"}, 422, "beam:"),
    ({"text": ["a"], "beam": 1000}, 422, "beam:"),
    ({"text": ["a"], "nbest": 5}, 422, "nbest: 5 is larger than the beam (4)"),
    ({"text": ["a"], "alpha": -1}, 422, "alpha:"),
    ({"text": ["a"], "length_penalty": "long"}, 422, "length_penalty:"),
    ({"text": ["a"], "attention": "yes"}, 422, "attention:"),
    ({"text": ["a"], "model": "/etc/passwd"}, 422, "model: unknown field"),
    ({"beam": 2}, 422, "text: required"),
])
def test_a_bad_request_gets_its_4xx_naming_the_problem_and_the_next_is_served(client, body, status, names):
    response = post(client, body)
    assert response.status_code == status, response.text
    assert names in response.json()["error"]
    assert post(client, {"text": ["the cat"]}).status_code == 200


def test_requests_asking_for_more_or_less_output_share_a_batch(tokenizer):
    translator, app = gated_app(tokenizer, batch_wait_ms=200)
    translator.gate.set()
    with TestClient(app) as client:
        answers = []
        threads = [in_thread(client, body, answers) for body in (
            {"text": ["the dog"]}, {"text": ["a cat"], "attention": True}, {"text": ["a dog runs"], "nbest": 1})]
        for thread in threads:
            thread.join(10)
        assert sorted(a.status_code for a in answers) == [200, 200, 200]
        assert app.state.batcher.batches == 1  # the same search settings: one batch


def test_nan_and_infinity_are_refused(client):
    for value in ("NaN", "Infinity"):
        response = post(client, '{"text": ["a"], "alpha": %s}' % value)
        assert response.status_code == 422 and response.json()["error"].startswith("alpha:")


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/etc/passwd").json()["error"].startswith("Not Found: the routes are GET /, ")
    assert client.get("/translate").status_code == 405


def test_health_info_openapi_and_the_page(client):
    assert client.get("/health").json()["status"] == "ok"
    info = client.get("/info").json()
    assert info["parameters"] == 1 and info["search"]["beam"] == 4 and info["limits"]["max_lines"] == 8
    assert "/translate" in client.get("/openapi.json").json()["paths"]
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html") and 'src="page.js"' in page.text
    assert "function drawAttention" in client.get("/page.js").text
    assert client.get("/page.css").status_code == 200


def gated_app(tokenizer, **limits):
    translator = Gated(**{f.name: getattr(make_translator(tokenizer), f.name)
                          for f in dataclasses.fields(Translator)})
    return translator, create_app(translator, Limits(**{"batch_wait_ms": 0, **limits}))


def in_thread(client, body, into):
    thread = threading.Thread(target=lambda: into.append(post(client, body)))
    thread.start()
    return thread


def wait_until(condition, seconds=5):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_full_queue_answers_503_with_retry_after(tokenizer):
    translator, app = gated_app(tokenizer, max_queue=2)
    with TestClient(app) as client:
        answers = []
        first = in_thread(client, {"text": ["one"]}, answers)
        assert translator.entered.wait(5)  # the worker holds the first request at the gate
        second = in_thread(client, {"text": ["two", "three"]}, answers)
        wait_until(lambda: app.state.batcher.queued == 2)
        refused = post(client, {"text": ["four"]})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert "busy" in refused.json()["error"]
        translator.gate.set()
        first.join(10), second.join(10)
        assert [a.status_code for a in answers] == [200, 200]
        assert post(client, {"text": ["four"]}).status_code == 200


def test_a_request_not_done_in_time_answers_503_and_the_server_goes_on(tokenizer):
    translator, app = gated_app(tokenizer, timeout=0.3)
    with TestClient(app) as client:
        late = post(client, {"text": ["slow"]})
        assert late.status_code == 503 and "--timeout" in late.json()["error"]
        translator.gate.set()
        assert post(client, {"text": ["fast"]}).status_code == 200


@dataclasses.dataclass
class Broken(Translator):
    """A translator with a bug on one input."""

    def nbest(self, lines, n, first_line=1):
        if "bug" in lines:
            raise RuntimeError("a bug")
        return super().nbest(lines, n, first_line)


def test_a_bug_while_translating_answers_500_and_the_server_goes_on(tokenizer):
    translator = Broken(**{f.name: getattr(make_translator(tokenizer), f.name) for f in dataclasses.fields(Translator)})
    with TestClient(create_app(translator)) as client:
        failed = post(client, {"text": ["bug"]})
        assert failed.status_code == 500 and "log" in failed.json()["error"]
        assert post(client, {"text": ["the cat"]}).status_code == 200


@dataclasses.dataclass
class Slow(Translator):
    """Takes 5 s for a line "slow", asking `stop` between steps as search does between batches."""

    def nbest(self, lines, n, first_line=1):
        from s2s.translator import Stopped

        for _ in range(100 if "slow" in lines else 0):
            if self.stop is not None and self.stop():
                raise Stopped("stopped")
            time.sleep(0.05)
        return super().nbest(lines, n, first_line)


def test_a_request_past_its_time_stops_being_translated_and_the_next_is_served(tokenizer):
    translator = Slow(**{f.name: getattr(make_translator(tokenizer), f.name) for f in dataclasses.fields(Translator)})
    app = create_app(translator, Limits(timeout=0.5, batch_wait_ms=0))
    with TestClient(app) as client:
        assert post(client, {"text": ["slow"]}).status_code == 503
        start = time.monotonic()
        assert post(client, {"text": ["the cat"]}).status_code == 200
        assert time.monotonic() - start < 2.5  # not behind the 5 s the abandoned line would have taken
        assert app.state.batcher.unanswered == 0


def test_alignments_from_a_model_without_attention_are_a_422(tokenizer):
    torch.manual_seed(0)
    config = ModelConfig(embed_dim=16, encoder=EncoderConfig(hidden_size=8),
                         decoder=DecoderConfig(hidden_size=16, attention="none", input_feeding=False))
    model = Seq2Seq.from_config(config, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    with TestClient(create_app(Translator(model.eval(), tokenizer, torch.device("cpu")))) as plain:
        answer = post(plain, {"text": ["a dog"], "alignments": True})
        assert answer.status_code == 422 and answer.json()["error"].startswith("alignments: this model has no")
        assert post(plain, {"text": ["a dog"]}).status_code == 200

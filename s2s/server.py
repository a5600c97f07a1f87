"""The translation server: a JSON API over one Translator, and a page that shows attention.

Every request's lines go to one `s2s.batcher.Batcher`, so requests that arrive within a
few milliseconds of each other are translated as one batch by one worker thread while the
event loop keeps answering. Each line's result is exactly what `s2s translate` gives for
that line with the same search settings.

Nothing a client sends names a file: the page's three files are read once at start-up,
and a request is only ever text and search options, checked before anything runs (size,
UTF-8, JSON, fields, types, ranges, lines). A full queue answers 503 with Retry-After, a
request not done within the time limit 503 too, and either way its lines leave the queue,
as do those of a client that disconnects; a bug while translating answers 500 and the
server goes on. Attention is returned for a bounded number of lines, a block per sentence
(its size grows with a sentence's length, not a paragraph's), and written off the event
loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.resources
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from s2s import __version__
from s2s.batcher import Batcher, Full
from s2s.errors import UserError
from s2s.payload import (ErrorResponse, TranslateRequest, TranslateResponse, body_problem, error_message, line_problem,
                         line_result)
from s2s.translator import Translator

DISCONNECT_POLL = 0.5  # seconds between checks that a waiting client is still there
PAGE_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
              "/page.js": ("page.js", "text/javascript; charset=utf-8"),
              "/page.css": ("page.css", "text/css; charset=utf-8")}


@dataclass(frozen=True)
class Limits:
    """What one request may ask and how the server batches: the `s2s serve` options, by name."""

    max_request_bytes: int = 1 << 20
    max_lines: int = 256  # per request
    max_line_chars: int = 4000  # per line; a long line is cut into sentences and parts as translate does
    max_queue: int = 4096  # lines waiting for the worker; more get 503
    timeout: float = 60.0  # seconds a request may wait for its translations
    batch_wait_ms: float = 5.0  # the gap between arrivals that ends a batch
    max_batch_lines: int = 256
    batching: bool = True
    max_attention_lines: int = 32  # per request that asks for attention (its weights are large)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class BodyCheck:
    """ASGI middleware: a request body larger than the limit gets 413 before it is read
    whole, one that is not a UTF-8 JSON object gets 400 saying why; a good one is passed on."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        too_big = _error(413, f"the request body is larger than this server's limit of {self.max_bytes} bytes "
                              "(--max-request-bytes)")
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.max_bytes:
            return await too_big(scope, receive, send)
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await too_big(scope, receive, send)
        problem = body_problem(bytes(body))
        if problem:
            return await _error(400, problem)(scope, receive, send)
        # the API speaks JSON only: a body is read as JSON whatever its Content-Type says (curl -d
        # sends a form's type)
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
        scope = {**scope, "headers": headers + [(b"content-type", b"application/json")]}
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


def translate_lines(translator: Translator, key: tuple, items: list[tuple[str, bool, bool, bool]],
                    stop: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
    """The JSON results of lines translated with the search and n-best size in `key` (runs
    in the worker); each item is (line, n-best list wanted, attention wanted, alignments
    wanted). `stop` is asked between batches of search: true stops the translation
    (`s2s.translator.Stopped`)."""
    search, n = key
    translator = dataclasses.replace(translator, search=search, stop=stop)
    found = translator.nbest([line for line, *_ in items], n)
    return [line_result(f, nbest, translator.attention_parts(f[0]) if attention else None,
                        translator.alignment if alignments else None)
            for f, (_, nbest, attention, alignments) in zip(found, items)]


def create_app(translator: Translator, limits: Limits = Limits(), info: dict[str, Any] | None = None) -> FastAPI:
    """The ASGI app serving `translator`; `info` is what GET /info shows of the model."""
    batcher = Batcher(lambda key, items, stop: translate_lines(translator, key, items, stop),
                      wait=limits.batch_wait_ms / 1000, max_items=limits.max_batch_lines, max_queued=limits.max_queue,
                      batching=limits.batching)
    web = importlib.resources.files("s2s") / "web"
    page = {route: (web.joinpath(name).read_bytes(), kind) for route, (name, kind) in PAGE_FILES.items()}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await asyncio.to_thread(batcher.stop)  # what is queued is translated and answered first

    app = FastAPI(title="s2s translation server", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, description="Translate lines with an s2s model; see docs/serving.md.")
    app.state.batcher = batcher
    app.add_middleware(BodyCheck, max_bytes=limits.max_request_bytes)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError):
        return _error(422, error_message(list(e.errors())))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException):
        message = str(e.detail)
        if e.status_code == 404:
            message += ": the routes are GET /, /health, /info, /openapi.json and POST /translate"
        return _error(e.status_code, message, getattr(e, "headers", None))

    for route, (content, kind) in page.items():
        app.add_api_route(route, _static(content, kind), methods=["GET"], include_in_schema=False)

    @app.get("/health", summary="Whether the server is up, and how much work is waiting.")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "queued_lines": batcher.queued, "unanswered_lines": batcher.unanswered,
                "batches": batcher.batches, "lines_translated": batcher.items_run}

    @app.get("/info", summary="What the model is (s2s info --json, without paths) and the server's limits.")
    async def model_info() -> dict[str, Any]:
        return {**(info or {}), "search": dataclasses.asdict(translator.search),
                "limits": dataclasses.asdict(limits)}

    errors = {status: {"model": ErrorResponse} for status in (400, 413, 422, 500, 503)}

    @app.post("/translate", response_model=TranslateResponse, responses=errors,
              summary="Translate lines: one result per line, in order.")
    async def translate(request: TranslateRequest, connection: Request) -> Response:
        key = _job_key(translator, request, limits)
        items = [(line, request.nbest is not None, request.attention, request.alignments) for line in request.text]
        try:
            job = batcher.submit(items, key)
        except Full as e:
            raise HTTPException(503, f"the server is busy: {e}; try again shortly", {"Retry-After": "1"}) from None
        future = asyncio.wrap_future(job)
        deadline = time.monotonic() + limits.timeout
        while not future.done():  # a client that left, or waited too long, is not translated for
            await asyncio.wait([future], timeout=min(DISCONNECT_POLL, max(0.0, deadline - time.monotonic())))
            if not future.done() and await connection.is_disconnected():
                future.cancel()
                batcher.abandon(job)
                return Response(status_code=499)  # nobody reads it
            if not future.done() and time.monotonic() >= deadline:
                future.cancel()
                batcher.abandon(job)
                raise HTTPException(503, f"not translated within this server's limit of {limits.timeout:g} s "
                                         "(--timeout): it is busy, or the request is too large", {"Retry-After": "1"})
        if future.exception() is not None:
            raise HTTPException(500, "translating this request failed; the server's log says why")
        results = {"translations": future.result()}
        if request.attention:  # large: written off the event loop
            return Response(await asyncio.to_thread(_json, results), media_type="application/json")
        return JSONResponse(results)

    return app


def _job_key(translator: Translator, request: TranslateRequest, limits: Limits) -> tuple:
    """What a request's lines are translated with, as the batcher's key: (search, n); raises
    HTTPException naming the field a request gets wrong beyond its types."""
    if len(request.text) > limits.max_lines:
        raise HTTPException(413, f"text: {len(request.text)} lines, more than this server's limit of "
                                 f"{limits.max_lines} per request (--max-lines)")
    if request.alignments and not translator.model.has_attention:
        raise HTTPException(422, "alignments: this model has no attention to align words by "
                                 "(model.decoder.attention: none)")
    if request.attention and len(request.text) > limits.max_attention_lines:
        raise HTTPException(413, f"attention: asked for {len(request.text)} lines, more than this server "
                                 f"returns attention for ({limits.max_attention_lines} per request); send fewer")
    for i, line in enumerate(request.text):
        problem = line_problem(i, line, limits.max_line_chars)
        if problem:
            raise HTTPException(*problem)
    try:
        search = translator.with_search(beam=request.beam, length_penalty=request.length_penalty, alpha=request.alpha,
                                        sample=request.sample, temperature=request.temperature,
                                        top_k=request.top_k, top_p=request.top_p, seed=request.seed).search
    except UserError as e:
        raise HTTPException(422, str(e)) from None
    if request.nbest is not None and request.nbest > search.beam and not search.sample:
        raise HTTPException(422, f"nbest: {request.nbest} is larger than the beam ({search.beam}); "
                                 f"ask for beam >= {request.nbest}")
    return search, request.nbest or 1


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _static(content: bytes, kind: str):
    async def serve() -> Response:
        return Response(content, media_type=kind)
    return serve

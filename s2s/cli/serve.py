"""`s2s serve`: the translation server (JSON API and attention page) on uvicorn."""

from __future__ import annotations

import errno
import logging
import socket

import click

from s2s.cli.common import (batch_option, device_option, load_translator, precision_option, quantize_option,
                            search_options, setup_logging, split_option)
from s2s.errors import UserError

MAX_CONNECTIONS = 1024  # open connections and requests at once; beyond, uvicorn answers 503 at once


def _check_address(host: str, port: int) -> None:
    """Refuses, in one line, an address the server could not listen on (before loading anything)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UserError(f"--host {host}: not an address of this machine ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as e:
            hint = {errno.EADDRINUSE: "is another server using it? Choose another --port",
                    errno.EADDRNOTAVAIL: "it is not an address of this machine; choose another --host",
                    errno.EACCES: "ports below 1024 need root; choose another --port"}.get(e.errno, "")
            raise UserError(f"--host {host} --port {port}: cannot listen there ({e.strerror})"
                            + (f"; {hint}" if hint else "")) from None


def _uvicorn_logging(access_log: bool) -> dict:
    """uvicorn's messages on stderr as one plain line each (stdout carries nothing)."""
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {"uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
                    "uvicorn.access": {"handlers": ["stderr"], "level": "INFO" if access_log else "WARNING",
                                       "propagate": False}},
    }


@click.command(short_help="Serve translations over HTTP (JSON API and a page that shows attention).")
@click.option("-m", "--model", "models", required=True, multiple=True, type=click.Path(exists=True),
              help="Checkpoint file, or run directory (its best.pt); several -m serve an ensemble.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 makes the server reachable from other machines.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--max-lines", type=click.IntRange(min=1), default=256, show_default=True,
              help="Most lines in one request.")
@click.option("--max-line-chars", type=click.IntRange(min=1), default=4000, show_default=True,
              help="Most characters in one line (longer sentences are cut into parts, as translate does).")
@click.option("--max-request-bytes", type=click.IntRange(min=1), default=1 << 20, show_default=True,
              help="Largest request body.")
@click.option("--max-queue", type=click.IntRange(min=1), default=4096, show_default=True,
              help="Most lines waiting to be translated; a request beyond that gets 503 with Retry-After.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="Seconds a request may wait for its translations before it gets 503.")
@click.option("--batch-wait-ms", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="How long the worker waits after a request arrives for others to join its batch.")
@click.option("--max-batch-lines", type=click.IntRange(min=1), default=256, show_default=True,
              help="Most lines translated in one batch of requests.")
@click.option("--max-attention-lines", type=click.IntRange(min=1), default=32, show_default=True,
              help="Most lines in one request that asks for attention (its weights are large).")
@click.option("--batching/--no-batching", default=True, show_default=True,
              help="Translate requests that arrive together as one batch, or one request at a time.")
@click.option("--access-log", is_flag=True, help="Log every request on stderr.")
@search_options
@split_option
@batch_option
@device_option
@quantize_option
@precision_option
def serve(models, host, port, max_lines, max_line_chars, max_request_bytes, max_queue, timeout, batch_wait_ms,
          max_batch_lines, max_attention_lines, batching, access_log, max_src_len, batch_size, device_name, quantize,
          precision, **search) -> None:
    """Serve a model over HTTP until Ctrl-C or SIGTERM (which finish the requests in flight).

    POST /translate takes {"text": ["line", ...]} (and optional beam, nbest, length_penalty,
    alpha, sample settings, attention, alignments) and answers one result per line, in order; GET / is a page that
    translates what you type and draws the attention; GET /health, GET /info and
    GET /openapi.json describe the server.

    \b
    Examples:
      s2s serve -m runs/demo
      curl -s localhost:8000/translate -H 'Content-Type: application/json' -d '{"text": ["The dog sees a cat."]}'
    """
    try:
        import uvicorn

        from s2s.server import Limits, create_app
        from s2s.summary import describe
    except ImportError as e:
        raise UserError(f"s2s serve needs the serve extra ({e.name} is missing): pip install -e '.[serve]'") from None

    setup_logging(verbose=True)
    _check_address(host, port)
    translator = load_translator(models, device_name, batch_size, max_src_len, search, quantize, precision)
    limits = Limits(max_request_bytes=max_request_bytes, max_lines=max_lines, max_line_chars=max_line_chars,
                    max_queue=max_queue, timeout=timeout, batch_wait_ms=batch_wait_ms,
                    max_batch_lines=max_batch_lines, batching=batching, max_attention_lines=max_attention_lines)
    info = describe(models[0], paths=False)  # an ensemble: the first model's, and each member's
    if len(models) > 1:
        info["ensemble"] = [describe(model, paths=False) for model in models]
    app = create_app(translator, limits, info)
    logging.getLogger("s2s").info("s2s serve: %s on http://%s:%d (Ctrl-C or SIGTERM stops)", " + ".join(models),
                                  host, port)
    config = uvicorn.Config(app, host=host, port=port, log_config=_uvicorn_logging(access_log),
                            timeout_graceful_shutdown=int(timeout) + 5, access_log=access_log,
                            limit_concurrency=MAX_CONNECTIONS)
    uvicorn.Server(config).run()

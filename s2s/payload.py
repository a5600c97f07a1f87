"""The server's JSON: what a translation request may hold, what comes back, and how a bad
request is named.

A request is checked field by field (pydantic, strict types, unknown fields refused); every
message names the field it is about, e.g. `beam: Input should be greater than or equal to
1` or `text[2]: contains a line break`, so a client knows what to fix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from s2s.penalty import PENALTIES
from s2s.result import Attention, Translation
from s2s.translator import LINE_BREAKS

MAX_BEAM = 64  # a wider beam costs more than any translation is worth
MAX_ALPHA = 10.0
MAX_TEMPERATURE = 100.0

Penalty = Literal[PENALTIES]  # type: ignore[valid-type]


class TranslateRequest(BaseModel):
    """POST /translate: lines to translate and how; options left out keep the model's own
    search settings (its run's `search` section)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: list[str] = Field(min_length=1, description="The lines to translate, one string each, "
                                                      "without line breaks; an empty string gives an empty translation.")
    beam: int | None = Field(None, ge=1, le=MAX_BEAM, description="Beam size; 1 is greedy search.")
    nbest: int | None = Field(None, ge=1, le=MAX_BEAM,
                              description="Also return the N best translations of each line (N <= beam).")
    length_penalty: Penalty | None = Field(None, description="none, length (L^alpha) or gnmt (((5+L)/6)^alpha).")
    alpha: float | None = Field(None, ge=0, le=MAX_ALPHA, allow_inf_nan=False,
                                description="Length penalty exponent.")
    sample: bool | None = Field(None, description="Draw each piece from the model's distribution instead of "
                                                  "searching (the beam is not used); nbest gives that many samples.")
    temperature: float | None = Field(None, ge=0, le=MAX_TEMPERATURE, allow_inf_nan=False,
                                      description="Sampling: divide log-probabilities by this; 0 is greedy.")
    top_k: int | None = Field(None, ge=0, description="Sampling: only from the k most likely pieces (0: all).")
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False,
                                description="Sampling: only from the fewest most likely pieces with this much probability.")
    seed: int | None = Field(None, description="Sampling: the same seed gives the same samples of a line.")
    attention: bool = Field(False, description="Also return the attention of each line's best translation, one "
                                               "block per sentence (or part) translated: source and target "
                                               "pieces and the weights (target rows, source columns).")
    alignments: bool = Field(False, description="Also return the word alignment of each translation (and of each "
                                                "n-best entry): [i, j] links from source word i to output word j, "
                                                "0-based, words split at whitespace, read off the attention.")


class Scored(BaseModel):
    text: str
    score: float
    alignment: list[tuple[int, int]] | None = None


class AttentionJson(BaseModel):
    source: list[str]
    target: list[str]
    weights: list[list[float]]


class LineResult(BaseModel):
    text: str
    score: float
    nbest: list[Scored] | None = None
    attention: list[AttentionJson] | None = None
    alignment: list[tuple[int, int]] | None = None


class TranslateResponse(BaseModel):
    translations: list[LineResult]


class ErrorResponse(BaseModel):
    error: str


FIELDS = tuple(TranslateRequest.model_fields)


def field_name(loc: tuple) -> str:
    """`text[2]` for the location ("body", "text", 2); `body` for the body itself."""
    name = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def error_message(errors: list[dict[str, Any]]) -> str:
    """One line naming each field a validation error is about."""
    out = []
    for error in errors:
        kind, where = error.get("type"), field_name(tuple(error.get("loc", ())))
        if kind == "extra_forbidden":
            out.append(f"{where}: unknown field (the fields are {', '.join(FIELDS)})")
        elif kind == "missing":
            out.append(f"{where}: required")
        else:
            out.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(out)


EXAMPLE = '{"text": ["a line to translate"]}'


def body_problem(body: bytes) -> str | None:
    """What makes a request body unreadable (not UTF-8, not JSON, not an object), or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"the request body is not valid UTF-8: byte {e.start} is {body[e.start]:#04x}"
    if not text.strip():
        return f"the request body is empty: send a JSON object such as {EXAMPLE}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        return f"the request body is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
    except RecursionError:
        return "the request body is not valid JSON here: it is nested too deeply"
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        return f"the request body is not valid JSON here: {e}"
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
        return f"the request body must be a JSON object such as {EXAMPLE}, not {kind}"
    return None


def line_problem(index: int, line: str, max_chars: int) -> tuple[int, str] | None:
    """What is wrong with one line of a request's text, as (HTTP status, message), or None."""
    if len(line) > max_chars:
        return 413, (f"text[{index}]: {len(line)} characters, more than this server's limit of {max_chars} "
                     "(--max-line-chars)")
    if LINE_BREAKS.search(line):
        return 422, f"text[{index}]: contains a line break; send each line as its own string"
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as e:
        return 422, f"text[{index}]: not valid Unicode at character {e.start} (a lone surrogate {line[e.start]!r})"
    return None


def line_result(found: list[Translation], nbest: bool, attention: list[Attention] | None,
                alignment: Callable[[Translation], list[tuple[int, int]]] | None = None) -> dict[str, Any]:
    """A line's JSON result: the best translation and its score; with `nbest`, the n-best
    list; with `attention` (None: not asked for), the best translation's attention, a block
    per part translated (none for an empty line); with `alignment`, each translation's word
    alignment."""
    best = found[0]
    out: dict[str, Any] = {"text": best.text, "score": best.score}
    if alignment is not None:
        out["alignment"] = [list(link) for link in alignment(best)]
    if nbest:
        out["nbest"] = [{"text": t.text, "score": t.score,
                         **({"alignment": [list(link) for link in alignment(t)]} if alignment else {})}
                        for t in found if math.isfinite(t.score)]
    if attention is not None:
        out["attention"] = [{"source": part.source, "target": part.target,
                             "weights": [[round(w, 4) for w in row] for row in part.weights.tolist()]}
                            for part in attention]
    return out

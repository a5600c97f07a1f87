"""Config files: YAML read and written, `section.key=value` overrides, $VARS in paths,
and the typed `Config` built from a plain mapping with every key and type checked.

A user's file and overrides become a `Config` (`s2s.config`) through `load_config`; a run
directory's `config.yaml` is written by `dump_config`. Errors name the file, and for a
YAML syntax error its line and column.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from pathlib import Path
from typing import Any

import yaml

from s2s.config import Config
from s2s.errors import UserError

_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _expand_vars(text: str) -> str:
    """Expands $VAR and ${VAR}; S2S_DATA defaults to `data`, where the download script puts files."""
    def value(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name == "S2S_DATA":
            return os.environ.get(name) or "data"
        if name not in os.environ:
            raise UserError(f"config refers to ${name}, which is not set in the environment")
        return os.environ[name]
    return _VAR.sub(value, text)


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Applies `section.key=value` strings (value parsed as YAML) to a raw config mapping."""
    for item in overrides:
        path, sep, text = item.partition("=")
        if not sep or not path:
            raise UserError(f"--set '{item}': expected section.key=value")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            value = text
        node = raw
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"--set '{item}': '{part}' is not a section")
        node[parts[-1]] = value
    return raw


def read_yaml(path: str | Path) -> dict:
    """Reads a YAML mapping, with errors that name the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot read config {path}: {e.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UserError(f"config {path}{_where(e)}: not valid YAML: {_problem(e)}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UserError(f"config {path}: expected a mapping of sections at the top level")
    return raw


def _where(error: yaml.YAMLError) -> str:
    """', line L, column C' of a YAML error (1-based), where PyYAML knows it."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _problem(error: yaml.YAMLError) -> str:
    """What PyYAML found wrong, in one line and without its dump of the text."""
    problem = getattr(error, "problem", None)
    context = getattr(error, "context", None)
    mark, start = getattr(error, "problem_mark", None), getattr(error, "context_mark", None)
    if context and start is not None and mark is not None and (start.line, start.column) != (mark.line, mark.column):
        context += f" that starts at line {start.line + 1}, column {start.column + 1},"
    text = " ".join(p for p in (context, problem) if p) or type(error).__name__
    return " ".join(text.split())


def _expand_tree(raw: Any) -> Any:
    """Expands variables in every string of a raw mapping (what a user wrote, not a checkpoint)."""
    if isinstance(raw, dict):
        return {key: _expand_tree(value) for key, value in raw.items()}
    return _expand_vars(raw) if isinstance(raw, str) else raw


def load_config(path: str | Path | None, overrides: list[str] = ()) -> Config:
    """Loads a YAML config file (or none), applies overrides and expands $VARS in strings."""
    raw = read_yaml(path) if path is not None else {}
    return from_dict(_expand_tree(apply_overrides(raw, list(overrides))))


def dump_config(config: Config, path: str | Path) -> None:
    """Writes the config as YAML (the run directory's record of what ran)."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")


def _coerce(value: Any, kind: Any, key: str) -> Any:
    """Checks one leaf value against its declared type (YAML gives int for 3, str for 1e-3)."""
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is str:
        if isinstance(value, str):
            return value
    raise UserError(f"config key '{key}': expected {kind.__name__}, got {value!r}")


def _build(cls: type, raw: Any, prefix: str) -> Any:
    """Builds dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    where = prefix or "the top level"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"config section '{where}': expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise UserError(f"unknown config key '{prefix + '.' if prefix else ''}{key}' "
                            f"(known in {where}: {', '.join(sorted(known))})")
    kwargs = {}
    for name in known & set(raw):
        key = f"{prefix}.{name}" if prefix else name
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            kwargs[name] = _build(kind, raw[name], key)
        else:
            kwargs[name] = _coerce(raw[name], kind, key)
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required field is missing
        raise UserError(f"config section '{where}': {e}") from None


def from_dict(raw: dict) -> Config:
    """Builds a Config from a plain mapping, as written (a checkpoint's is already expanded)."""
    return _build(Config, raw, "")

"""Strict JSON parsing shared by every trust parser.

Python's json keeps the last of two equal keys while other parsers keep the first: a document
with ``{"payload": A, "payload": B}`` could then mean one thing to the signer and another to
the verifier. Every JSON we read on the trust path therefore rejects duplicate keys, as well as
the non-standard NaN/Infinity constants.
"""

from __future__ import annotations

import json

from chainguard.errors import InputError


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj: dict[str, object] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def _reject_constant(name: str) -> object:
    raise ValueError(f"non-standard JSON constant {name}")


def loads_strict(data: bytes, source: str, error: type[InputError]) -> object:
    """Parse UTF-8 JSON bytes; any problem becomes ``error("<source>: ...")`` on one line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{source}: not UTF-8 JSON (invalid byte at offset {e.start})") from e
    try:
        return json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except _DuplicateKey as e:
        raise error(f"{source}: duplicate JSON key {shown(e.key)}") from e
    except json.JSONDecodeError as e:
        raise error(
            f"{source}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
        ) from e
    except ValueError as e:
        raise error(f"{source}: not valid JSON ({e})") from e
    except RecursionError as e:
        raise error(f"{source}: JSON nested too deeply") from e


def shown(value: object, limit: int = 60) -> str:
    """repr() for messages: escapes newlines (errors stay one line) and cuts hostile lengths."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"

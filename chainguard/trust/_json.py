"""Strict JSON parsing shared by every trust parser.

Python's json keeps the last of two equal keys while other parsers keep the first: a document
with ``{"payload": A, "payload": B}`` could then mean one thing to the signer and another to
the verifier. Every JSON we read on the trust path therefore rejects duplicate keys, as well as
the non-standard NaN/Infinity constants.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

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


# --- streaming, with packed arrays (large signed SBOMs) -----------------------------------------

# Packs the JSON array at text[pos] == "[" into a compact value: (value, index after the
# array). Gets the strict decoder for elements it keeps as JSON, and the object the array is a
# value of, with the keys read so far (None in an array); raises ValueError (or IndexError)
# where the text is not JSON.
Packer = Callable[
    [str, int, Callable[[str, int], tuple[object, int]], Mapping[str, object] | None],
    tuple[object, int],
]
ANY_INDEX = -1  # in a packer's path: any element of an array (keys are strings)
JsonPath = tuple[str | int, ...]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# The C string scanner json itself uses (typeshed does not list it): (text, index after the
# opening quote, strict) -> (string, index after the closing quote).
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


def _skip(text: str, pos: int) -> int:
    m = _WHITESPACE.match(text, pos)
    assert m is not None  # matches the empty string
    return m.end()


class _NotFast(Exception):
    """Something the streaming parser leaves to loads_strict (which words the error)."""


def loads_strict_packed(
    data: bytes,
    source: str,
    error: type[InputError],
    packers: Mapping[JsonPath, Packer],
) -> object:
    """loads_strict, except that the arrays at ``packers``' paths come back packed.

    A path names object keys from the top, ``ANY_INDEX`` standing for every element of an
    array: ``("predicate", "components", ANY_INDEX, "components")``. The objects and arrays on
    the way to a packed array are parsed here (duplicate keys refused); every other value is
    decoded by the C scanner with the same strict hooks as loads_strict. Anything this parser
    does not take in its stride (malformed JSON above all) is handed to loads_strict, so errors
    read the same and nothing is ever accepted that loads_strict would refuse.
    """
    try:
        text = data.decode("utf-8")
        decoder = json.JSONDecoder(
            object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
        prefixes = {path[:i] for path in packers for i in range(len(path))}
        parser = _Streaming(text, decoder.raw_decode, dict(packers), prefixes)
        value, end = parser.parse_value(_skip(text, 0), ())
        if _skip(text, end) != len(text):
            raise _NotFast
        return value
    except (_NotFast, ValueError, IndexError, RecursionError):
        return loads_strict(data, source, error)


class _Streaming:
    def __init__(
        self,
        text: str,
        decode: Callable[[str, int], tuple[object, int]],
        packers: dict[JsonPath, Packer],
        prefixes: set[JsonPath],
    ) -> None:
        self.text = text
        self.decode = decode
        self.packers = packers
        self.prefixes = prefixes

    def skip(self, pos: int) -> int:
        return _skip(self.text, pos)

    def parse_value(
        self, pos: int, path: JsonPath, parent: Mapping[str, object] | None = None
    ) -> tuple[object, int]:
        first = self.text[pos]
        if path in self.prefixes:
            if first == "{":
                return self.parse_object(pos, path)
            if first == "[":
                return self.parse_array(pos, path)
        elif first == "[" and path in self.packers:
            return self.packers[path](self.text, pos, self.decode, parent)
        return self.decode(self.text, pos)

    def parse_object(self, pos: int, path: JsonPath) -> tuple[dict[str, object], int]:
        text = self.text
        result: dict[str, object] = {}
        pos = self.skip(pos + 1)
        if text[pos] == "}":
            return result, pos + 1
        while True:
            if text[pos] != '"':
                raise _NotFast
            key, pos = _scanstring(text, pos + 1, True)
            pos = self.skip(pos)
            if text[pos] != ":":
                raise _NotFast
            value, pos = self.parse_value(self.skip(pos + 1), (*path, key), result)
            if key in result:
                raise _NotFast  # loads_strict names the duplicate key
            result[key] = value
            pos = self.skip(pos)
            if text[pos] == "}":
                return result, pos + 1
            if text[pos] != ",":
                raise _NotFast
            pos = self.skip(pos + 1)

    def parse_array(self, pos: int, path: JsonPath) -> tuple[list[object], int]:
        text = self.text
        result: list[object] = []
        element = (*path, ANY_INDEX)
        pos = self.skip(pos + 1)
        if text[pos] == "]":
            return result, pos + 1
        while True:
            value, pos = self.parse_value(pos, element)
            result.append(value)
            pos = self.skip(pos)
            if text[pos] == "]":
                return result, pos + 1
            if text[pos] != ",":
                raise _NotFast
            pos = self.skip(pos + 1)

"""Strict JSON, whole or streamed: what sbom and trust parse signed documents with.

Python's json keeps the last of two equal keys while other parsers keep the first: a document
with ``{"payload": A, "payload": B}`` could then mean one thing to the signer and another to
the verifier. Every JSON we read on the trust path therefore rejects duplicate keys, as well as
the non-standard NaN/Infinity constants. ``reject_duplicates`` is the one duplicate-key check
(sbom/read.py and the safetensors header reader use it too, with their own messages).

It sits below both sbom and trust (it imports only errors): sbom/packed.py packs the arrays
this streaming parser hands it, and trust parses statements and bundles with it.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from chainguard.errors import InputError


class DuplicateKeyError(ValueError):
    """A JSON object holds ``key`` twice."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's ``object_pairs_hook`` refusing a key seen twice (DuplicateKeyError)."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateKeyError(key)
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
            text, object_pairs_hook=reject_duplicates, parse_constant=_reject_constant
        )
    except DuplicateKeyError as e:
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

# The text of a document, whole or as a window that moves forward (TextWindow).
# Packs the JSON array at window.text[pos] == "[" into a compact value: (value, index after the
# array, in the window as it then is). Gets the strict decoder for elements it keeps as JSON,
# and the object the array is a value of, with the keys read so far (None in an array);
# raises ValueError (or IndexError) where the text is not JSON.
Packer = Callable[
    ["TextWindow", int, Callable[[str, int], tuple[object, int]], Mapping[str, object] | None],
    tuple[object, int],
]
ANY_INDEX = -1  # in a packer's path: any element of an array (keys are strings)
JsonPath = tuple[str | int, ...]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# The C string scanner json itself uses (typeshed does not list it): (text, index after the
# opening quote, strict) -> (string, index after the closing quote).
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

# How much text is at hand from where a value starts: every value but the packed arrays is
# small (a key, a name, a version); a longer one is left to loads_strict on the whole text.
LOOKAHEAD = 256 * 1024
_REFILL = 4 * 1024 * 1024


class TextWindow:
    """The text of a JSON document: whole, or arriving in pieces (a payload of hundreds of MB
    decoded as it is read). ``text`` is what is at hand, ``base`` the offset of its start in the
    document; ``ensure`` moves the window forward, so positions are relative to ``text`` as it
    is when they are used."""

    def __init__(self, text: str, more: Iterator[str] | None = None) -> None:
        self.text = text
        self.base = 0
        self._more = more
        self.eof = more is None
        self.lookahead = LOOKAHEAD  # read when made: tests shrink them to move windows often
        self._refill = _REFILL

    def ensure(self, pos: int, n: int) -> int:
        """Make ``text[pos : pos + n]`` available (or all that is left); return where ``pos``
        now is. Text before ``pos`` may be let go."""
        if self.eof or pos + n <= len(self.text):
            return pos
        assert self._more is not None
        parts = [self.text[pos:]]
        have = len(parts[0])
        while have < n + self._refill:
            piece = next(self._more, None)
            if piece is None:
                self.eof = True
                break
            parts.append(piece)
            have += len(piece)
        self.base += pos
        self.text = "".join(parts)
        return 0

    def skip(self, pos: int) -> int:
        """Past any whitespace from ``pos``."""
        while True:
            m = _WHITESPACE.match(self.text, pos)
            assert m is not None  # matches the empty string
            pos = m.end()
            if pos < len(self.text) or self.eof:
                return pos
            pos = self.ensure(pos, self.lookahead)


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
        window = TextWindow(data.decode("utf-8"))
        return _parse_packed(window, packers)
    except (_NotFast, ValueError, IndexError, RecursionError):
        return loads_strict(data, source, error)


def loads_strict_packed_stream(
    chunks: Iterator[bytes],
    source: str,
    error: type[InputError],
    packers: Mapping[JsonPath, Packer],
    whole: Callable[[], bytes],
) -> object:
    """loads_strict_packed of the UTF-8 ``chunks`` (in order), never all of it at once.

    Where loads_strict_packed would hand over to loads_strict, this calls ``whole()`` for the
    complete document first: malformed or unusual documents are read whole to word the error.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")

    def texts() -> Iterator[str]:
        for chunk in chunks:
            if text := decoder.decode(chunk):
                yield text
        if text := decoder.decode(b"", final=True):
            yield text

    try:
        return _parse_packed(TextWindow("", texts()), packers)
    except (_NotFast, ValueError, IndexError, RecursionError):
        return loads_strict(whole(), source, error)


def _parse_packed(window: TextWindow, packers: Mapping[JsonPath, Packer]) -> object:
    decoder = json.JSONDecoder(object_pairs_hook=reject_duplicates, parse_constant=_reject_constant)
    prefixes = {path[:i] for path in packers for i in range(len(path))}
    parser = _Streaming(window, decoder.raw_decode, dict(packers), prefixes)
    value, end = parser.parse_value(window.skip(window.ensure(0, window.lookahead)), ())
    end = window.skip(end)
    if not window.eof or end != len(window.text):
        raise _NotFast
    return value


class _Streaming:
    def __init__(
        self,
        window: TextWindow,
        decode: Callable[[str, int], tuple[object, int]],
        packers: dict[JsonPath, Packer],
        prefixes: set[JsonPath],
    ) -> None:
        self.window = window
        self.decode = decode
        self.packers = packers
        self.prefixes = prefixes

    def at(self, pos: int) -> int:
        """``pos``, with a value's worth of text at hand from it, skipping whitespace."""
        window = self.window
        return window.skip(window.ensure(pos, window.lookahead))

    def parse_value(
        self, pos: int, path: JsonPath, parent: Mapping[str, object] | None = None
    ) -> tuple[object, int]:
        pos = self.at(pos)
        window = self.window
        first = window.text[pos]
        if path in self.prefixes:
            if first == "{":
                return self.parse_object(pos, path)
            if first == "[":
                return self.parse_array(pos, path)
        elif first == "[" and path in self.packers:
            return self.packers[path](window, pos, self.decode, parent)
        value, end = self.decode(window.text, pos)
        if end >= len(window.text) and not window.eof:
            raise _NotFast  # it may go on past the window (a number cut short)
        return value, end

    def parse_object(self, pos: int, path: JsonPath) -> tuple[dict[str, object], int]:
        result: dict[str, object] = {}
        pos = self.at(pos + 1)
        text = self.window.text
        if text[pos] == "}":
            return result, pos + 1
        while True:
            if text[pos] != '"':
                raise _NotFast
            key, pos = _scanstring(text, pos + 1, True)
            pos = self.at(pos)
            text = self.window.text
            if text[pos] != ":":
                raise _NotFast
            value, pos = self.parse_value(pos + 1, (*path, key), result)
            if key in result:
                raise _NotFast  # loads_strict names the duplicate key
            result[key] = value
            pos = self.at(pos)
            text = self.window.text
            if text[pos] == "}":
                return result, pos + 1
            if text[pos] != ",":
                raise _NotFast
            pos = self.at(pos + 1)
            text = self.window.text

    def parse_array(self, pos: int, path: JsonPath) -> tuple[list[object], int]:
        result: list[object] = []
        element = (*path, ANY_INDEX)
        pos = self.at(pos + 1)
        if self.window.text[pos] == "]":
            return result, pos + 1
        while True:
            value, pos = self.parse_value(pos, element)
            result.append(value)
            pos = self.at(pos)
            text = self.window.text
            if text[pos] == "]":
                return result, pos + 1
            if text[pos] != ",":
                raise _NotFast
            pos += 1

"""File-component arrays of a signed SBOM, read without a Python object per JSON value.

A dataset component lists 100,000s of files, each written by ``sbom build`` as exactly::

    {"bom-ref":"…","hashes":[{"alg":"SHA-256","content":"<hex>"}],"name":"…",
     "properties":[{"name":"chainguard:size","value":"<decimal>"}],"type":"file"}

(compact, keys in this order). Parsed as JSON, each becomes three dicts, two lists and seven
strings: ~1.3 kB and ~7 µs, most of a 100,000-file verify's memory and a good part of its time.
``pack_file_array`` is handed such an array by the strict streaming parser
(trust/_json.loads_strict_packed) and matches each element against that exact shape with one
regular expression, keeping only its path and its line of the root digest. An element of any
other shape is decoded by the strict JSON decoder and kept as is (``PackedFiles.other``) for
sbom/read.py to check like any other file component.

The pattern only accepts what the strict parser would decode to the same three values: string
contents may not hold a quote, a backslash (so no escapes: the text is the value) or a control
character (which strict JSON refuses), the digest is 64 lowercase hex digits and the size a
canonical decimal (as sbom/vocabulary.py requires).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# Characters a JSON string may hold unescaped, minus the backslash: the text is the value.
_CHARS = r'[^"\\\x00-\x1f]*'
_PLAIN_FILE = re.compile(
    r'\{"bom-ref":"' + _CHARS + r'",'
    r'"hashes":\[\{"alg":"SHA-256","content":"([0-9a-f]{64})"\}\],'
    r'"name":"(' + _CHARS + r')",'
    r'"properties":\[\{"name":"chainguard:size","value":"(0|[1-9][0-9]{0,19})"\}\],'
    r'"type":"file"\}'
    r"([,\]])"
)
_WS = re.compile(r"[ \t\n\r]*")

# The strict decoder of one JSON value at an index: (value, index after it); raises ValueError.
Decode = Callable[[str, int], tuple[object, int]]


@dataclass(frozen=True, slots=True)
class PackedFiles:
    """A JSON array of file components: plain ones in bulk, others decoded as JSON.

    For each plain element, ``names`` holds its path and ``lines`` its ``chainguard-tree-v1``
    line (``path \0 size \0 sha256 \n``, see models.tree_digest), in array order;
    ``total_size`` is the sum of their sizes. ``other[j]`` is the element that stood at index
    ``other_index[j]`` of the array.
    """

    names: list[str]
    lines: list[str]
    total_size: int
    other: list[object]
    other_index: list[int]

    def __len__(self) -> int:
        return len(self.names) + len(self.other)


def pack_file_array(text: str, pos: int, decode: Decode) -> tuple[PackedFiles, int]:
    """Read the JSON array starting at ``text[pos] == "["``; return it and the index after it.

    Raises ValueError (or IndexError at the end of the text) where the text is not JSON; the
    caller then lets the plain strict parser find and word the error.
    """
    match = _PLAIN_FILE.match
    names: list[str] = []
    lines: list[str] = []
    total = 0
    other: list[object] = []
    other_index: list[int] = []
    pos = _skip_ws(text, pos + 1)
    if text[pos] == "]":
        return PackedFiles(names, lines, total, other, other_index), pos + 1
    while True:
        m = match(text, pos)
        if m is not None:
            sha256, name, size, separator = m.groups()
            names.append(name)
            lines.append(f"{name}\0{size}\0{sha256}\n")
            total += int(size)
            pos = m.end()
        else:
            other_index.append(len(names) + len(other))
            value, pos = decode(text, pos)
            other.append(value)
            pos = _skip_ws(text, pos)
            separator = text[pos]
            pos += 1
        if separator == "]":
            return PackedFiles(names, lines, total, other, other_index), pos
        if separator != ",":
            raise ValueError(f"expected ',' or ']' at {pos - 1}")
        if text[pos] != "{":
            pos = _skip_ws(text, pos)


def _skip_ws(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    assert m is not None  # matches the empty string
    return m.end()

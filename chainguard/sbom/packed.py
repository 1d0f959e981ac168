"""File-component arrays of a signed SBOM, read without a Python object per JSON value.

A dataset component lists 100,000s of plain files (a SHA-256 and a size: sbom/fileshape.py),
each written by ``sbom build`` and signed as exactly::

    {"bom-ref":"…","hashes":[{"alg":"SHA-256","content":"<hex>"}],"name":"…",
     "properties":[{"name":"chainguard:size","value":"<decimal>"}],"type":"file"}

(compact, keys in this order). Parsed as JSON, each becomes three dicts, two lists and seven
strings: ~1.3 kB and ~7 µs, most of a 100,000-file verify's memory and a good part of its time.
``pack_file_array`` is handed such an array by the strict streaming parser
(_strictjson.loads_strict_packed) and matches each element against that exact shape with one
regular expression (fileshape.plain_file_pattern), keeping only its path and its line of the
root digest. An element of any other shape is decoded by the strict JSON decoder and kept as is
(``PackedFiles.other``) for sbom/read.py to check like any other file component. The pattern
only accepts what the strict parser would decode to the same three values.

verify goes faster still. While the signature is checked, the hashing workers render the
directory, chunk by chunk, in exactly that shape (fileshape.render_element) and keep each
chunk's SHA-256 (models.RenderedFiles). Where the signed array holds text with that digest,
the chunk's lines are taken without matching anything: one SHA-256 over the text instead of a
regular expression per file. Where it does not (a file changed, added or missing, or another
layout), the elements are matched one by one as above. Either way, the result is what the
signed bytes say (up to a SHA-256 collision, which would break the signature anyway).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chainguard._strictjson import TextWindow
from chainguard.models import RenderedFiles
from chainguard.sbom import fileshape

# groups: SHA-256, path, format (or None), size, the separator after the element
_PLAIN_FILE = fileshape.plain_file_pattern()

# The strict decoder of one JSON value at an index: (value, index after it); raises ValueError.
Decode = Callable[[str, int], tuple[object, int]]
# The run of files a component's array is expected to hold from a path on (the component's
# bom-ref, the path): the directory as it is hashed (hashing_runs.RenderedRuns), or None.
Expect = Callable[[str, str], RenderedFiles | None]
# Longest bom-ref + path looked for at an element's start (a path is at most 4096 bytes).
_PEEK = 8192


@dataclass(frozen=True, slots=True)
class PackedFiles:
    """A JSON array of file components: plain ones in bulk, others decoded as JSON.

    The plain elements' ``chainguard-tree-v1`` lines (``path \0 size \0 sha256 \n``, see
    models.tree_digest) are ``pieces`` joined, in array order: one piece per element matched
    here, one per run of elements that were byte for byte an expected RenderedFiles run.
    ``firsts``/``lasts`` hold each piece's first and last path, ``names`` the paths of the
    elements matched one by one (a run's paths passed the walk's checks), ``plain_count`` and
    ``total_size`` count and add up all plain elements. ``other[j]`` is the element that stood
    at index ``other_index[j]`` of the array. ``digest``: see below.
    """

    pieces: list[str]
    firsts: list[str]
    lasts: list[str]
    names: list[str]
    plain_count: int
    total_size: int
    other: list[object]
    other_index: list[int]
    # the plain elements' formats, "path \0 format \n" (models.FileList), where recorded
    formats: list[str]
    # models.lines_digest of the pieces joined, if every element was a matched run, in order
    digest: str | None = None

    def __len__(self) -> int:
        return self.plain_count + len(self.other)

    @property
    def lines(self) -> list[str]:
        """Every plain element's line, in array order."""
        return split_lines("".join(self.pieces))


def split_lines(text: str) -> list[str]:
    """chainguard-tree-v1 lines, each with its newline (no path holds one)."""
    lines = text.split("\n")
    lines.pop()  # after the last newline (or the empty text)
    return [line + "\n" for line in lines]


def pack_file_array(
    window: TextWindow,
    pos: int,
    decode: Decode,
    parent: Mapping[str, object] | None = None,
    *,
    expect: Expect | None = None,
    ascii_bytes: bytes | None = None,
) -> tuple[PackedFiles, int]:
    """Read the JSON array starting at ``window.text[pos] == "["``; return it and the index
    after it (in the window as it then is).

    ``expect`` (verify): where the array holds an expected run (its SHA-256), the run's lines
    are taken as they are. The run's JSON is what this function's pattern accepts, and means
    what its lines say, so the result is the same either way; only the time differs. ``parent``
    is the component object (its bom-ref names the runs). ``ascii_bytes``: the whole text's
    UTF-8, when it is all ASCII (same offsets): runs are then hashed in place, not copied.

    Raises ValueError (or IndexError at the end of the text) where the text is not JSON; the
    caller then lets the plain strict parser find and word the error.
    """
    ref = parent.get("bom-ref") if expect is not None and parent is not None else None
    head = fileshape.plain_entry_head(ref) if isinstance(ref, str) else ""
    match = _PLAIN_FILE.match
    pieces: list[str] = []
    firsts: list[str] = []
    lasts: list[str] = []
    names: list[str] = []
    count = total = 0
    other: list[object] = []
    other_index: list[int] = []
    formats: list[str] = []
    pos = window.skip(window.ensure(pos + 1, window.lookahead))
    if window.text[pos] == "]":
        packed = PackedFiles(pieces, firsts, lasts, names, 0, 0, other, other_index, formats)
        return packed, pos + 1
    # While runs match, in order, their lines are digested as they come: with the hashing still
    # going on, not after it (the root digest check then has nothing left to do).
    digest = hashlib.sha256(b"chainguard-tree-v1\n") if expect is not None else None
    while True:
        pos = window.ensure(pos, window.lookahead)  # an element's worth (a path is at most 4 KiB)
        run = None
        if head and expect is not None and isinstance(ref, str):
            run, pos = _run_at(window, pos, head, ref, expect, ascii_bytes)
        text = window.text
        if run is not None:
            if digest is not None and (not lasts or lasts[-1] < run.first):
                digest.update(run.lines.encode())
            else:
                digest = None
            pieces.append(run.lines)
            formats.append(run.formats)
            firsts.append(run.first)
            lasts.append(run.last)
            count += run.count
            total += run.size
            pos = window.skip(pos + run.json_length)
            separator = window.text[pos]
            pos += 1
        else:
            digest = None
            m = match(text, pos)
            if m is not None:
                sha256, name, fmt, size, separator = m.groups()
                names.append(name)
                pieces.append(f"{name}\0{size}\0{sha256}\n")
                if fmt is not None:
                    formats.append(f"{name}\0{fmt}\n")
                firsts.append(name)
                lasts.append(name)
                count += 1
                total += int(size)
                pos = m.end()
            else:
                other_index.append(count + len(other))
                value, pos = decode(text, pos)
                other.append(value)
                pos = window.skip(pos)
                separator = window.text[pos]
                pos += 1
        if separator == "]":
            packed = PackedFiles(
                pieces,
                firsts,
                lasts,
                names,
                count,
                total,
                other,
                other_index,
                formats,
                digest.hexdigest() if digest is not None else None,
            )
            return packed, pos
        if separator != ",":
            raise ValueError(f"expected ',' or ']' at {pos - 1}")
        pos = window.skip(pos)


def _run_at(
    window: TextWindow, pos: int, head: str, ref: str, expect: Expect, ascii_bytes: bytes | None
) -> tuple[RenderedFiles | None, int]:
    """The expected run the window holds at ``pos``, if any, and where ``pos`` now is. The
    path at the element's start names the run to ask for; a run's text is hashed at most once
    (its first path is unique)."""
    text = window.text
    if not text.startswith(head, pos):
        return None, pos
    start = pos + len(head)
    end = text.find(fileshape.PLAIN_AFTER_BOM_REF, start, start + _PEEK)
    if end < 0:
        return None, pos
    run = expect(ref, text[start:end])
    if run is None:
        return None, pos
    pos = window.ensure(pos, run.json_length + 1)
    end = pos + run.json_length
    if ascii_bytes is not None:
        at = window.base + pos
        held = hashlib.sha256(memoryview(ascii_bytes)[at : at + run.json_length]).digest()
    else:
        held = hashlib.sha256(window.text[pos:end].encode()).digest()
    return (run if held == run.json_sha256 else None), pos

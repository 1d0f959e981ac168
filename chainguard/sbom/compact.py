"""An SBOM file re-serialised compactly, element by element: what ``sign`` signs, never held.

The predicate of the signed statement is the SBOM as ``json.dumps(json.loads(sbom),
separators=(",", ":"), ensure_ascii=False)`` writes it (trust/statement.build_statement). For a
1,000,000-file dataset that meant the SBOM's text, two parse trees of it (a dict per file and
per hash and property in it) and the statement's text at once: 2.6 GB. Here the file is read
in pieces through a moving window (_strictjson.TextWindow); the objects and arrays on the way
to a component's file list are written key by key, and every other value (a file element, the
metadata, the dependencies) is decoded by the strict C decoder and encoded again on its own, so
the text written is byte for byte what the whole-document path writes. That text goes to a
spool file, and is then read back the way verify reads a signed statement (strictly, file lists
packed: sbom/packed.py) into the expected state the statement's subjects are taken from; runs of
plain file entries are taken there by digest, as verify takes the runs its hashing workers
render (_Runs), so what is held is about a line per file.

Anything unusual (malformed JSON, a duplicate key, a NaN, a single value longer than the
window, text that is not UTF-8) returns None: the caller signs through the whole-document path,
which words the error exactly as before.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from chainguard._strictjson import (
    ANY_INDEX,
    JsonPath,
    TextWindow,
    loads_strict_packed_stream,
    reject_duplicates,
)
from chainguard.errors import SbomError
from chainguard.models import ExpectedState, RenderedFiles
from chainguard.paths import every_path_safe
from chainguard.sbom import fileshape
from chainguard.sbom.packed import pack_file_array
from chainguard.sbom.read import read_sbom_document

# The arrays of file components (sbom/fileshape.py): written element by element.
FILE_LISTS: JsonPath = ("components", ANY_INDEX, "components")
_WRITTEN_KEY_BY_KEY = {FILE_LISTS[:i] for i in range(len(FILE_LISTS) + 1)}
_FILE_ENTRY: JsonPath = (*FILE_LISTS, ANY_INDEX)
_READ = 4 * 1024 * 1024  # bytes of the SBOM file read at a time
_FLUSH = 1024 * 1024  # characters of compact text gathered before they are written out

# The encoder json.dumps(value, separators=(",", ":"), ensure_ascii=False) uses, made once.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_PLAIN_FILE = fileshape.plain_file_pattern()
_RUN = 1000  # plain file entries per run at most (a run's text is hashed in one window)


def _reject_constant(name: str) -> object:
    raise ValueError(f"non-standard JSON constant {name}")


@dataclass(frozen=True, slots=True)
class CompactSbom:
    """An SBOM file re-serialised into a spool: its expected state (read back from the compact
    text, as verify reads it), the SHA-256 of the file's bytes, the compact text's length."""

    state: ExpectedState
    sbom_sha256: str
    length: int


class _Unusual(Exception):
    """Not a document this module streams: the caller takes the whole-document path."""


def compact_sbom(path: Path, spool: BinaryIO) -> CompactSbom | None:
    """Write the SBOM at ``path`` compactly (UTF-8) to ``spool`` from its start, then read it
    back into the expected state; None when the SBOM is not one this streams. Raises SbomError
    when the file cannot be read or its content is not an SBOM chainguard accepts."""
    file_digest = hashlib.sha256()
    try:
        f = path.open("rb")
    except OSError as e:  # as read_sbom_file words it
        raise SbomError(f"{path}: cannot read SBOM: {e.strerror or e}") from e
    runs = _Runs()
    try:
        with f:
            length = _write_compact(_texts(f, file_digest, path), spool, runs)
    except (_Unusual, ValueError, IndexError, RecursionError):
        return None
    spool.flush()
    doc = _read_back(spool, length, str(path), runs)
    if doc is None:
        return None
    sha256 = file_digest.hexdigest()
    return CompactSbom(read_sbom_document(doc, sha256, str(path)), sha256, length)


def spooled(spool: BinaryIO, length: int, piece: int = _READ) -> Iterator[bytes]:
    """The first ``length`` bytes of ``spool``, in pieces; SbomError if there are fewer."""
    spool.seek(0)
    left = length
    while left:
        data = spool.read(min(piece, left))
        if not data:
            raise SbomError(
                "the temporary file holding the compact SBOM shrank while being read (another "
                "process wrote to it?); sign again"
            )
        left -= len(data)
        yield data


def _texts(f: BinaryIO, file_digest: hashlib._Hash, path: Path) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    while True:
        try:
            data = f.read(_READ)
        except OSError as e:
            raise SbomError(f"{path}: cannot read SBOM: {e.strerror or e}") from e
        if not data:
            break
        file_digest.update(data)
        if text := decoder.decode(data):
            yield text
    if text := decoder.decode(b"", final=True):
        yield text


def _read_back(spool: BinaryIO, length: int, source: str, runs: _Runs) -> object | None:
    """The compact text parsed strictly, file lists packed (what verify does with the signed
    statement's predicate), the runs written taken by digest; None where that parser would
    read it whole."""

    def whole() -> bytes:
        raise _Unusual

    packers = {FILE_LISTS: functools.partial(pack_file_array, expect=runs.starting_at)}
    try:
        return loads_strict_packed_stream(spooled(spool, length), source, SbomError, packers, whole)
    except _Unusual:
        return None


class _Runs:
    """Runs of plain file entries as they were written, for the read-back: sbom/packed.py takes
    a run's lines where the text at an entry's start has the run's SHA-256, instead of matching
    each entry (what verify does with the runs its hashing workers render: models.RenderedFiles),
    and packs the file list as a piece per run rather than three strings per file.

    A run is up to _RUN consecutive entries, each one exactly what the packer's pattern
    accepts (so its line is the one the packer would make), under the component's bom-ref,
    starting with an entry whose bom-ref is that ref, a slash and a key (the packer looks a run
    up by that key), in strictly increasing path order, every path safe (sbom/read.py checks
    neither for a run's paths). Anything else is matched entry by entry: the result is the
    same."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, str], RenderedFiles] = {}
        self._ref = ""
        self._key = ""
        self._texts: list[str] = []
        self._lines: list[str] = []
        self._formats: list[str] = []
        self._names: list[str] = []
        self._size = 0

    def starting_at(self, ref: str, path: str) -> RenderedFiles | None:
        return self._runs.pop((ref, path), None)

    def add(self, ref: str | None, element: str) -> None:
        """The next entry of a file list (compact JSON) under the component ``ref``."""
        m = _PLAIN_FILE.match(element + "]")
        if ref is None or m is None or m.end() != len(element) + 1:
            self.close()
            return
        sha256, name, fmt, size, _ = m.groups()
        names = self._names
        if names and (len(names) >= _RUN or not names[-1] < name):
            self.close()
        if not names:
            head = fileshape.plain_entry_head(ref)
            if not element.startswith(head):
                return
            self._ref = ref
            end = element.find(fileshape.PLAIN_AFTER_BOM_REF, len(head))
            self._key = element[len(head) : end]
        self._texts.append(element)
        self._lines.append(f"{name}\0{size}\0{sha256}\n")
        if fmt is not None:
            self._formats.append(f"{name}\0{fmt}\n")
        names.append(name)
        self._size += int(size)

    def close(self) -> None:
        """End the run being written (the list ended, or an entry did not fit it)."""
        names = self._names
        if names and every_path_safe(names):
            text = ",".join(self._texts)
            self._runs[(self._ref, self._key)] = RenderedFiles(
                bom_ref=self._ref,
                first=names[0],
                last=names[-1],
                count=len(names),
                size=self._size,
                lines="".join(self._lines),
                formats="".join(self._formats),
                json_sha256=hashlib.sha256(text.encode()).digest(),
                json_length=len(text),
            )
        self._texts.clear()
        self._lines.clear()
        self._formats.clear()
        names.clear()
        self._size = 0


def _write_compact(texts: Iterator[str], spool: BinaryIO, runs: _Runs | None = None) -> int:
    """Write the JSON document arriving as ``texts`` compactly to ``spool``; its byte length.
    ``runs``: where the runs of plain file entries written are kept."""
    spool.seek(0)
    spool.truncate()
    window = TextWindow("", texts)
    decoder = json.JSONDecoder(object_pairs_hook=reject_duplicates, parse_constant=_reject_constant)
    writer = _Writer(window, decoder.raw_decode, spool, runs or _Runs())
    end = writer.value(0, ())
    end = window.skip(end)
    if not window.eof or end != len(window.text):
        raise _Unusual  # something after the document
    writer.flush()
    return writer.length


class _Writer:
    def __init__(
        self,
        window: TextWindow,
        decode: Callable[[str, int], tuple[object, int]],
        spool: BinaryIO,
        runs: _Runs,
    ) -> None:
        self.window = window
        self.decode = decode
        self.spool = spool
        self.runs = runs
        self.scalar: object = None  # the last value decoded whole
        self.out: list[str] = []
        self.pending = 0
        self.length = 0

    def write(self, text: str) -> None:
        self.out.append(text)
        self.pending += len(text)
        if self.pending >= _FLUSH:
            self.flush()

    def flush(self) -> None:
        # (a lone surrogate from a "\ud800" escape cannot be encoded: UnicodeError, unusual)
        data = "".join(self.out).encode("utf-8")
        self.spool.write(data)
        self.length += len(data)
        self.out.clear()
        self.pending = 0

    def at(self, pos: int) -> int:
        window = self.window
        return window.skip(window.ensure(pos, window.lookahead))

    def value(self, pos: int, path: JsonPath, ref: str | None = None) -> int:
        """Write the value at ``pos``; ``ref``: the bom-ref of the object it is in, if known."""
        pos = self.at(pos)
        text = self.window.text
        first = text[pos]
        self.scalar = None
        if path in _WRITTEN_KEY_BY_KEY:
            if first == "{":
                return self.object(pos, path)
            if first == "[":
                return self.array(pos, path, ref if path == FILE_LISTS else None)
        value, end = self.decode(text, pos)
        if end >= len(text) and not self.window.eof:
            raise _Unusual  # it may go on past the window (a number cut short)
        encoded = _ENCODE(value)
        if path == _FILE_ENTRY:
            self.runs.add(ref, encoded)
        self.scalar = value
        self.write(encoded)
        return end

    def object(self, pos: int, path: JsonPath) -> int:
        keys: set[str] = set()
        ref: str | None = None  # the object's bom-ref, read before its file list (as packed.py)
        self.write("{")
        pos = self.at(pos + 1)
        if self.window.text[pos] == "}":
            self.write("}")
            return pos + 1
        while True:
            text = self.window.text
            if text[pos] != '"':
                raise _Unusual
            key, pos = self.decode(text, pos)
            if not isinstance(key, str) or key in keys:
                raise _Unusual  # read_sbom names the duplicate key
            keys.add(key)
            pos = self.at(pos)
            if self.window.text[pos] != ":":
                raise _Unusual
            self.write(_ENCODE(key) + ":")
            pos = self.at(self.value(pos + 1, (*path, key), ref))
            if key == "bom-ref" and isinstance(self.scalar, str):
                ref = self.scalar
            separator = self.window.text[pos]
            if separator == "}":
                self.write("}")
                return pos + 1
            if separator != ",":
                raise _Unusual
            self.write(",")
            pos = self.at(pos + 1)

    def array(self, pos: int, path: JsonPath, ref: str | None) -> int:
        element = (*path, ANY_INDEX)
        self.write("[")
        pos = self.at(pos + 1)
        if self.window.text[pos] == "]":
            self.write("]")
            return pos + 1
        while True:
            pos = self.at(self.value(pos, element, ref))
            separator = self.window.text[pos]
            if separator == "]":
                if path == FILE_LISTS:
                    self.runs.close()
                self.write("]")
                return pos + 1
            if separator != ",":
                raise _Unusual
            self.write(",")
            pos += 1

"""Read a Parquet file's footer: row count and top-level schema, never the data pages.

Layout: ``PAR1`` | pages ... | FileMetaData (Thrift compact protocol) | u32 LE footer length |
``PAR1``. Only the 4-byte head magic, the 8-byte tail and the footer are read, so this costs a
few reads whatever the file size. pyarrow reads this too, but weighs ~100 MB: the compact
protocol is small enough to read here, bounded in every dimension (footer length, nesting depth,
list sizes against the bytes left), and every malformed case is one ParquetError line.

Files with an encrypted footer (``PARE`` magic) keep their schema secret: no facts for them
(``read_footer`` returns None); they are hashed like any other file.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from chainguard.errors import ParquetError
from chainguard.models import ParquetInfo

MAGIC = b"PAR1"
ENCRYPTED_MAGIC = b"PARE"
# Real footers are kilobytes to a few megabytes; a larger claim is an attack on our memory.
MAX_FOOTER_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)

# parquet.thrift enums
_PHYSICAL = (
    "BOOLEAN",
    "INT32",
    "INT64",
    "INT96",
    "FLOAT",
    "DOUBLE",
    "BYTE_ARRAY",
    "FIXED_LEN_BYTE_ARRAY",
)
_CONVERTED = (
    "UTF8",
    "MAP",
    "MAP_KEY_VALUE",
    "LIST",
    "ENUM",
    "DECIMAL",
    "DATE",
    "TIME_MILLIS",
    "TIME_MICROS",
    "TIMESTAMP_MILLIS",
    "TIMESTAMP_MICROS",
    "UINT_8",
    "UINT_16",
    "UINT_32",
    "UINT_64",
    "INT_8",
    "INT_16",
    "INT_32",
    "INT_64",
    "JSON",
    "BSON",
    "INTERVAL",
)
_LOGICAL = {
    1: "STRING",
    2: "MAP",
    3: "LIST",
    4: "ENUM",
    5: "DECIMAL",
    6: "DATE",
    7: "TIME",
    8: "TIMESTAMP",
    10: "INTEGER",
    11: "NULL",
    12: "JSON",
    13: "BSON",
    14: "UUID",
    15: "FLOAT16",
    16: "VARIANT",
    17: "GEOMETRY",
    18: "GEOGRAPHY",
}
_TIME_UNITS = {1: "MILLIS", 2: "MICROS", 3: "NANOS"}

# Thrift compact protocol type ids
_STOP, _TRUE, _FALSE, _I8, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(
    13
)


class _Malformed(Exception):
    """What is wrong with the footer; read_footer prefixes the path."""


@dataclass(frozen=True, slots=True)
class _Element:
    name: str
    physical: int | None
    num_children: int
    converted: int | None
    logical: str | None


class _Reader:
    """Thrift compact protocol over a bytes buffer; reads what is asked, skips the rest."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _byte(self) -> int:
        if self.pos >= len(self.data):
            raise _Malformed("footer ends in the middle of a value")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        result = shift = 0
        while True:
            b = self._byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise _Malformed("varint longer than 10 bytes")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def binary(self) -> bytes:
        length = self.varint()
        if length > len(self.data) - self.pos:
            raise _Malformed(f"string of {length} bytes runs past the footer")
        value = self.data[self.pos : self.pos + length]
        self.pos += length
        return value

    def field(self, last: int) -> tuple[int, int]:
        """(type, field id) of the next struct field; type _STOP at the end of the struct."""
        b = self._byte()
        kind = b & 0x0F
        if kind == _STOP:
            return _STOP, 0
        delta = b >> 4
        fid = last + delta if delta else self.zigzag()
        return kind, fid

    def collection(self, kind: int) -> tuple[int, int]:
        """(element type, size) of a list or set header."""
        b = self._byte()
        size = b >> 4
        if size == 15:
            size = self.varint()
        if size > len(self.data) - self.pos:  # every element takes at least one byte
            raise _Malformed(f"a list claims {size} elements, more than the bytes left")
        return b & 0x0F, size

    def skip(self, kind: int, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise _Malformed(f"nested deeper than {MAX_DEPTH} levels")
        if kind in (_TRUE, _FALSE):
            return
        if kind == _I8:
            self._byte()
        elif kind in (_I16, _I32, _I64):
            self.varint()
        elif kind == _DOUBLE:
            if len(self.data) - self.pos < 8:
                raise _Malformed("footer ends in the middle of a value")
            self.pos += 8
        elif kind == _BINARY:
            self.binary()
        elif kind in (_LIST, _SET):
            elem, size = self.collection(kind)
            for _ in range(size):
                self._skip_element(elem, depth + 1)
        elif kind == _MAP:
            size = self.varint()
            if size:
                if size > len(self.data) - self.pos:
                    raise _Malformed(f"a map claims {size} entries, more than the bytes left")
                types = self._byte()
                for _ in range(size):
                    self._skip_element(types >> 4, depth + 1)
                    self._skip_element(types & 0x0F, depth + 1)
        elif kind == _STRUCT:
            last = 0
            while True:
                ftype, last = self.field(last)
                if ftype == _STOP:
                    return
                self.skip(ftype, depth + 1)
        else:
            raise _Malformed(f"unknown Thrift type id {kind}")

    def _skip_element(self, kind: int, depth: int) -> None:
        if kind in (_TRUE, _FALSE):  # booleans inside collections take one byte each
            self._byte()
        else:
            self.skip(kind, depth)

    def integer(self, kind: int, what: str) -> int:
        if kind not in (_I8, _I16, _I32, _I64):
            raise _Malformed(f"{what} is not an integer")
        return self._byte() if kind == _I8 else self.zigzag()


def read_footer(path: Path) -> ParquetInfo | None:
    """Row count and top-level columns from the footer. Raises ParquetError (one line)."""
    try:
        data = _read_footer_bytes(path)
        return None if data is None else parse_footer(data)
    except _Malformed as e:
        raise ParquetError(f"{path}: {e}") from None


def _read_footer_bytes(path: Path) -> bytes | None:
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as e:
        raise ParquetError(f"{path}: cannot read: {e.strerror or e}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Malformed("not a regular file")
        size = st.st_size
        if size < 12:
            raise _Malformed(f"truncated: {size} bytes, shorter than a Parquet header and footer")
        head = _pread(fd, 4, 0)
        tail = _pread(fd, 8, size - 8)
        if head == ENCRYPTED_MAGIC and tail[4:] == ENCRYPTED_MAGIC:
            return None
        if head != MAGIC:
            raise _Malformed("not a Parquet file (no PAR1 magic at the start)")
        if tail[4:] != MAGIC:
            raise _Malformed("truncated or not Parquet: no PAR1 magic at the end")
        (length,) = struct.unpack("<I", tail[:4])
        if length > MAX_FOOTER_BYTES:
            raise _Malformed(f"footer length {length} exceeds the {MAX_FOOTER_BYTES}-byte limit")
        if length == 0 or length > size - 12:
            raise _Malformed(f"footer length {length} does not fit the {size}-byte file")
        footer = _pread(fd, length, size - 8 - length)
        if len(footer) != length:
            raise _Malformed("truncated: file shrank while reading the footer")
        return footer
    except OSError as e:
        raise ParquetError(f"{path}: cannot read: {e.strerror or e}") from e
    finally:
        os.close(fd)


def _pread(fd: int, length: int, offset: int) -> bytes:
    chunks = []
    while length:
        chunk = os.pread(fd, length, offset)
        if not chunk:
            break
        chunks.append(chunk)
        length -= len(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def parse_footer(data: bytes) -> ParquetInfo:
    """Parse a FileMetaData struct (the footer bytes). Raises _Malformed."""
    r = _Reader(data)
    rows: int | None = None
    elements: list[_Element] | None = None
    last = 0
    while True:
        kind, last = r.field(last)
        if kind == _STOP:
            break
        if last == 2 and kind == _LIST:
            elements = _schema(r)
        elif last == 3:
            rows = r.integer(kind, "num_rows")
        else:
            r.skip(kind)
    if elements is None:
        raise _Malformed("footer has no schema")
    if rows is None:
        raise _Malformed("footer has no row count")
    if rows < 0:
        raise _Malformed(f"negative row count {rows}")
    return ParquetInfo(rows=rows, columns=_top_level(elements))


def _schema(r: _Reader) -> list[_Element]:
    elem, size = r.collection(_LIST)
    if elem != _STRUCT:
        raise _Malformed("schema is not a list of structs")
    return [_element(r, i) for i in range(size)]


def _element(r: _Reader, index: int) -> _Element:
    where = f"schema element {index}"
    name: str | None = None
    physical = converted = None
    logical: str | None = None
    children = 0
    last = 0
    while True:
        kind, last = r.field(last)
        if kind == _STOP:
            break
        if last == 1:
            physical = r.integer(kind, f"{where} type")
            if not 0 <= physical < len(_PHYSICAL):
                raise _Malformed(f"{where}: unknown physical type {physical}")
        elif last == 4 and kind == _BINARY:
            try:
                name = r.binary().decode("utf-8")
            except UnicodeDecodeError:
                raise _Malformed(f"{where}: name is not UTF-8") from None
        elif last == 5:
            children = r.integer(kind, f"{where} num_children")
            if children < 0:
                raise _Malformed(f"{where}: negative num_children")
        elif last == 6:
            converted = r.integer(kind, f"{where} converted_type")
        elif last == 10 and kind == _STRUCT:
            logical = _logical(r, where)
        else:
            r.skip(kind)
    if name is None:
        raise _Malformed(f"{where} has no name")
    return _Element(name, physical, children, converted, logical)


def _logical(r: _Reader, where: str) -> str | None:
    """The LogicalType union: the name of its one member, with the integer width / time unit."""
    result: str | None = None
    last = 0
    while True:
        kind, last = r.field(last)
        if kind == _STOP:
            return result
        if kind != _STRUCT:
            raise _Malformed(f"{where}: logical type member is not a struct")
        name = _LOGICAL.get(last, f"LOGICAL_{last}")
        detail = _logical_member(r, name)
        result = detail or name


def _logical_member(r: _Reader, name: str) -> str | None:
    """Read one LogicalType member struct; INTEGER -> INT_8/UINT_16..., TIMESTAMP -> ..._MICROS."""
    bits: int | None = None
    signed: bool | None = None
    unit: str | None = None
    last = 0
    while True:
        kind, last = r.field(last)
        if kind == _STOP:
            break
        if name == "INTEGER" and last == 1:
            bits = r.integer(kind, "integer bit width")
        elif name == "INTEGER" and last == 2 and kind in (_TRUE, _FALSE):
            signed = kind == _TRUE
        elif name in ("TIME", "TIMESTAMP") and last == 2 and kind == _STRUCT:
            unit_last = 0
            while True:
                ukind, unit_last = r.field(unit_last)
                if ukind == _STOP:
                    break
                unit = _TIME_UNITS.get(unit_last, unit)
                r.skip(ukind)
        else:
            r.skip(kind)
    if name == "INTEGER" and bits in (8, 16, 32, 64) and signed is not None:
        return f"{'' if signed else 'U'}INT_{bits}"
    if unit is not None:
        return f"{name}_{unit}"
    return None


def _top_level(elements: list[_Element]) -> tuple[tuple[str, str], ...]:
    """The root's children in order, each with its type; checks the tree uses every element."""
    if not elements:
        raise _Malformed("schema is empty")
    root = elements[0]
    columns: list[tuple[str, str]] = []
    i = 1
    for _ in range(root.num_children):
        if i >= len(elements):
            raise _Malformed("schema has fewer elements than its root claims children")
        columns.append((elements[i].name, _type_name(elements[i])))
        i = _subtree_end(elements, i)
    if i != len(elements):
        raise _Malformed("schema has elements outside the root's tree")
    return tuple(columns)


def _subtree_end(elements: list[_Element], start: int) -> int:
    """Index just after the subtree rooted at ``start`` (iterative: no recursion limit)."""
    remaining = [1]
    i = start
    while remaining:
        if remaining[-1] == 0:
            remaining.pop()
            continue
        if i >= len(elements):
            raise _Malformed("schema has fewer elements than its groups claim children")
        remaining[-1] -= 1
        children = elements[i].num_children
        i += 1
        if children:
            if len(remaining) > MAX_DEPTH:
                raise _Malformed(f"schema nested deeper than {MAX_DEPTH} levels")
            remaining.append(children)
    return i


def _type_name(e: _Element) -> str:
    if e.physical is None and not e.num_children:
        raise _Malformed(f"column {e.name[:100]!r} has neither a type nor children")
    base = "GROUP" if e.physical is None else _PHYSICAL[e.physical]
    annotation = e.logical
    if annotation is None and e.converted is not None:
        annotation = (
            _CONVERTED[e.converted]
            if 0 <= e.converted < len(_CONVERTED)
            else f"CONVERTED_{e.converted}"
        )
    return f"{base}/{annotation}" if annotation else base

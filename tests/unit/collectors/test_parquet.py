"""Parquet footer facts: cross-checked with pyarrow (test-only), and every malformed footer."""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import pytest

from chainguard.collectors.parquet import MAX_FOOTER_BYTES, parse_footer, read_footer
from chainguard.errors import InputError, ParquetError

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def write(path: Path, table: object, **kwargs: object) -> Path:
    pq.write_table(table, path, **kwargs)
    return path


@pytest.fixture
def wide(tmp_path: Path) -> Path:
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "text": pa.array(["a", "b", None]),
            "u8": pa.array([1, 2, 3], pa.uint8()),
            "i16": pa.array([1, 2, 3], pa.int16()),
            "ts": pa.array([1, 2, 3], pa.timestamp("us", tz="UTC")),
            "ns": pa.array([1, 2, 3], pa.timestamp("ns")),
            "tags": pa.array([["x"], [], ["y", "z"]]),
            "kv": pa.array([[("k", 1)], [], []], pa.map_(pa.string(), pa.int32())),
            "nested": pa.array([{"a": 1, "b": "x"}] * 3),
            "dec": pa.array([1, 2, 3], pa.decimal128(10, 2)),
            "f": pa.array([1.0, 2.0, 3.0]),
            "flag": pa.array([True, False, None]),
            "day": pa.array([0, 1, 2], pa.date32()),
            "raw": pa.array([b"x", b"y", b"z"]),
            "odd, name: 100%": pa.array([1, 2, 3]),
        }
    )
    return write(tmp_path / "wide.parquet", table, row_group_size=2)


def test_rows_and_top_level_columns_match_pyarrow(wide: Path) -> None:
    info = read_footer(wide)
    assert info is not None
    meta = pq.ParquetFile(wide).metadata
    assert info.rows == meta.num_rows == 3
    assert [name for name, _ in info.columns] == pq.ParquetFile(wide).schema_arrow.names
    assert dict(info.columns) == {
        "id": "INT64",
        "text": "BYTE_ARRAY/STRING",
        "u8": "INT32/UINT_8",
        "i16": "INT32/INT_16",
        "ts": "INT64/TIMESTAMP_MICROS",
        "ns": "INT64/TIMESTAMP_NANOS",
        "tags": "GROUP/LIST",
        "kv": "GROUP/MAP",
        "nested": "GROUP",
        "dec": "FIXED_LEN_BYTE_ARRAY/DECIMAL",
        "f": "DOUBLE",
        "flag": "BOOLEAN",
        "day": "INT32/DATE",
        "raw": "BYTE_ARRAY",
        "odd, name: 100%": "INT64",
    }


@pytest.mark.parametrize("rows", [0, 1, 1000, 70_000])
def test_row_counts_across_row_groups(tmp_path: Path, rows: int) -> None:
    table = pa.table({"n": pa.array(range(rows), pa.int32())})
    path = write(tmp_path / "r.parquet", table, row_group_size=4096)
    info = read_footer(path)
    assert info is not None and info.rows == rows == pq.ParquetFile(path).metadata.num_rows


def test_legacy_converted_types_and_big_footer_metadata(tmp_path: Path) -> None:
    # Key/value metadata and statistics are skipped without being materialised.
    table = pa.table({"s": pa.array(["x" * 100] * 10)}).replace_schema_metadata(
        {"k" * 10: "v" * 100_000}
    )
    path = write(tmp_path / "m.parquet", table, version="1.0", write_statistics=True)
    info = read_footer(path)
    assert info is not None and info.rows == 10
    assert info.columns[0][0] == "s" and info.columns[0][1].startswith("BYTE_ARRAY/")


def test_reads_only_the_footer(wide: Path, tmp_path: Path) -> None:
    # Corrupt every data page: the footer facts must not change (nothing else is read).
    data = bytearray(wide.read_bytes())
    footer_len = struct.unpack("<I", data[-8:-4])[0]
    for i in range(4, len(data) - 8 - footer_len):
        data[i] ^= 0xFF
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(bytes(data))
    assert read_footer(corrupt) == read_footer(wide)


def test_encrypted_footer_gives_no_facts(tmp_path: Path) -> None:
    path = tmp_path / "enc.parquet"
    path.write_bytes(b"PARE" + b"\0" * 20 + struct.pack("<I", 10) + b"PARE")
    assert read_footer(path) is None


def _bad(tmp_path: Path, content: bytes) -> str:
    path = tmp_path / "bad.parquet"
    path.write_bytes(content)
    with pytest.raises(ParquetError) as info:
        read_footer(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    assert isinstance(info.value, InputError)
    return message


def test_malformed_files(tmp_path: Path, wide: Path) -> None:
    good = wide.read_bytes()
    assert "shorter" in _bad(tmp_path, b"PAR1PAR1")
    assert "no PAR1 magic at the start" in _bad(tmp_path, b"XXXX" + good[4:])
    assert "at the end" in _bad(tmp_path, good[:-1])  # truncated
    assert "at the end" in _bad(tmp_path, good[: len(good) // 2])
    huge = struct.pack("<I", MAX_FOOTER_BYTES + 1)
    assert "exceeds" in _bad(tmp_path, good[:-8] + huge + b"PAR1")
    too_long = struct.pack("<I", len(good))
    assert "does not fit" in _bad(tmp_path, good[:-8] + too_long + b"PAR1")
    assert "does not fit" in _bad(tmp_path, good[:-8] + struct.pack("<I", 0) + b"PAR1")
    # a footer cut short: the length claims fewer bytes than the struct needs
    footer_len = struct.unpack("<I", good[-8:-4])[0]
    shorter = struct.pack("<I", footer_len // 2)
    _bad(tmp_path, good[: -8 - footer_len] + good[-8 - footer_len // 2 : -8] + shorter + b"PAR1")


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParquetError, match="cannot read"):
        read_footer(tmp_path / "absent.parquet")
    (tmp_path / "dir.parquet").mkdir()
    with pytest.raises(ParquetError, match="not a regular file"):
        read_footer(tmp_path / "dir.parquet")


# A tiny Thrift compact-protocol writer for hand-made footers.
LIST, STRUCT, I32, I64, BINARY = 9, 12, 5, 6, 8
STOP = b"\x00"


def fh(delta: int, kind: int) -> bytes:
    return bytes([(delta << 4) | kind])


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        if n < 0x80:
            return bytes(out + bytes([n]))
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def zz(n: int) -> bytes:
    return varint((n << 1) ^ (n >> 63))


def element(
    name: bytes | None, *, physical: int | None = None, children: int | None = None
) -> bytes:
    out, last = b"", 0
    if physical is not None:
        out += fh(1, I32) + zz(physical)
        last = 1
    if name is not None:
        out += fh(4 - last, BINARY) + varint(len(name)) + name
        last = 4
    if children is not None:
        out += fh(5 - last, I32) + zz(children)
    return out + STOP


def footer(elements: list[bytes] | None, rows: int | None) -> bytes:
    out = b""
    if elements is not None:
        n = len(elements)
        head = bytes([(n << 4) | STRUCT]) if n < 15 else bytes([0xF0 | STRUCT]) + varint(n)
        out += fh(2, LIST) + head + b"".join(elements)
    if rows is not None:
        out += fh(3 if elements is None else 1, I64) + zz(rows)
    return out + STOP


ROOT0 = element(b"r", children=0)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "ends in the middle"),
        (fh(1, I32), "ends in the middle"),
        (footer([], 5), "schema is empty"),
        (footer([ROOT0], None), "no row count"),
        (footer(None, 5), "no schema"),
        (fh(3, I64) + b"\xff" * 11, "varint"),
        (fh(2, LIST) + b"\xfc" + varint(65535), "more than the bytes left"),
        (b"\x1d", "unknown Thrift type"),
        (fh(2, LIST) + b"\x18\x01a" + STOP, "not a list of structs"),
        (footer([fh(1, I32) + zz(1) + STOP], 1), "has no name"),
        (footer([element(b"\xff\xfe")], 1), "not UTF-8"),
        (footer([element(b"a", physical=9)], 1), "unknown physical type"),
        (footer([element(b"r", children=2)], 1), "fewer elements"),
        (footer([element(b"r", children=-1)], 1), "negative num_children"),
        (footer([ROOT0, element(b"c", physical=1)], 1), "outside the root"),
        (footer([ROOT0], -1), "negative row count"),
        (footer([element(b"r", children=1), element(b"c")], 1), "neither a type nor"),
        (b"\x1c" * 100, "deeper than"),
        (footer([element(b"g", children=1)] * 80 + [element(b"x", physical=1)], 1), "deeper"),
    ],
)
def test_malformed_footers(data: bytes, reason: str) -> None:
    from chainguard.collectors.parquet import _Malformed

    with pytest.raises(_Malformed, match=reason):
        parse_footer(data)


def test_hand_made_minimal_footer() -> None:
    info = parse_footer(footer([element(b"r", children=1), element(b"x", physical=2)], 7))
    assert (info.rows, info.columns) == (7, (("x", "INT64"),))


def test_fuzzed_footers_never_escape_as_other_errors(tmp_path: Path, wide: Path) -> None:
    good = wide.read_bytes()
    footer_len = struct.unpack("<I", good[-8:-4])[0]
    start = len(good) - 8 - footer_len
    rng = random.Random(1234)
    path = tmp_path / "fuzz.parquet"
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(start, len(good) - 8)] = rng.randrange(256)
        path.write_bytes(bytes(data))
        try:
            read_footer(path)
        except ParquetError as e:
            assert "\n" not in str(e)
    for _ in range(100):  # random garbage footers of every length
        path.write_bytes(b"PAR1" + os.urandom(rng.randrange(0, 300)) + b"PAR1")
        size = path.stat().st_size
        body = path.read_bytes()[:-4]
        length = rng.randrange(0, size)
        path.write_bytes(body[:-4] + struct.pack("<I", length) + b"PAR1")
        try:
            read_footer(path)
        except ParquetError as e:
            assert "\n" not in str(e)

"""read_header: real files written by the safetensors package, and malformed headers."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from chainguard.collectors.safetensors import MAX_HEADER_BYTES, read_header
from chainguard.errors import InputError, SafetensorsError
from chainguard.models import SafetensorsInfo


def write_raw(path: Path, header: bytes, data: bytes = b"", *, length: int | None = None) -> Path:
    prefix = struct.pack("<Q", len(header) if length is None else length)
    path.write_bytes(prefix + header + data)
    return path


def write_header(path: Path, header: Any, data_size: int = 16) -> Path:
    return write_raw(path, json.dumps(header).encode(), b"\0" * data_size)


def tensor(dtype: Any = "F32", shape: Any = (2, 2), offsets: Any = (0, 16)) -> dict[str, Any]:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


# --- real files ----------------------------------------------------------------------------------


def test_real_file_with_metadata(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_file(
        {
            "embed.weight": np.zeros((10, 4), dtype=np.float32),
            "head.bias": np.zeros((3,), dtype=np.float16),
            "step": np.array(5, dtype=np.int64),  # a scalar: shape [], one element
            "empty": np.zeros((0, 7), dtype=np.float32),
        },
        str(path),
        metadata={"format": "pt", "author": "tests"},
    )
    assert read_header(path) == SafetensorsInfo(
        tensor_count=4,
        dtypes=("F16", "F32", "I64"),
        parameters=40 + 3 + 1 + 0,
        metadata=(("author", "tests"), ("format", "pt")),
    )


def test_real_file_without_tensors(tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    save_file({}, str(path))
    assert read_header(path) == SafetensorsInfo(tensor_count=0, dtypes=(), parameters=0)


def test_tensor_data_is_never_read(tmp_path: Path) -> None:
    # A 1 GiB sparse data section: reading it would be slow; the header alone is instant.
    data_size = 1 << 30
    header = {"big": tensor("U8", (data_size,), (0, data_size))}
    path = write_header(tmp_path / "big.safetensors", header, data_size=0)
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size + data_size)
    assert read_header(path).parameters == data_size


def test_header_padding_and_empty_metadata_are_fine(tmp_path: Path) -> None:
    raw = json.dumps({"__metadata__": {}, "t": tensor()}).encode() + b"   "
    info = read_header(write_raw(tmp_path / "p.safetensors", raw, b"\0" * 16))
    assert (info.tensor_count, info.metadata) == (1, ())


# --- malformed files -----------------------------------------------------------------------------

MALFORMED_HEADERS = [
    ("array", [1, 2], "not a JSON object"),
    ("entry-not-object", {"t": [1]}, "entry is not an object"),
    ("no-dtype", {"t": {"shape": [1], "data_offsets": [0, 4]}}, "dtype"),
    ("dtype-int", {"t": tensor(dtype=5)}, "dtype"),
    ("dtype-comma", {"t": tensor(dtype="F32,I8")}, "dtype"),
    ("dtype-empty", {"t": tensor(dtype="")}, "dtype"),
    ("shape-negative", {"t": tensor(shape=(2, -2))}, "shape"),
    ("shape-float", {"t": tensor(shape=(2.0, 2))}, "shape"),
    ("shape-bool", {"t": tensor(shape=(True, 2))}, "shape"),
    ("shape-not-list", {"t": {**tensor(), "shape": 4}}, "shape"),
    ("shape-too-big", {"t": tensor(shape=(10**30, 10**30))}, "more elements than"),
    ("offsets-one", {"t": tensor(offsets=(0,))}, "data_offsets"),
    ("offsets-three", {"t": tensor(offsets=(0, 8, 16))}, "data_offsets"),
    ("offsets-str", {"t": tensor(offsets=("0", 16))}, "data_offsets"),
    ("offsets-bool", {"t": tensor(offsets=(False, 16))}, "data_offsets"),
    ("offsets-missing", {"t": {"dtype": "F32", "shape": [1]}}, "data_offsets"),
    ("begin-after-end", {"t": tensor(offsets=(8, 4))}, "outside"),
    ("negative-begin", {"t": tensor(offsets=(-4, 4))}, "outside"),
    ("end-past-data", {"t": tensor(offsets=(0, 17))}, "outside the 16-byte data"),
    ("metadata-list", {"__metadata__": ["a"]}, "__metadata__ must map strings to strings"),
    ("metadata-int", {"__metadata__": {"epoch": 3}}, "__metadata__ must map strings to strings"),
    ("metadata-nested", {"__metadata__": {"a": {"b": "c"}}}, "__metadata__ must map"),
    ("metadata-surrogate", {"__metadata__": {"a": "\ud800"}}, "not valid Unicode"),
]


@pytest.mark.parametrize(
    ("header", "message"),
    [m[1:] for m in MALFORMED_HEADERS],
    ids=[m[0] for m in MALFORMED_HEADERS],
)
def test_malformed_header(tmp_path: Path, header: Any, message: str) -> None:
    path = write_header(tmp_path / "bad.safetensors", header)
    with pytest.raises(SafetensorsError, match=message) as info:
        read_header(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


MALFORMED_BYTES = [
    ("empty", b"", "truncated: shorter than the 8-byte"),
    ("short-prefix", b"\x05\x00\x00", "truncated: shorter than the 8-byte"),
    ("length-past-end", struct.pack("<Q", 100) + b"{}", "truncated: header length 100 exceeds"),
    ("huge-length", struct.pack("<Q", 2**63) + b"{}", "exceeds the 100000000-byte limit"),
    ("just-over-limit", struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}", "byte limit"),
    ("not-json", struct.pack("<Q", 5) + b"hello", "not valid JSON"),
    ("empty-header", struct.pack("<Q", 0), "not valid JSON"),
    ("not-utf8", struct.pack("<Q", 4) + b'"\xff"' + b"}", "not UTF-8"),
    ("nan", struct.pack("<Q", 10) + b'{"a": NaN}', "not a JSON object|dtype|entry"),
    ("deep", struct.pack("<Q", 200_000) + b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ("dup-key", struct.pack("<Q", 17) + b'{"a": 1, "a": 2}\x20', "duplicate key 'a'"),
]


@pytest.mark.parametrize(
    ("raw", "message"),
    [m[1:] for m in MALFORMED_BYTES],
    ids=[m[0] for m in MALFORMED_BYTES],
)
def test_malformed_bytes(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(raw)
    with pytest.raises(SafetensorsError, match=message) as info:
        read_header(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_header(tmp_path / "nope.safetensors")


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SafetensorsError):
        read_header(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(SafetensorsError, match="not a regular file"):
        read_header(fifo)

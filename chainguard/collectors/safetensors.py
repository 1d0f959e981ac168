"""Read the header of a safetensors file: tensor count, dtypes, parameter count, metadata.

Only the 8-byte length prefix and the JSON header are read, never the tensor data, so this is
cheap beside hashing. stdlib only: the safetensors package is not needed to read JSON.

Layout: ``u64 little-endian N`` | ``N bytes of UTF-8 JSON`` | tensor data. The JSON maps tensor
names to ``{"dtype": str, "shape": [int, ...], "data_offsets": [begin, end]}`` (offsets relative
to the start of the data) plus an optional ``"__metadata__": {str: str}``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import struct
from pathlib import Path
from typing import Any

from chainguard._strictjson import DuplicateKeyError, reject_duplicates
from chainguard.errors import SafetensorsError
from chainguard.models import SafetensorsInfo

# The same bound the reference implementation enforces: a larger header is an attack on the
# reader's memory, not a model.
MAX_HEADER_BYTES = 100_000_000
# Parsed, 100 MB of JSON can hold 33 million empty objects (some 2.5 GB of dicts): the values a
# header may hold are bounded too, counted in the raw bytes before parsing. A tensor takes one
# object, two arrays and some eight commas: these allow 300,000 tensors in one file.
MAX_HEADER_CONTAINERS = 1_000_000  # "{" and "[" bytes
MAX_HEADER_COMMAS = 4_000_000
_METADATA_KEY = "__metadata__"
# Every dtype the format defines (BF16, F8_E4M3, ...) fits this; anything else would also break
# the comma-separated dtype list in the SBOM.
_DTYPE = re.compile("[A-Za-z0-9_]{1,32}")
# Opening a FIFO for reading blocks until a writer appears; O_NONBLOCK makes open() return so
# the fstat check below can refuse it. It has no effect on regular files.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class _Malformed(Exception):
    """A reason the header is invalid; read_header prefixes the path."""


def _is_int(value: object) -> bool:
    # JSON true/false arrive as bool, which is an int subclass.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: str) -> bool:
    # A "\\ud800" escape decodes to a lone surrogate, which cannot be written out as UTF-8 later.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Bits per element of each dtype the format defines: what `strict` checks a tensor's span by.
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8,
    "U16": 16, "I16": 16, "F16": 16, "BF16": 16,
    "U32": 32, "I32": 32, "F32": 32, "U64": 64, "I64": 64, "F64": 64, "C64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip


def read_header(path: Path, *, strict: bool = False) -> SafetensorsInfo:
    """Read and validate a safetensors header. Raises SafetensorsError (one line).

    `strict` also checks the layout the reference loader leaves unchecked or tolerates, each
    violation named by its rule: the JSON starts with `{`, every dtype is known, each tensor's
    shape x dtype size is its byte span, the spans tile the data buffer in order (contiguous,
    no overlap, no gap) and the buffer ends exactly at the end of the file (nothing appended).
    """
    try:
        return _read_header(path, strict=strict)
    except _Malformed as e:
        raise SafetensorsError(f"{path}: {e}") from None


def _read_header(path: Path, *, strict: bool) -> SafetensorsInfo:
    try:
        with os.fdopen(os.open(path, _OPEN_FLAGS), "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _Malformed("not a regular file")
            file_size = st.st_size
            prefix = f.read(8)
            if len(prefix) < 8:
                raise _Malformed("truncated: shorter than the 8-byte header length")
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > MAX_HEADER_BYTES:
                raise _Malformed(
                    f"header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte limit"
                )
            if header_len > file_size - 8:
                raise _Malformed(
                    f"truncated: header length {header_len} exceeds the {file_size - 8} bytes left"
                )
            raw = f.read(header_len)
    except OSError as e:
        raise SafetensorsError(f"{path}: cannot read: {e.strerror or e}") from e
    if len(raw) != header_len:
        raise _Malformed("truncated: file shrank while reading the header")
    containers, commas = raw.count(b"{") + raw.count(b"["), raw.count(b",")
    if containers > MAX_HEADER_CONTAINERS or commas > MAX_HEADER_COMMAS:
        raise _Malformed(
            f"header holds {containers} objects/arrays and {commas} commas: over the "
            f"{MAX_HEADER_CONTAINERS} and {MAX_HEADER_COMMAS} read"
        )
    try:
        # Two entries for one tensor would be read differently by different loaders.
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=reject_duplicates)
    except DuplicateKeyError as e:
        raise SafetensorsError(f"{path}: duplicate key {e.key[:100]!r} in header") from e
    except UnicodeDecodeError as e:
        raise SafetensorsError(f"{path}: header is not UTF-8 (byte {e.start})") from e
    except (ValueError, RecursionError) as e:
        raise SafetensorsError(f"{path}: header is not valid JSON") from e
    if not isinstance(header, dict):
        raise _Malformed("header is not a JSON object")
    if strict and not raw.startswith(b"{"):
        raise _Malformed("rule json-starts-with-brace: the header must start with '{'")
    info = _parse_header(header, data_size=file_size - 8 - header_len)
    if strict:
        _check_layout(header, data_size=file_size - 8 - header_len)
    return info


def _check_layout(header: dict[str, Any], *, data_size: int) -> None:
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == _METADATA_KEY:
            continue
        where = f"tensor {name[:100]!r}"
        bits = DTYPE_BITS.get(entry["dtype"])
        if bits is None:
            raise _Malformed(f"rule known-dtype: {where}: unknown dtype {entry['dtype']!r}")
        begin, end = entry["data_offsets"]
        elements = 1
        for dim in entry["shape"]:
            elements *= dim
        if elements * bits != (end - begin) * 8:
            raise _Malformed(
                f"rule span-matches-shape: {where}: shape {entry['shape']} of {entry['dtype']} "
                f"needs {elements * bits / 8:g} bytes, data_offsets give {end - begin}"
            )
        spans.append((begin, end, where))
    spans.sort()
    position = 0
    for begin, end, where in spans:
        if begin < position:
            raise _Malformed(f"rule no-overlap: {where} overlaps the previous tensor's data")
        if begin > position:
            raise _Malformed(
                f"rule contiguous: {where} starts at {begin}, after a gap from {position}"
            )
        position = end
    if position != data_size:
        raise _Malformed(
            f"rule ends-at-eof: the tensors' data ends at {position} but the buffer holds "
            f"{data_size} bytes (appended data)"
        )


def _parse_header(header: dict[str, Any], *, data_size: int) -> SafetensorsInfo:
    metadata: tuple[tuple[str, str], ...] = ()
    dtypes: set[str] = set()
    parameters = 0
    tensor_count = 0
    for name, entry in header.items():
        if name == _METADATA_KEY:
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise _Malformed("__metadata__ must map strings to strings")
            if not all(_is_text(k) and _is_text(v) for k, v in entry.items()):
                raise _Malformed("__metadata__ holds a string that is not valid Unicode")
            metadata = tuple(sorted(entry.items()))
            continue
        where = f"tensor {name[:100]!r}"
        if not isinstance(entry, dict):
            raise _Malformed(f"{where}: entry is not an object")
        dtype = entry.get("dtype")
        shape = entry.get("shape")
        offsets = entry.get("data_offsets")
        if not isinstance(dtype, str) or not _DTYPE.fullmatch(dtype):
            raise _Malformed(f"{where}: dtype must be a short name such as F32 or BF16")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise _Malformed(f"{where}: shape must be a list of non-negative integers")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)
        ):
            raise _Malformed(f"{where}: data_offsets must be [begin, end] integers")
        begin, end = offsets
        if not 0 <= begin <= end <= data_size:
            raise _Malformed(
                f"{where}: data_offsets [{begin}, {end}] outside the {data_size}-byte data"
            )
        parameters += _element_count(shape, span=end - begin, where=where)
        dtypes.add(dtype)
        tensor_count += 1
    return SafetensorsInfo(
        tensor_count=tensor_count,
        dtypes=tuple(sorted(dtypes)),
        parameters=parameters,
        metadata=metadata,
    )


def _element_count(shape: list[int], *, span: int, where: str) -> int:
    if 0 in shape:
        return 0
    # No dtype is smaller than one bit, so a tensor cannot hold more than 8 elements per byte of
    # its data. Stopping early also keeps a hostile shape from building a gigantic integer.
    limit = 8 * span
    count = 1
    for dim in shape:
        count *= dim
        if count > limit:
            raise _Malformed(f"{where}: shape has more elements than its {span} bytes can hold")
    return count

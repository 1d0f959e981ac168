"""A GGUF file's header and metadata, never its tensors; and its chat template checked for
template-injection constructs.

The layout is llama.cpp's (the `gguf` package's constants name the tensor types and their
sizes), read here with struct over a read-only map of the file rather than with `gguf`'s
reader: that reader makes several numpy objects per metadata array element (a 256,000-token
vocabulary becomes millions of them: tens of seconds and gigabytes for one file). This walk
keeps only the values it reports, skips fixed-size arrays by arithmetic and bounds everything a
header can claim: `MAX_TENSORS` and `MAX_KEYS` before anything is walked, `MAX_ARRAY_ITEMS`
array elements walked in all, `MAX_NESTING` arrays in arrays, and every length within the file.
It checks what the reader checks: versions 2 and 3 (either byte order), UTF-8 names, no
duplicate key or tensor name, known value and tensor types, a power-of-two alignment, every
tensor's data inside the file.
"""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MAX_TENSORS: Final = 1_000_000
MAX_KEYS: Final = 100_000
# Array elements walked one by one (strings, nested arrays), every key together: a 256,000-token
# vocabulary with its merges is about 1,000,000.
MAX_ARRAY_ITEMS: Final = 10_000_000
MAX_NESTING: Final = 8
MAX_DIMS: Final = 4  # GGML_MAX_DIMS: llama.cpp refuses more
_HEADER = struct.Struct("<4sIQQ")
_VERSIONS: Final = (2, 3)
_STRING, _ARRAY = 8, 9
# struct codes of the scalar value types, by GGUFValueType number
_SCALARS: Final = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_KEPT: Final = frozenset(
    {"general.architecture", "general.file_type", "general.alignment", "tokenizer.chat_template"}
)

# Constructs of the Jinja server-side template injections behind CVE-2024-34359
# (llama-cpp-python rendered a model's chat template unsandboxed): reaching Python internals
# through dunder attributes, the attr filter, or the globals Jinja exposes by default.
_TEMPLATE_RISKS: Final = (
    ("dunder attribute", re.compile(r"__[A-Za-z_]+__")),
    ("attr filter", re.compile(r"\|\s*attr\b")),
    ("Jinja global object", re.compile(r"\b(?:lipsum|cycler|joiner|namespace)\s*\.")),
    ("Python module access", re.compile(r"\b(?:os|subprocess|sys|builtins|importlib)\s*\.")),
    ("code execution call", re.compile(r"\b(?:popen|system|eval|exec|import_module)\s*\(")),
    ("template internals", re.compile(r"\bself\s*\._")),
)


class GgufError(Exception):
    """The file is not a readable GGUF (a malformed-artifact finding)."""


@dataclass(frozen=True, slots=True)
class GgufInfo:
    version: int
    tensor_count: int
    key_count: int
    architecture: str | None
    quantization: str | None  # general.file_type named (MOSTLY_Q4_K_M, ...), else the number
    chat_template: str | None


def read_gguf(path: Path) -> GgufInfo:
    """Read a GGUF header and metadata. Raises GgufError (one line)."""
    with open(path, "rb") as f:
        fixed = f.read(_HEADER.size)
        if len(fixed) < _HEADER.size:
            raise GgufError("truncated: shorter than the GGUF header")
        magic, version, tensors, keys = _HEADER.unpack(fixed)
        if magic != b"GGUF":
            raise GgufError("no GGUF magic")
        order = "<"
        if version & 0xFFFF == 0:  # written big-endian: the version reads byte-swapped
            order = ">"
            version, tensors, keys = struct.unpack(">IQQ", fixed[4:24])
        if version not in _VERSIONS:
            raise GgufError(f"unreadable GGUF: version {version} (read: 2 and 3)")
        if tensors > MAX_TENSORS or keys > MAX_KEYS:
            raise GgufError(f"header claims {tensors} tensors and {keys} keys: over the limits")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            try:
                kept = _Walk(data, order).read(keys, tensors)
            except (_Bad, struct.error, UnicodeDecodeError) as e:
                raise GgufError(f"unreadable GGUF: {_one_line(e)}") from None
    file_type = kept.get("general.file_type")
    return GgufInfo(
        version=version,
        tensor_count=tensors,
        key_count=keys,
        architecture=_text(kept.get("general.architecture")),
        quantization=_quantization(file_type) if isinstance(file_type, int) else None,
        chat_template=_text(kept.get("tokenizer.chat_template")),
    )


class _Bad(Exception):
    """What is wrong with the file (read_gguf words it)."""


class _Walk:
    """The metadata and tensor infos, from byte 24 of the mapped file."""

    def __init__(self, data: mmap.mmap, order: str) -> None:
        self.data = data
        self.size = len(data)
        self.order = order
        self.pos = _HEADER.size
        self.items = MAX_ARRAY_ITEMS

    def unpack(self, code: str) -> int | float | bool:
        fmt = struct.Struct(self.order + code)
        if self.pos + fmt.size > self.size:
            raise _Bad(f"truncated at byte {self.pos}")
        (value,) = fmt.unpack_from(self.data, self.pos)
        self.pos += fmt.size
        return value  # type: ignore[no-any-return]

    def count(self, code: str) -> int:
        value = self.unpack(code)
        assert isinstance(value, int)
        return value

    def skip(self, n: int) -> None:
        if n > self.size - self.pos:
            raise _Bad(f"a length of {n} bytes at byte {self.pos} runs past the end of the file")
        self.pos += n

    def string(self) -> bytes:
        n = self.count("Q")
        start = self.pos
        self.skip(n)
        return self.data[start : self.pos]

    def value(self, kind: int, keep: bool, depth: int = 0) -> object:
        if kind == _STRING:
            if keep:
                return self.string()
            self.skip(self.count("Q"))
            return None
        code = _SCALARS.get(kind)
        if code is not None:
            return self.unpack(code)
        if kind != _ARRAY:
            raise _Bad(f"unknown value type {kind} at byte {self.pos}")
        if depth >= MAX_NESTING:
            raise _Bad(f"arrays nested over {MAX_NESTING} deep")
        item, length = self.count("I"), self.count("Q")
        code = _SCALARS.get(item)
        if code is not None:  # fixed-size elements: skipped whole
            self.skip(length * struct.calcsize(code))
            return None
        self.items -= length
        if self.items < 0:
            raise _Bad(f"metadata arrays of over {MAX_ARRAY_ITEMS} elements")
        for _ in range(length):
            self.value(item, False, depth + 1)
        return None

    def read(self, keys: int, tensors: int) -> dict[str, object]:
        kept: dict[str, object] = {}
        seen: set[str] = set()
        for _ in range(keys):
            key = self.string().decode("utf-8")
            if key in seen:
                raise _Bad(f"duplicate key {key[:100]!r}")
            seen.add(key)
            kind = self.count("I")
            kept_value = self.value(kind, key in _KEPT)
            if key in _KEPT:
                kept[key] = kept_value
        alignment = kept.get("general.alignment", 32)
        if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment <= 0:
            raise _Bad("general.alignment is not a positive integer")
        if alignment & (alignment - 1):
            raise _Bad(f"alignment {alignment} is not a power of two")
        infos = [self.tensor_info() for _ in range(tensors)]
        names = {name for name, _, _ in infos}
        if len(names) != len(infos):
            raise _Bad("two tensors of the same name")
        start = -(-self.pos // alignment) * alignment
        for name, offset, n_bytes in infos:
            if start + offset + n_bytes > self.size:
                raise _Bad(f"tensor {name[:100]!r} runs past the end of the file")
        return kept

    def tensor_info(self) -> tuple[str, int, int]:
        from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType  # cached after once

        name = self.string().decode("utf-8")
        dims = self.count("I")
        if dims > MAX_DIMS:
            raise _Bad(f"tensor {name[:100]!r}: {dims} dimensions (GGML has {MAX_DIMS})")
        elements = 1
        for _ in range(dims):
            elements *= self.count("Q")
        kind = self.count("I")
        try:
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(kind)]
        except (ValueError, KeyError):
            raise _Bad(f"tensor {name[:100]!r}: unknown tensor type {kind}") from None
        return name, self.count("Q"), elements * type_size // block


def _text(value: object) -> str | None:
    if not isinstance(value, bytes):
        return None
    # Replaced, not dropped: one invalid byte must not hide a chat template from the check.
    return value.decode("utf-8", errors="replace")


def _quantization(number: int) -> str:
    from gguf import LlamaFileType

    try:
        return LlamaFileType(number).name
    except ValueError:
        return str(number)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__


def template_risks(template: str) -> tuple[str, ...]:
    """The injection constructs a chat template uses, by name (empty: none seen)."""
    return tuple(name for name, pattern in _TEMPLATE_RISKS if pattern.search(template))

"""A GGUF file's header and metadata, read with llama.cpp's own reader (the `gguf` package),
never its tensors; and its chat template checked for template-injection constructs.

The reader maps the file and parses every key/value pair, so the counts in the fixed header are
checked first (`MAX_TENSORS`, `MAX_KEYS`): a header claiming billions of entries is refused
before the reader walks them.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MAX_TENSORS: Final = 1_000_000
MAX_KEYS: Final = 100_000
_HEADER = struct.Struct("<4sIQQ")

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
    if version > 0xFFFF:
        # Big-endian files carry the version byte-swapped; the reader handles them.
        version = struct.unpack(">I", struct.pack("<I", version))[0]
        tensors, keys = struct.unpack(">QQ", fixed[8:24])
    if tensors > MAX_TENSORS or keys > MAX_KEYS:
        raise GgufError(f"header claims {tensors} tensors and {keys} keys: over the limits")
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path, "r")
    except Exception as e:  # the reader raises ValueError, IndexError, struct and numpy errors
        raise GgufError(f"unreadable GGUF: {type(e).__name__}: {str(e)[:200]}") from None
    return GgufInfo(
        version=version,
        tensor_count=len(reader.tensors),
        key_count=len(reader.fields),
        architecture=_string(reader, "general.architecture"),
        quantization=_quantization(reader),
        chat_template=_string(reader, "tokenizer.chat_template"),
    )


def _string(reader: object, key: str) -> str | None:
    field = reader.fields.get(key)  # type: ignore[attr-defined]
    if field is None or not field.data:
        return None
    raw = field.parts[field.data[0]]
    try:
        return bytes(raw).decode("utf-8")
    except (UnicodeDecodeError, TypeError):
        return None


def _quantization(reader: object) -> str | None:
    field = reader.fields.get("general.file_type")  # type: ignore[attr-defined]
    if field is None or not field.data:
        return None
    try:
        number = int(field.parts[field.data[0]][0])
    except (IndexError, TypeError, ValueError):
        return None
    from gguf import LlamaFileType

    try:
        return LlamaFileType(number).name
    except ValueError:
        return str(number)


def template_risks(template: str) -> tuple[str, ...]:
    """The injection constructs a chat template uses, by name (empty: none seen)."""
    return tuple(name for name, pattern in _TEMPLATE_RISKS if pattern.search(template))

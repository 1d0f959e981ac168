"""A file's format from its first bytes, never from its name.

`detect_format(head, size)` takes the first `HEAD_BYTES` bytes of a file (fewer when the file is
shorter) and the file's size, and returns one id of `FORMATS`. It is pure and reads nothing, so
the SBOM build, verify and `chainguard scan` all name a file the same way.

Why `HEAD_BYTES` is 4 KiB: one page, one read per file, so detecting the format of every file
costs no more than the walk. Every magic number sits well inside it (tar's `ustar` at 257, an
HDF5 superblock after a user block of up to 2048 bytes), as do the `.npy` headers NumPy writes
(a dict padded to 64 bytes, hundreds of bytes even for wide structured dtypes) and the first
member names of a zip (which tell a PyTorch checkpoint, `.npz` or `.keras` from a plain zip).
An `.npy` header that does not fit is reported as `numpy-pickle`: from the head alone an object
dtype cannot be ruled out, and `policy.scan_file` then reads the whole header (bounded).
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a worker's start-up)
if TYPE_CHECKING:
    import re
    from typing import Final

HEAD_BYTES: Final = 4096

FORMATS: Final = frozenset(
    {
        "safetensors",
        "gguf",
        "onnx",
        "pytorch-zip",  # torch.save's zip layout: <name>/data.pkl + tensor storages
        "pickle",  # a raw pickle stream, any protocol (legacy torch.save files included)
        "numpy",  # .npy without Python objects
        "numpy-pickle",  # .npy whose dtype holds Python objects: stored as a pickle
        "npz",  # a zip of .npy members
        "keras-zip",  # Keras 3 .keras: metadata.json, config.json, model.weights.h5
        "hdf5",  # HDF5 (Keras 2 .h5 among others)
        "parquet",
        "arrow",  # Arrow IPC file (Feather v2), Arrow stream, Feather v1
        "json",  # JSON and JSON Lines
        "text",
        "zip",
        "7z",
        "tar",
        "gzip",
        "bzip2",
        "xz",
        "zstd",
        "empty",
        "unknown",
    }
)

# Formats whose loading runs a pickle. Archives (zip, npz, 7z, keras-zip) may hold such members:
# the policy looks inside them.
PICKLE_BEARING: Final = frozenset({"pickle", "pytorch-zip", "numpy-pickle"})
# Formats read again by the policy (formats/policy.scan_file): what the first bytes cannot clear.
INSPECTED: Final = PICKLE_BEARING | {"zip", "npz", "keras-zip", "7z", "safetensors", "gguf"}
# What a file's name says it is, for the formats whose loaders trust the name: bytes of
# another format under such a name are a disguise (a pickle renamed .safetensors).
NAMED: Final[dict[str, frozenset[str]]] = {
    ".safetensors": frozenset({"safetensors"}),
    ".gguf": frozenset({"gguf"}),
    ".onnx": frozenset({"onnx"}),
    ".parquet": frozenset({"parquet"}),
    ".npy": frozenset({"numpy", "numpy-pickle"}),
    ".npz": frozenset({"npz", "zip"}),
}

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_LOCAL = b"PK\x03\x04"
_ZIP_EMPTY = b"PK\x05\x06"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_HDF5_OFFSETS = (0, 512, 1024, 2048)
# ModelProto fields (number → protobuf wire type): what an ONNX file's top level may hold.
_ONNX_FIELDS: Final = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2}
# A protocol 0/1 pickle is (mostly) ASCII text, so it is recognised by its first opcodes
# (compiled on first use: most heads fail the first-byte check before it).
_PICKLE_TEXT_PATTERN = (
    rb"\(?(?:c[A-Za-z_][\w.]*\n[A-Za-z_][\w.]*\n|[(}\]][(q\x85-\x87]|\(d|\(l|\(t)"
)
_PICKLE_TEXT_FIRST = frozenset(b"(c}]")  # the bytes _PICKLE_TEXT_PATTERN can start with
_pickle_text_start: re.Pattern[bytes] | None = None
# Control characters other than tab, newline, form feed and carriage return: not text. (UTF-8
# continuation bytes are all >= 0x80, so the bytes can be searched directly.)
_CONTROL = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
# Every byte to itself, each control character to another byte (_has_control).
_CONTROL_MARKED = bytes((b + 1) % 256 if b in _CONTROL else b for b in range(256))
# A safetensors header's first bytes: printable ASCII and JSON whitespace only.
_PRINTABLE = bytes([0x09, 0x0A, 0x0D, *range(0x20, 0x7F)])
_JSON_SAMPLE = 24
# Enough parsed opcodes to call a stream a pickle when the head does not hold all of it.
_PICKLE_MIN_OPS = 8


# What detect_format tells apart only by its last pass over the whole head (_textual).
TEXTUAL: Final = frozenset({"text", "json", "unknown"})


def detect_format(head: bytes, size: int) -> str:
    """The format of a file whose first bytes are `head` and whose length is `size`."""
    return detect_structured(head, size) or _textual(head, size) or "unknown"


def detect_structured(head: bytes, size: int) -> str | None:
    """detect_format's answer when it is not one of TEXTUAL, else None: everything but the
    pass over the head that tells text, JSON and unknown bytes apart. `chainguard scan`, under
    a policy that asks nothing of those three formats, needs no more (about 3 µs a text file)."""
    if size == 0:
        return "empty"
    # The checks in order of cost: the first bytes each detector requires, then the detector
    # (the text check, a pass over the head, is last: detect_format). This runs once per file
    # of a dataset: a C call saved is a tenth of a microsecond.
    first = head[0] if head else -1
    if (first in _MAGIC_FIRST and head.startswith(_PREFIX_MAGICS)) or (
        # the magics found further in: HDF5 after a user block, tar
        len(head) <= 2048
        or head[512] == 0x89
        or head[1024] == 0x89
        or head[2048] == 0x89
        or head[257] == 0x75
    ):
        found = _magic(head, size)
        if found is not None:
            return found
    if len(head) >= 10 and head[8] in _SAFETENSORS_FIRST:  # what _safetensors requires
        found = _safetensors(head, size)
        if found is not None:
            return found
    if (
        first == 0x80
        or first in _PICKLE_TEXT_FIRST
        or (size == len(head) and head.endswith(b"."))  # what _pickle requires
    ):
        found = _pickle(head, size)
        if found is not None:
            return found
    if first == 0x08:
        found = _onnx(head, size)
        if found is not None:
            return found
    return None


def _magic(head: bytes, size: int) -> str | None:
    if head.startswith(_PREFIX_MAGICS):
        if head.startswith(b"GGUF"):
            return "gguf"
        if head.startswith(_NPY_MAGIC):
            return _numpy(head)
        if head.startswith((_ZIP_LOCAL, _ZIP_EMPTY)):
            return _zip_kind(head)
        if _hdf5(head):
            return "hdf5"
        if head.startswith(b"PAR1"):
            return "parquet"
        if head.startswith((b"ARROW1", b"FEA1")) or _arrow_stream(head, size):
            return "arrow"
        if head.startswith(b"7z\xbc\xaf\x27\x1c"):
            return "7z"
        if head.startswith(b"ustar", 257):
            return "tar"
        for magic, name in _COMPRESSED:
            if head.startswith(magic):
                return name
        return None
    # No prefix magic: only the magics found further in can still match (same order as above).
    if head.startswith(_HDF5_MAGIC, 512) or head.startswith(_HDF5_MAGIC, 1024):
        return "hdf5"
    if head.startswith(_HDF5_MAGIC, 2048):
        return "hdf5"
    return "tar" if head.startswith(b"ustar", 257) else None


def _hdf5(head: bytes) -> bool:
    return any(head.startswith(_HDF5_MAGIC, o) for o in _HDF5_OFFSETS)


_COMPRESSED = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
# Every magic number _magic looks for at offset 0 (the arrow stream's continuation marker too).
_PREFIX_MAGICS = (
    b"GGUF",
    _NPY_MAGIC,
    _ZIP_LOCAL,
    _ZIP_EMPTY,
    _HDF5_MAGIC,
    b"PAR1",
    b"ARROW1",
    b"FEA1",
    b"\xff\xff\xff\xff",
    b"7z\xbc\xaf\x27\x1c",
    *(magic for magic, _ in _COMPRESSED),
)


# The first bytes of _PREFIX_MAGICS, and of a safetensors header's JSON (after its length).
_MAGIC_FIRST = frozenset(m[0] for m in _PREFIX_MAGICS)
_SAFETENSORS_FIRST = frozenset(b"{ \t\r\n")


def _arrow_stream(head: bytes, size: int) -> bool:
    # A stream starts with the continuation marker and the length of its first (schema) message.
    if not head.startswith(b"\xff\xff\xff\xff") or len(head) < 8:
        return False
    length: int = struct.unpack("<i", head[4:8])[0]
    return 0 < length <= size - 8 and length % 8 == 0


def _safetensors(head: bytes, size: int) -> str | None:
    # u64 header length, then a JSON object. A length past the file is still safetensors (a
    # malformed one): the strict reader says which rule it breaks.
    # Leading whitespace is JSON, but the strict reader refuses it: still name it safetensors.
    # The JSON must look like JSON, not just start with a brace: one random binary file in 256
    # has "{" as its ninth byte, and calling it a (malformed) safetensors file would refuse it.
    window = head[8:72].lstrip(b" \t\r\n")
    if len(head) < 10 or not window.startswith(b"{"):
        return None
    sample = window[: min(len(window), _JSON_SAMPLE)]
    if len(sample.translate(None, _PRINTABLE)) or not sample[1:].lstrip(b" \t\r\n").startswith(
        (b'"', b"}")
    ):
        return None
    (header_len,) = struct.unpack("<Q", head[:8])
    return "safetensors" if header_len >= 2 else None


def _pickle(head: bytes, size: int) -> str | None:
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    global _pickle_text_start
    if not (head and head[0] in _PICKLE_TEXT_FIRST) and not (
        size == len(head) and head.endswith(b".")
    ):
        return None
    if _pickle_text_start is None:
        import re

        _pickle_text_start = re.compile(_PICKLE_TEXT_PATTERN)
    if not _pickle_text_start.match(head) and not (size == len(head) and head.endswith(b".")):
        return None
    import pickletools  # only for heads that may be a protocol 0/1 pickle

    ops = 0
    try:
        for opcode, _arg, _pos in pickletools.genops(head):
            ops += 1
            if opcode.name == "STOP":
                return "pickle" if ops >= 2 else None
    except (ValueError, KeyError, struct.error, UnicodeDecodeError):
        # A cut-off head ends inside an opcode: enough good opcodes before it still count.
        truncated = size > len(head)
        return "pickle" if truncated and ops >= _PICKLE_MIN_OPS else None
    return None


def _onnx(head: bytes, size: int) -> str | None:
    # ONNX writers put ir_version (field 1, varint) first; every top-level field must be one
    # of ModelProto's with its wire type, until the head runs out.
    if not head.startswith(b"\x08"):
        return None
    pos, fields = 0, 0
    while pos < len(head):
        key, pos = _varint(head, pos)
        if key is None:
            break
        number, wire = key >> 3, key & 7
        if _ONNX_FIELDS.get(number) != wire:
            return None
        value, pos = _varint(head, pos)
        if value is None:
            break
        if number == 1 and not 1 <= value <= 100:
            return None
        if wire == 2:
            pos += value
        fields += 1
    return "onnx" if fields >= 2 or (fields == 1 and pos >= size) else None


def _varint(data: bytes, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos


def _textual(head: bytes, size: int) -> str | None:
    text = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    # ASCII first: it stops at the first high byte (most binary files, within a few bytes),
    # and for ASCII text the control check finds a NUL too.
    if text.isascii():
        if _has_control(text):
            return None
        # Without control characters, bytes.lstrip strips what str.lstrip would.
        return "json" if text.lstrip()[:1] in (b"{", b"[") else "text"
    if b"\0" in text:  # most other binary files: one memchr
        return None
    try:
        decoded = text.decode("utf-8")  # fails within a few bytes for most binary files
    except UnicodeDecodeError as e:
        # The head may cut a multi-byte character in two.
        if size <= len(head) or e.start < len(text) - 3:
            return None
        decoded = text[: e.start].decode("utf-8")
    if _has_control(text):
        return None
    stripped = decoded.lstrip()
    return "json" if stripped[:1] in ("{", "[") else "text"


def _has_control(text: bytes) -> bool:
    # CPython's bytes.translate returns the very object when the table changed no byte: then
    # one C pass, no comparison (faster than deleting the control characters and comparing
    # lengths); elsewhere the comparison decides.
    marked = text.translate(_CONTROL_MARKED)
    return marked is not text and marked != text


def _numpy(head: bytes) -> str:
    if len(head) < 10:
        return "numpy-pickle"
    major = head[6]
    if major == 1:
        (length,) = struct.unpack("<H", head[8:10])
        start = 10
    else:
        if len(head) < 12:
            return "numpy-pickle"
        (length,) = struct.unpack("<I", head[8:12])
        start = 12
    if start + length > len(head):
        return "numpy-pickle"
    return "numpy-pickle" if npy_header_has_objects(head[start : start + length]) else "numpy"


def npy_header_has_objects(header: bytes) -> bool:
    """Whether an `.npy` header's dtype may hold Python objects (unparseable counts as yes)."""
    import ast  # only for .npy headers

    try:
        parsed = ast.literal_eval(header.decode("latin-1").strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return True  # (TypeError: a literal set of dicts, "{{}}", unhashable)
    if not isinstance(parsed, dict) or "descr" not in parsed:
        return True
    return _descr_has_objects(parsed["descr"], depth=0)


def _descr_has_objects(descr: object, *, depth: int) -> bool:
    if depth > 32:
        return True
    if isinstance(descr, str):
        return "O" in descr
    if isinstance(descr, (list, tuple)):
        return any(_descr_has_objects(part, depth=depth + 1) for part in descr)
    return not isinstance(descr, int)


def _zip_kind(head: bytes) -> str:
    names = zip_member_names(head)
    if not names:
        return "zip"
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return "pytorch-zip"
    if names[0] in ("metadata.json", "config.json") or "model.weights.h5" in names:
        return "keras-zip"
    if all(n.endswith(".npy") for n in names):
        return "npz"
    return "zip"


def zip_member_names(head: bytes) -> list[str]:
    """The names of the zip members whose local headers lie within `head`, in order."""
    names: list[str] = []
    pos = 0
    while head[pos : pos + 4] == _ZIP_LOCAL and pos + 30 <= len(head):
        (flags,) = struct.unpack("<H", head[pos + 6 : pos + 8])
        (compressed,) = struct.unpack("<I", head[pos + 18 : pos + 22])
        name_len, extra_len = struct.unpack("<HH", head[pos + 26 : pos + 30])
        name = head[pos + 30 : pos + 30 + name_len]
        if len(name) < name_len:
            break
        names.append(name.decode("utf-8", "replace"))
        if flags & 0x08:
            # Sizes follow the data (streamed writer): the next header cannot be found.
            break
        pos += 30 + name_len + extra_len + compressed
    return names

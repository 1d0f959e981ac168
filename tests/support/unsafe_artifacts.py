"""Writes (never loads) unsafe and benign artifacts of every detected format.

Malicious pickles are written as raw opcode bytes: nothing here builds them by pickling an
object, and nothing anywhere in the tests unpickles them. `write_all(directory)` returns, per
file name, its expected format and the rule ids a scan must raise for it (empty: passes)."""

from __future__ import annotations

import io
import json
import struct
import tarfile
import zipfile
from pathlib import Path
from typing import NamedTuple


class Expected(NamedTuple):
    format: str
    rules: frozenset[str]


# cposix.system('id') through REDUCE (protocol 2)
OS_SYSTEM = b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."
# Protocol 4 with STACK_GLOBAL: the names come from the memo, not a GLOBAL line.
STACK_GLOBAL = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94."
# importlib.import_module('os'), then builtins.getattr(module, 'system')('id')
IMPORTLIB = (
    b"\x80\x02cbuiltins\ngetattr\ncimportlib\nimport_module\nX\x02\x00\x00\x00os\x85R"
    b"X\x06\x00\x00\x00system\x86RX\x02\x00\x00\x00id\x85R."
)
# nullifAI: a payload first, then a deliberately broken opcode; pickle.load runs the payload
# before it reaches the break.
NULLIFAI = b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R\xff\xfe0."
# The same trick with only a safe import before the break: still unanalysable.
BROKEN_SAFE = b"\x80\x02ccollections\nOrderedDict\n)R\xff"
TRUNCATED = b"\x80\x02ccollections\nOrderedDict\n)R"
# A state dict as torch.save pickles it (persistent ids elided): tensor-rebuilding imports only.
STATE_DICT = (
    b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x06\x00\x00\x00weightq\x02"
    b"ctorch._utils\n_rebuild_tensor_v2\nq\x03ctorch\nFloatStorage\nq\x04K\x00\x86Rs."
)


def npy_bytes(descr: str, shape: tuple[int, ...], body: bytes) -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    padded = header + " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(padded)) + padded.encode() + body


def safetensors_bytes(header: bytes | dict[str, object], data: bytes) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def _tensor(begin: int, end: int, shape: list[int], dtype: str = "F32") -> dict[str, object]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


# Each malformed safetensors case: (bytes, the rule its message names).
MALFORMED_SAFETENSORS: dict[str, tuple[bytes, str]] = {
    "huge-header": (struct.pack("<Q", 1 << 40) + b"{}", "exceeds"),
    "no-brace": (
        safetensors_bytes(b' {"a": ' + json.dumps(_tensor(0, 4, [1])).encode() + b"}", b"\0" * 4),
        "json-starts-with-brace",
    ),
    "duplicate": (
        safetensors_bytes(
            b'{"a": '
            + json.dumps(_tensor(0, 4, [1])).encode()
            + b', "a": '
            + json.dumps(_tensor(0, 4, [1])).encode()
            + b"}",
            b"\0" * 4,
        ),
        "duplicate key",
    ),
    "outside": (safetensors_bytes({"a": _tensor(0, 64, [16])}, b"\0" * 8), "outside"),
    "overlap": (
        safetensors_bytes({"a": _tensor(0, 8, [2]), "b": _tensor(4, 12, [2])}, b"\0" * 12),
        "no-overlap",
    ),
    "gap": (
        safetensors_bytes({"a": _tensor(0, 4, [1]), "b": _tensor(8, 12, [1])}, b"\0" * 12),
        "contiguous",
    ),
    "span": (safetensors_bytes({"a": _tensor(0, 8, [3])}, b"\0" * 8), "span-matches-shape"),
    "appended": (
        safetensors_bytes({"a": _tensor(0, 4, [1])}, b"\0" * 4 + b"PAYLOAD"),
        "ends-at-eof",
    ),
    "metadata": (
        safetensors_bytes({"__metadata__": {"k": 1}, "a": _tensor(0, 4, [1])}, b"\0" * 4),
        "__metadata__",
    ),
}


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def torch_zip(data_pkl: bytes) -> bytes:
    # torch.save's layout, written by hand: no torch import.
    return _zip(
        {
            "archive/data.pkl": data_pkl,
            "archive/byteorder": b"little",
            "archive/data/0": b"\0" * 16,
            "archive/version": b"3\n",
        }
    )


def gguf_file(path: Path, template: str | None) -> None:
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(path, "llama")
    writer.add_file_type(15)  # MOSTLY_Q4_K_M
    if template is not None:
        writer.add_chat_template(template)
    writer.add_tensor("w", np.zeros(4, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


SSTI_TEMPLATE = (
    "{% for c in ().__class__.__base__.__subclasses__() %}"
    "{% if c.__name__ == 'Popen' %}{{ c('id', shell=True) }}{% endif %}{% endfor %}"
)
BENIGN_TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"


def write_unsafe(directory: Path) -> dict[str, Expected]:
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[bytes, Expected]] = {
        "os_system.pkl": (OS_SYSTEM, Expected("pickle", frozenset({"unsafe-pickle"}))),
        "stack_global.pkl": (STACK_GLOBAL, Expected("pickle", frozenset({"unsafe-pickle"}))),
        "importlib.pkl": (IMPORTLIB, Expected("pickle", frozenset({"unsafe-pickle"}))),
        "nullifai.pkl": (NULLIFAI, Expected("pickle", frozenset({"unsafe-pickle"}))),
        "broken_safe.pkl": (BROKEN_SAFE, Expected("pickle", frozenset({"unsafe-pickle"}))),
        "truncated.pkl": (TRUNCATED, Expected("pickle", frozenset({"unsafe-pickle"}))),
        "evil_torch.pt": (
            torch_zip(OS_SYSTEM),
            Expected("pytorch-zip", frozenset({"unsafe-pickle"})),
        ),
        "objects.npy": (
            npy_bytes("|O", (1,), OS_SYSTEM),
            Expected("numpy-pickle", frozenset({"unsafe-pickle"})),
        ),
        "renamed.safetensors": (
            OS_SYSTEM,
            Expected("pickle", frozenset({"unsafe-pickle", "malformed-artifact"})),
        ),
        "evil.zip": (
            _zip({"inner/model.pkl": OS_SYSTEM}),
            Expected("zip", frozenset({"unsafe-pickle"})),
        ),
    }
    for case, (data, _rule) in MALFORMED_SAFETENSORS.items():
        files[f"malformed-{case}.safetensors"] = (
            data,
            Expected("safetensors", frozenset({"malformed-artifact"})),
        )
    expected = {}
    for name, (data, exp) in files.items():
        (directory / name).write_bytes(data)
        expected[name] = exp
    import py7zr

    with py7zr.SevenZipFile(directory / "evil.7z", "w") as archive:
        archive.writestr(OS_SYSTEM, "weights/model.pkl")
    expected["evil.7z"] = Expected("7z", frozenset({"unsafe-pickle"}))
    gguf_file(directory / "ssti.gguf", SSTI_TEMPLATE)
    expected["ssti.gguf"] = Expected("gguf", frozenset({"template-review"}))
    return expected


def write_benign(directory: Path) -> dict[str, Expected]:
    """One benign file of every format; the pickle-bearing ones only warn (pickle-format)."""
    import numpy as np
    import py7zr
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq
    from safetensors.numpy import save

    directory.mkdir(parents=True, exist_ok=True)
    none: frozenset[str] = frozenset()
    warn = frozenset({"pickle-format"})
    files: dict[str, tuple[bytes, Expected]] = {
        "model.safetensors": (
            save(
                {"w": np.zeros((2, 3), dtype=np.float32), "b": np.ones(3, dtype=np.int64)},
                metadata={"format": "np"},
            ),
            Expected("safetensors", none),
        ),
        "model.onnx": (b"\x08\x07\x12\x07pytorch\x1a\x032.0:\x00", Expected("onnx", none)),
        "state.pt": (torch_zip(STATE_DICT), Expected("pytorch-zip", warn)),
        "state.pkl": (STATE_DICT, Expected("pickle", warn)),
        "config.json": (b'{"architectures": ["X"]}\n', Expected("json", none)),
        "README.md": ("# model — ünïcode\n".encode(), Expected("text", none)),
        "model.keras": (
            _zip(
                {
                    "metadata.json": b"{}",
                    "config.json": b"{}",
                    "model.weights.h5": b"\x89HDF\r\n\x1a\n",
                }
            ),
            Expected("keras-zip", none),
        ),
        "weights.h5": (b"\x89HDF\r\n\x1a\n" + b"\0" * 64, Expected("hdf5", none)),
        "plain.zip": (_zip({"a.txt": b"hello"}), Expected("zip", none)),
    }
    buffer = io.BytesIO()
    np.save(buffer, np.arange(10))
    files["array.npy"] = (buffer.getvalue(), Expected("numpy", none))
    buffer = io.BytesIO()
    np.savez(buffer, a=np.arange(3), b=np.zeros(2))
    files["arrays.npz"] = (buffer.getvalue(), Expected("npz", none))
    table = pa.table({"a": [1, 2, 3]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    files["data.parquet"] = (buffer.getvalue(), Expected("parquet", none))
    buffer = io.BytesIO()
    feather.write_feather(table, buffer)
    files["data.arrow"] = (buffer.getvalue(), Expected("arrow", none))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    files["data.tar"] = (buffer.getvalue(), Expected("tar", none))
    expected = {}
    for name, (data, exp) in files.items():
        (directory / name).write_bytes(data)
        expected[name] = exp
    with py7zr.SevenZipFile(directory / "data.7z", "w") as archive:
        archive.writestr(b"hello", "a.txt")
    expected["data.7z"] = Expected("7z", none)
    gguf_file(directory / "model.gguf", BENIGN_TEMPLATE)
    expected["model.gguf"] = Expected("gguf", none)
    return expected

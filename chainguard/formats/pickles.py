"""Pickle streams analysed without loading them: which globals they import, and whether all of
them are what rebuilding tensors needs.

picklescan (a maintained scanner, the one Hugging Face runs on uploads) lists the imported
globals, resolving STACK_GLOBAL through the memo; on top of it, every stream here must parse
from start to STOP with `pickletools.genops` (a disassembler: nothing is imported or called). A
stream that breaks anywhere (the "nullifAI" trick: a payload before a deliberately broken
opcode, which pickle.load runs before it fails), an analyser error, or anything the caps below
stop is unanalysable, and unanalysable is unsafe, never clean.

Containers are looked into without extracting to disk: PyTorch zips (`*/data.pkl`), `.npy`
object arrays (the pickle after the header), zip/npz members and 7z members (py7zr, into
memory), each bounded by `MAX_MEMBER_BYTES`, `MAX_MEMBERS` and `MAX_ARCHIVE_BYTES`. A file's
pickles together are analysed up to `MAX_PICKLE_OPS` opcodes: picklescan holds every opcode of
a stream as a tuple (some 200 bytes each), so a stream of a billion one-byte opcodes would
otherwise take minutes and gigabytes; past the cap the file is unanalysable.
"""

from __future__ import annotations

import io
import logging
import pickletools
import struct
import zipfile
import zlib
from dataclasses import dataclass
from lzma import LZMAError
from pathlib import Path
from typing import BinaryIO, Final

from chainguard.formats.detect import HEAD_BYTES, detect_format, npy_header_has_objects

# A pickle member (data.pkl, an .npy inside an archive) is read into memory to be analysed.
MAX_MEMBER_BYTES: Final = 256 * 1024 * 1024
MAX_MEMBERS: Final = 100_000
# What one archive's pickle members may decompress to, in all (7z: every member, since they
# have no streaming reader; zip: the pickle members read).
MAX_ARCHIVE_BYTES: Final = 1024 * 1024 * 1024
# Opcodes analysed in one file, all its pickles together: a PyTorch checkpoint needs some 30 per
# tensor (this allows a 30,000-tensor state dict); picklescan keeps ~200 bytes per opcode.
MAX_PICKLE_OPS: Final = 1_000_000
# Pickles analysed in one archive (each costs picklescan a fresh pass): a PyTorch zip has one.
MAX_PICKLE_MEMBERS: Final = 1_000
# An .npy version 2/3 header may claim 4 GiB; NumPy itself refuses headers over 10,000 bytes
# unless told otherwise.
MAX_NPY_HEADER: Final = 1024 * 1024

# What torch.load, numpy.load and collections need to rebuild tensors and state dicts: each
# constructs data from data and calls nothing the pickle names.
SAFE_GLOBALS: Final = frozenset(
    {
        "collections.OrderedDict",
        "collections.defaultdict",
        "builtins.set",
        "builtins.frozenset",
        "builtins.bytearray",
        "builtins.complex",
        "builtins.slice",
        "_codecs.encode",  # NumPy arrays pickled at protocol 2 carry their bytes as latin-1 text
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch._utils._rebuild_qtensor",
        "torch._utils._rebuild_sparse_tensor",
        "torch._utils._rebuild_meta_tensor_no_storage",
        "torch._utils._rebuild_device_tensor_from_numpy",
        "torch.Size",
        "torch.device",
        "torch.per_tensor_affine",
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
    }
)
_TORCH_STORAGES: Final = frozenset(
    f"torch.{kind}Storage"
    for kind in [
        "Float",
        "Half",
        "BFloat16",
        "Double",
        "Long",
        "Int",
        "Short",
        "Char",
        "Byte",
        "Bool",
        "ComplexFloat",
        "ComplexDouble",
        "Untyped",
        "QInt8",
        "QUInt8",
        "QInt32",
        "QUInt4x2",
        "QUInt2x4",
    ]
)
_TORCH_DTYPES: Final = frozenset(
    f"torch.{name}"
    for name in [
        "float16",
        "float32",
        "float64",
        "bfloat16",
        "half",
        "float",
        "double",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "bool",
        "complex64",
        "complex128",
        "long",
        "int",
        "short",
        "cfloat",
        "cdouble",
        "qint8",
        "quint8",
        "qint32",
        "float8_e4m3fn",
        "float8_e5m2",
        "uint16",
        "uint32",
        "uint64",
    ]
)


@dataclass(frozen=True, slots=True)
class PickleAnalysis:
    """What the pickles of one file import. `error` set: not fully analysable (unsafe)."""

    imports: tuple[str, ...]  # every global imported, "module.name", sorted
    unsafe: tuple[str, ...]  # those not on the safe list
    error: str | None
    where: tuple[str, ...] = ()  # the members analysed ("" for the file itself)

    @property
    def safe(self) -> bool:
        return self.error is None and not self.unsafe


def is_safe_global(name: str) -> bool:
    if name in SAFE_GLOBALS or name in _TORCH_STORAGES or name in _TORCH_DTYPES:
        return True
    module, _, attr = name.rpartition(".")
    # numpy.dtypes.Float32DType and its kin: NumPy 2 pickles dtypes as these classes.
    return module == "numpy.dtypes" and attr.endswith("DType") and attr.isidentifier()


class _Unanalysable(Exception):
    """Why a stream or container cannot be fully analysed."""


class _Budget:
    """What is left to analyse in one file, all its pickles together: opcodes
    (MAX_PICKLE_OPS), archive members read (MAX_PICKLE_MEMBERS) and their bytes
    (MAX_ARCHIVE_BYTES)."""

    def __init__(self) -> None:
        self.ops = MAX_PICKLE_OPS
        self.bytes = MAX_ARCHIVE_BYTES
        self.members = MAX_PICKLE_MEMBERS

    def read(self, n: int, where: str) -> None:
        self.members -= 1
        if self.members < 0:
            raise _Unanalysable(f"over {MAX_PICKLE_MEMBERS} pickle members: not analysed")
        self.bytes -= n
        if self.bytes < 0:
            raise _Unanalysable(
                _at(where, f"pickle members over {MAX_ARCHIVE_BYTES} bytes in all: not analysed")
            )


def analyse_stream(data: bytes, where: str = "", budget: _Budget | None = None) -> PickleAnalysis:
    """Analyse one pickle stream (one or more pickles back to back, nothing after them);
    ``budget``: what the file it is in has left (a fresh one by default)."""
    try:
        imports = _stream_imports(data, budget or _Budget())
    except _Unanalysable as e:
        return PickleAnalysis(imports=(), unsafe=(), error=_at(where, str(e)), where=(where,))
    found = tuple(sorted(imports))
    unsafe = tuple(name for name in found if not is_safe_global(name))
    return PickleAnalysis(imports=found, unsafe=unsafe, error=None, where=(where,))


def _at(where: str, message: str) -> str:
    return f"{where}: {message}" if where else message


def _stream_imports(data: bytes, budget: _Budget) -> set[str]:
    _check_structure(data, budget)
    from picklescan.scanner import scan_pickle_bytes  # type: ignore[import-untyped]

    # picklescan logs what it finds; chainguard reports it as findings instead.
    logging.getLogger("picklescan").addHandler(logging.NullHandler())
    logging.getLogger("picklescan").propagate = False

    try:
        result = scan_pickle_bytes(io.BytesIO(data), "pickle", multiple_pickles=True)
    except Exception as e:  # any analyser failure: not analysable
        raise _Unanalysable(f"pickle analyser failed: {type(e).__name__}: {e}") from None
    if result.scan_err:
        raise _Unanalysable("pickle analyser could not parse the stream")
    names = {f"{g.module}.{g.name}" for g in result.globals}
    if any("unknown" in name.split(".") for name in names) or (not names and _has_imports(data)):
        raise _Unanalysable("an import whose name is computed at load time")
    return names


def _check_structure(data: bytes, budget: _Budget) -> None:
    """Every pickle in `data` parses to STOP and nothing follows the last one, within the
    budget's opcodes (checked first: picklescan holds every opcode)."""
    if not data:
        raise _Unanalysable("empty pickle stream")
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        start = stream.tell()
        try:
            last = None
            for opcode, _arg, _pos in pickletools.genops(stream):
                last = opcode.name
                budget.ops -= 1
                if budget.ops < 0:
                    raise _Unanalysable(
                        f"pickles of more than {MAX_PICKLE_OPS} opcodes in one file: not analysed"
                    )
        except (ValueError, KeyError, struct.error, UnicodeDecodeError, EOFError) as e:
            raise _Unanalysable(
                f"broken pickle stream after byte {start} ({e}): pickle.load runs what "
                "comes before the break"
            ) from None
        if last != "STOP" or stream.tell() == start:
            raise _Unanalysable(f"truncated pickle stream after byte {start}")


def _has_imports(data: bytes) -> bool:
    import_ops = {"GLOBAL", "STACK_GLOBAL", "INST"}
    return any(op.name in import_ops for op, _a, _p in pickletools.genops(io.BytesIO(data)))


def _merge(parts: list[PickleAnalysis]) -> PickleAnalysis | None:
    if not parts:
        return None
    errors = [p.error for p in parts if p.error is not None]
    return PickleAnalysis(
        imports=tuple(sorted({n for p in parts for n in p.imports})),
        unsafe=tuple(sorted({n for p in parts for n in p.unsafe})),
        error="; ".join(errors[:3]) if errors else None,
        where=tuple(w for p in parts for w in p.where),
    )


def analyse_file(path: Path, fmt: str) -> PickleAnalysis | None:
    """The pickles inside a file of format `fmt` (from `detect_format`), analysed; None when the
    file bears none (a zip of text files, an .npy whose full header shows no objects)."""
    budget = _Budget()
    try:
        with open(path, "rb") as f:
            match fmt:
                case "pickle":
                    return analyse_stream(_read_capped(f, ""), "", budget)
                case "numpy-pickle" | "numpy":
                    return _numpy(f, "", budget)
                case "pytorch-zip" | "zip" | "npz" | "keras-zip":
                    return _zip(f, budget)
                case "7z":
                    return _sevenzip(f, budget)
                case _:
                    return None
    except _Unanalysable as e:
        return PickleAnalysis(imports=(), unsafe=(), error=str(e))
    except OSError as e:
        return PickleAnalysis(imports=(), unsafe=(), error=f"cannot read: {e.strerror or e}")


def _read_capped(f: BinaryIO, where: str) -> bytes:
    data = f.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise _Unanalysable(_at(where, f"pickle over {MAX_MEMBER_BYTES} bytes: not analysed"))
    return data


def _numpy(f: BinaryIO, where: str, budget: _Budget) -> PickleAnalysis | None:
    prefix = f.read(12)
    if len(prefix) < 10 or not prefix.startswith(b"\x93NUMPY"):
        raise _Unanalysable(_at(where, "truncated .npy header"))
    if prefix[6] == 1:
        (length,), start = struct.unpack("<H", prefix[8:10]), 10
    elif len(prefix) < 12:  # versions 2 and 3: a 4-byte header length
        raise _Unanalysable(_at(where, "truncated .npy header"))
    else:
        (length,), start = struct.unpack("<I", prefix[8:12]), 12
    if length > MAX_NPY_HEADER:
        raise _Unanalysable(_at(where, f".npy header of {length} bytes"))
    f.seek(start)
    header = f.read(length)
    if len(header) != length:
        raise _Unanalysable(_at(where, "truncated .npy header"))
    if not npy_header_has_objects(header):
        return None
    return analyse_stream(_read_capped(f, where), where, budget)


def _zip(f: BinaryIO, budget: _Budget) -> PickleAnalysis | None:
    try:
        archive = zipfile.ZipFile(f)
    # NotImplementedError: a member needs a zip version zipfile lacks (read at open)
    except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError, OSError) as e:
        raise _Unanalysable(f"unreadable zip: {e}") from None
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _Unanalysable(f"{len(infos)} zip members: over the {MAX_MEMBERS} analysed")
    parts: list[PickleAnalysis] = []
    for info in infos:
        if info.filename.endswith("/"):  # (ZipInfo.is_dir raises IndexError on a "" name)
            continue
        if info.flag_bits & 0x1:  # (zipfile's own error about it reprs the ZipInfo: is_dir)
            raise _Unanalysable(f"{info.filename or '(no name)'}: encrypted zip member")
        try:
            with archive.open(info) as member:
                head = member.read(HEAD_BYTES)
                kind = detect_format(head, info.file_size)
                if kind not in ("pickle", "numpy-pickle") and not _pickle_name(info.filename):
                    continue
                # The size the member claims bounds what zipfile decompresses (a bomb's
                # claim is refused here, before any of it is inflated).
                if info.file_size > MAX_MEMBER_BYTES:
                    raise _Unanalysable(
                        f"{info.filename}: pickle of {info.file_size} bytes (over "
                        f"{MAX_MEMBER_BYTES}): not analysed"
                    )
                budget.read(info.file_size, info.filename)
                rest = _read_capped(member, info.filename)  # type: ignore[arg-type]
        # NotImplementedError: zipfile's word for a compression method it lacks; unanalysable
        # zlib.error / LZMAError: a corrupt compressed member (not subclasses of the others);
        # RuntimeError: an encrypted one
        except (
            zipfile.BadZipFile,
            ValueError,
            EOFError,
            NotImplementedError,
            OSError,
            RuntimeError,
            zlib.error,
            LZMAError,
        ) as e:
            raise _Unanalysable(f"{info.filename}: unreadable zip member: {e}") from None
        data = head + rest
        if kind == "numpy-pickle":
            found = _numpy(io.BytesIO(data), info.filename, budget)
            if found is not None:
                parts.append(found)
        else:
            parts.append(analyse_stream(data, info.filename, budget))
    return _merge(parts)


def _pickle_name(name: str) -> bool:
    # A member named as a pickle is analysed even when its bytes do not look like one: loaders
    # pick members by name.
    return name.rsplit("/", 1)[-1] == "data.pkl" or name.endswith((".pkl", ".pickle"))


def _sevenzip(f: BinaryIO, budget: _Budget) -> PickleAnalysis | None:
    import py7zr
    from py7zr.io import BytesIOFactory

    try:
        with py7zr.SevenZipFile(f, mode="r") as archive:
            members = [m for m in archive.list() if not m.is_directory]
            if len(members) > MAX_MEMBERS:
                raise _Unanalysable(f"{len(members)} 7z members: over the {MAX_MEMBERS} analysed")
            total = sum(m.uncompressed for m in members)
            big = [m.filename for m in members if m.uncompressed > MAX_MEMBER_BYTES]
            if big or total > MAX_ARCHIVE_BYTES:
                raise _Unanalysable(
                    f"7z members decompress to {total} bytes: over the analysed limits"
                )
            factory = BytesIOFactory(MAX_MEMBER_BYTES + 1)
            archive.extractall(factory=factory)
    except _Unanalysable:
        raise
    except Exception as e:  # py7zr raises many kinds: unanalysable
        raise _Unanalysable(f"unreadable 7z archive: {type(e).__name__}: {e}") from None
    parts: list[PickleAnalysis] = []
    for name, product in sorted(factory.products.items()):
        product.seek(0)
        data = product.read()
        if len(data) > MAX_MEMBER_BYTES:
            raise _Unanalysable(f"{name}: 7z member over {MAX_MEMBER_BYTES} bytes")
        kind = detect_format(data[:HEAD_BYTES], len(data))
        if kind in ("numpy-pickle", "pickle") or _pickle_name(name):
            budget.read(0, name)  # one more member (its bytes: within the archive's total)
        if kind == "numpy-pickle":
            found = _numpy(io.BytesIO(data), name, budget)
            if found is not None:
                parts.append(found)
        elif kind == "pickle" or _pickle_name(name):
            parts.append(analyse_stream(data, name, budget))
        elif kind in ("zip", "pytorch-zip", "npz", "keras-zip"):
            nested = _zip(io.BytesIO(data), budget)
            if nested is not None:
                parts.append(nested)
    return _merge(parts)

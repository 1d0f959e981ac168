"""What one file is, looked at without loading it: its format from its first bytes, then only
for the formats that need it, a deeper read (pickle analysis, the strict safetensors header,
the GGUF metadata). Every other file costs one read of `HEAD_BYTES`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from chainguard.formats.detect import HEAD_BYTES, PICKLE_BEARING, detect_format
from chainguard.formats.gguf import GgufError, GgufInfo, read_gguf
from chainguard.formats.pickles import PickleAnalysis, analyse_file

# Formats whose pickles are looked for (archives may hold pickle members).
_ANALYSED = PICKLE_BEARING | {"zip", "npz", "keras-zip", "7z"}


@dataclass(frozen=True, slots=True)
class Inspection:
    format: str
    pickles: PickleAnalysis | None = None  # None: no pickle found
    malformed: str | None = None  # the format rule the file breaks
    gguf: GgufInfo | None = None


def read_head(path: Path | str) -> tuple[bytes, int]:
    """The first HEAD_BYTES of a regular file and its size. Raises OSError.

    A link given here is followed: which links may be followed is the walk's decision
    (collectors/tree.walk reports links out of the tree and never hands them out). O_NONBLOCK
    keeps a FIFO from blocking the open; fstat then refuses it."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not (st.st_mode & 0o170000) == 0o100000:
            raise OSError(f"{path}: not a regular file")
        return os.read(fd, HEAD_BYTES), st.st_size
    finally:
        os.close(fd)


def inspect_file(path: Path | str) -> Inspection:
    """Inspect one file. Raises OSError when it cannot be read at all."""
    head, size = read_head(path)
    fmt = detect_format(head, size)
    if fmt not in _ANALYSED and fmt not in ("safetensors", "gguf"):
        return Inspection(fmt)
    path = Path(path)
    if fmt in _ANALYSED:
        analysis = analyse_file(path, fmt)
        if fmt == "numpy-pickle" and analysis is None:
            fmt = "numpy"  # the whole header (past the head) shows no object dtype
        return Inspection(fmt, pickles=analysis)
    if fmt == "safetensors":
        from chainguard.collectors.safetensors import read_header
        from chainguard.errors import SafetensorsError

        try:
            read_header(path, strict=True)
        except SafetensorsError as e:
            return Inspection(fmt, malformed=str(e).removeprefix(f"{path}: "))
        return Inspection(fmt)
    if fmt == "gguf":
        try:
            return Inspection(fmt, gguf=read_gguf(path))
        except GgufError as e:
            return Inspection(fmt, malformed=str(e))
    return Inspection(fmt)

"""Our bounded GGUF walk against llama.cpp's own reader (`gguf.GGUFReader`).

The walk replaced the reader for speed and bounds (docs/bounds.md); this keeps it honest: on
files written by `gguf.GGUFWriter` both report the same facts, and on every corrupted variant
the walk never accepts a file the reference reader refuses, nor reports different facts.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader, GGUFWriter, LlamaFileType

from chainguard.formats.gguf import GgufError, GgufInfo, read_gguf


def _write(path: Path, *, endian: str, vocab: int, template: str | None, file_type: int) -> None:
    from gguf import GGUFEndian

    writer = GGUFWriter(
        path, "llama", endianess=GGUFEndian.BIG if endian == "big" else GGUFEndian.LITTLE
    )
    writer.add_file_type(file_type)
    writer.add_context_length(4096)
    writer.add_token_list([f"tok{i}" for i in range(vocab)])
    writer.add_token_scores([float(i) for i in range(vocab)])
    if template is not None:
        writer.add_chat_template(template)
    writer.add_tensor("blk.0.w", np.arange(16, dtype=np.float32))
    writer.add_tensor("blk.1.w", np.zeros((2, 8), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _reference(path: Path) -> GgufInfo:
    reader = GGUFReader(path, "r")

    def text(key: str) -> str | None:
        field = reader.fields.get(key)
        return None if field is None else bytes(field.parts[field.data[0]]).decode(errors="replace")

    ftype = reader.fields.get("general.file_type")
    number = None if ftype is None else int(ftype.parts[ftype.data[0]][0])
    if number is not None and number not in LlamaFileType._value2member_map_:
        quantization: str | None = str(number)  # ours names unknown numbers by value too
    else:
        quantization = None if number is None else LlamaFileType(number).name
    return GgufInfo(
        version=int(reader.fields["GGUF.version"].parts[-1][0]),
        tensor_count=len(reader.tensors),
        key_count=len([k for k in reader.fields if not k.startswith("GGUF.")]),
        architecture=text("general.architecture"),
        quantization=quantization,
        chat_template=text("tokenizer.chat_template"),
    )


CASES = [
    ("little", 3, None, 15),
    ("little", 300, "{{ messages }}", 1),
    ("big", 50, "{% for m in messages %}{{ m }}{% endfor %}", 7),
]


@pytest.mark.parametrize(("endian", "vocab", "template", "file_type"), CASES)
def test_walk_reports_what_the_reference_reader_reports(
    tmp_path: Path, endian: str, vocab: int, template: str | None, file_type: int
) -> None:
    path = tmp_path / "m.gguf"
    _write(path, endian=endian, vocab=vocab, template=template, file_type=file_type)
    assert read_gguf(path) == _reference(path)


def test_walk_never_accepts_what_the_reference_refuses(tmp_path: Path) -> None:
    base = tmp_path / "base.gguf"
    _write(base, endian="little", vocab=20, template="{{ x }}", file_type=15)
    original = base.read_bytes()
    rng = random.Random(1234)
    compared = 0
    for i in range(300):
        data = bytearray(original)
        if i % 3 == 0:
            data = data[: rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        path = tmp_path / f"v{i}.gguf"
        path.write_bytes(bytes(data))
        try:
            ours = read_gguf(path)
        except GgufError as e:
            assert "\n" not in str(e)
            continue
        try:
            reference = _reference(path)
        except Exception as e:  # the reference reader's own errors: ours must have refused
            pytest.fail(f"variant {i}: the walk accepted a file GGUFReader refuses ({e!r})")
        assert ours == reference, f"variant {i}"
        compared += 1
    assert compared > 0  # some mutations land in tensor data and stay valid

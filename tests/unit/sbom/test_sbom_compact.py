"""An SBOM re-serialised element by element (sbom/compact.py, what ``sign`` streams): byte for
byte what json.dumps(json.loads(...)) writes, through windows that move often; the state read
back is read_sbom's; anything unusual is left to the whole-document path (None)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.sbom_inputs import build, hexdigest, mutated
from support.trees import examples

from chainguard import _strictjson
from chainguard.errors import SbomError
from chainguard.models import ExpectedState, FileDigest
from chainguard.sbom import compact, fileshape
from chainguard.sbom.read import read_sbom, read_sbom_file


@pytest.fixture(autouse=True)
def _small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    # read in odd-sized pieces (UTF-8 characters cut in two), windows moved often
    monkeypatch.setattr(compact, "_READ", 777)
    monkeypatch.setattr(compact, "_FLUSH", 100)
    monkeypatch.setattr(_strictjson, "LOOKAHEAD", 4096)
    monkeypatch.setattr(_strictjson, "_REFILL", 1000)


def expected(data: bytes) -> bytes:
    """The predicate as build_statement writes it from the whole document."""
    value = json.loads(data)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def compacted(tmp_path: Path, data: bytes) -> tuple[compact.CompactSbom | None, bytes]:
    path = tmp_path / "sbom.cdx.json"
    path.write_bytes(data)
    with tempfile.TemporaryFile(dir=tmp_path) as spool:
        result = compact.compact_sbom(path, spool)
        text = b"".join(compact.spooled(spool, result.length, 1000)) if result else b""
    return result, text


def text_of(data: str, cut: int = 5) -> bytes:
    """compact._write_compact of ``data`` arriving in pieces of ``cut`` characters."""
    pieces: Iterator[str] = (data[i : i + cut] for i in range(0, len(data), cut))
    with tempfile.TemporaryFile() as spool:
        length = compact._write_compact(pieces, spool)
        return b"".join(compact.spooled(spool, length))


@pytest.fixture(scope="module")
def built() -> bytes:
    return build()  # models, a dataset, dependencies; non-ASCII paths, escapes in properties


def test_a_built_sbom_compacts_to_the_statement_predicate(tmp_path: Path, built: bytes) -> None:
    data = built
    result, text = compacted(tmp_path, data)
    assert result is not None
    assert text == expected(data)
    assert result.length == len(text)
    state = read_sbom(data, "x")
    assert result.sbom_sha256 == state.sbom_sha256
    assert result.state.deployment == state.deployment
    assert [(c.bom_ref, c.root_digest) for c in result.state.components] == [
        (c.bom_ref, c.root_digest) for c in state.components
    ]
    assert result.state.dependencies == state.dependencies


def test_a_compact_sbom_is_read_as_it_stands(tmp_path: Path, built: bytes) -> None:
    data = expected(built) + b"\n"  # already compact, a newline after it
    result, text = compacted(tmp_path, data)
    assert result is not None and text == data[:-1]


@pytest.mark.parametrize(
    "value",
    [
        '{"a": "\\u00e9\\/\\t\\"x\\\\", "b": [1E5, -0, 1.50, 12345678901234567890, -0.0]}',
        '{"components": [{"components": [{"x": null}, true, [], {}], "n": "\\ud83d\\ude00"}]}',
        '{"components": [{"components": []}, {"other": {"components": [1, 2]}}]}',
        ' \n[ {"k" : "v"} , 3 ]\r\n',
        '"just a string"',
        "{}",
    ],
)
def test_values_are_written_as_json_dumps_writes_them(value: str) -> None:
    assert text_of(value) == expected(value.encode())


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@examples(60)
@given(
    extra=json_values,
    files=st.lists(json_values, max_size=5),
    indent=st.sampled_from([None, 0, 2]),
    ascii_only=st.booleans(),
    cut=st.integers(1, 50),
)
def test_any_document_in_any_pieces(
    extra: object, files: list[object], indent: int | None, ascii_only: bool, cut: int
) -> None:
    doc = {"meta": extra, "components": [{"components": files, "extra": extra}], "x": files}
    data = json.dumps(doc, indent=indent, ensure_ascii=ascii_only)
    assert text_of(data, cut) == expected(data.encode())


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1, "a": 2}',  # a duplicate key where objects are written key by key
        b'{"components": [{"components": [{"x": 1, "x": 1}]}]}',  # ... and in an element
        b'{"a": NaN}',
        b'{"a": 1} {"b": 2}',
        b'{"a": [1, 2}',
        b'{"a": "\xff"}',
        b'{"a": "\\ud800"}',  # a lone surrogate: not UTF-8 once decoded
        b"",
        b'{"a": "' + b"x" * 10_000 + b'"}',  # one value longer than the window
    ],
)
def test_anything_unusual_is_left_to_the_whole_document_path(tmp_path: Path, data: bytes) -> None:
    result, _ = compacted(tmp_path, data)
    assert result is None


def file_entries(ref: str) -> list[dict[str, Any]]:
    """Plain entries in runs (with and without a format), broken by an unsafe path, two paths
    out of order, an entry of another shape and one whose bom-ref is not the usual one."""
    files = [
        FileDigest(f"d{i // 10}/f{i:03d}", i, hexdigest(str(i)), format="text" if i % 3 else None)
        for i in range(100)
    ]
    files[20] = FileDigest("d2/../escape", 1, hexdigest("x"))
    files[40], files[41] = files[41], files[40]
    files[60] = FileDigest("d6/blake", 2, hexdigest("b"), blake3=hexdigest("b3"))
    entries = [fileshape.file_dict(ref, f) for f in files]
    entries[80]["bom-ref"] = "elsewhere"
    return entries


def component_files(state: ExpectedState) -> list[object]:
    return [
        (
            c.bom_ref,
            c.root_digest,
            c.unsafe_paths,
            [(f.path, f.size, f.sha256, f.format) for f in c.files],
        )
        for c in state.components
    ]


@pytest.mark.parametrize("run", [1, 7, 1000])
def test_runs_of_plain_entries_read_back_as_entry_by_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: int
) -> None:
    monkeypatch.setattr(compact, "_RUN", run)

    def edit(doc: dict[str, Any]) -> None:
        for c in doc["components"]:
            if c.get("type") == "data":
                c["components"] = file_entries(c["bom-ref"])

    data = mutated(edit)
    result, text = compacted(tmp_path, data)
    assert result is not None and text == expected(data)
    assert component_files(result.state) == component_files(read_sbom(data, "x"))


def test_an_sbom_chainguard_refuses_is_refused_in_the_same_words(tmp_path: Path) -> None:
    data = mutated(lambda doc: doc.update(specVersion="1.2"))
    path = tmp_path / "sbom.cdx.json"
    path.write_bytes(data)
    with pytest.raises(SbomError) as whole:
        read_sbom_file(path)
    with tempfile.TemporaryFile() as spool, pytest.raises(SbomError) as streamed:
        compact.compact_sbom(path, spool)
    assert str(streamed.value) == str(whole.value)


def test_an_unreadable_sbom_is_an_sbom_error(tmp_path: Path) -> None:
    with tempfile.TemporaryFile() as spool, pytest.raises(SbomError, match="cannot read SBOM"):
        compact.compact_sbom(tmp_path, spool)  # a directory

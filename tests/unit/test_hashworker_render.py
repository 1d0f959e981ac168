"""The workers' rendering of a directory chunk as signed JSON (fileshape.render_element,
json_verbatim, _hash_listed's ``render``) is byte for byte what `sbom build` + `sign` write,
and verify's leaving out of the second stat (``recheck=False``) changes no result."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from support.release import make_release

from chainguard._hashworker import CHUNK_SIZE, _hash_listed, json_verbatim, render_element
from chainguard.formats.detect import detect_format
from chainguard.models import FileDigest
from chainguard.sbom.fileshape import file_dict

BUF = memoryview(bytearray(CHUNK_SIZE + 1))
SHA = hashlib.sha256(b"content").hexdigest()


def signed_json(ref: str, path: str, size: int, sha256: str) -> str:
    """A file component as `sbom build` makes it and `sign` serialises it (build_statement)."""
    element = file_dict(ref, FileDigest(path, size, sha256))
    return json.dumps(element, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    "path",
    [
        "train.txt",
        "data/part-00000.jsonl",
        "name with spaces/and more.txt",
        "é/ça.txt",
        "数据/文件 1.bin",
        "emoji 🙂/𝒳.txt",  # astral plane characters
        "a+b=c@d,e~f-g_h.i",
    ],
)
@pytest.mark.parametrize("size", [0, 7, CHUNK_SIZE])  # what the workers hash whole
def test_render_element_is_the_signed_json_of_the_built_element(path: str, size: int) -> None:
    assert json_verbatim(path)
    assert render_element("dataset:ds", path, size, SHA) == signed_json(
        "dataset:ds", path, size, SHA
    )


def test_render_element_of_a_non_ascii_component() -> None:
    ref = "dataset:données-数据"
    assert json_verbatim(ref)
    assert render_element(ref, "x", 1, SHA) == signed_json(ref, "x", 1, SHA)


@pytest.mark.parametrize(
    "text",
    ['a"b', "a\\b", "a\x00b", "a\x1fb", "a\nb", "a\tb", "a\rb", "\x7f", "\x85", "\ud800", "\u2028"],
)
def test_json_verbatim_refuses_what_json_would_escape(text: str) -> None:
    assert not json_verbatim(text)


def test_json_verbatim_only_where_json_writes_the_text_as_it_stands() -> None:
    # Every BMP code point and a few astral ones: "verbatim" must never be claimed for a
    # string json.dumps (as sign runs it) writes differently.
    claimed = 0
    for code in [*range(0x10000), 0x1F642, 0x1D4B3, 0x10FFFF]:
        char = chr(code)
        if json_verbatim(f"a{char}b"):
            claimed += 1
            assert json.dumps(f"a{char}b", ensure_ascii=False) == f'"a{char}b"', hex(code)
    assert claimed > 50000  # most characters take the fast path


def test_rendered_text_occurs_in_the_signed_statement(tmp_path: Path) -> None:
    files = {
        "a.txt": b"a",
        "a/x": b"x",
        "a0": b"0",
        "é/ça.txt": b"cafe",
        "数据/文件 1.bin": b"cjk",
        "sp ace/f i le": b"",
    }
    release = make_release(tmp_path, datasets={"ds": files}, sbom_name="ds.cdx.json")
    statement = release.payload().decode()
    for rel, content in files.items():
        digest, fmt = hashlib.sha256(content).hexdigest(), detect_format(content, len(content))
        element = render_element("dataset:ds", rel, len(content), digest, fmt)
        assert statement.count(element) == 1, rel


def listed(directory: Path, names: tuple[str, ...], **kwargs: object) -> tuple[object, ...]:
    st = os.stat(directory)
    return _hash_listed(
        f"{directory}/",
        "d/",
        names,
        (st.st_ino, st.st_dev),
        CHUNK_SIZE,
        False,
        BUF,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def chunk(tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    d = tmp_path / "d"
    d.mkdir()
    names = tuple(sorted(["empty", "small", "é", "数据", "with space", "limit", "x" * 200]))
    for name in names:
        (d / name).write_bytes(os.urandom(CHUNK_SIZE) if name == "limit" else name.encode() * 3)
    (d / "empty").write_bytes(b"")
    return d, names


def test_recheck_or_not_the_same_results_on_an_unchanged_directory(
    chunk: tuple[Path, tuple[str, ...]],
) -> None:
    d, names = chunk
    for render in (None, "dataset:ds"):
        checked = listed(d, names, render=render, recheck=True)
        unchecked = listed(d, names, render=render, recheck=False)
        assert checked == unchecked
        text, blake3, others, nbytes, _, _ = checked
        assert others == [] and blake3 is None
        assert nbytes == sum((d / n).stat().st_size for n in names)
        assert text == "".join(
            f"d/{n}\0{(d / n).stat().st_size}\0{hashlib.sha256((d / n).read_bytes()).hexdigest()}\n"
            for n in names
        )


def test_recheck_or_not_the_same_anomalies(chunk: tuple[Path, tuple[str, ...]]) -> None:
    d, names = chunk
    os.mkfifo(d / "fifo")
    (d / "large").write_bytes(b"L" * (CHUNK_SIZE + 1))
    names = tuple(sorted([*names, "fifo", "gone", "large"]))
    checked = listed(d, names, render="dataset:ds", recheck=True)
    assert listed(d, names, render="dataset:ds", recheck=False) == checked
    others = dict(checked[2])  # type: ignore[call-overload]
    assert {names[i] for i in others} == {"fifo", "gone", "large"}
    assert checked[4] is None  # not every file hashed: no rendered run


def test_rendered_digest_is_of_the_joined_elements(chunk: tuple[Path, tuple[str, ...]]) -> None:
    d, names = chunk
    rendered = listed(d, names, render="dataset:ds", recheck=False)[4]
    joined = ",".join(
        render_element(
            "dataset:ds",
            f"d/{n}",
            (d / n).stat().st_size,
            hashlib.sha256((d / n).read_bytes()).hexdigest(),
            detect_format((d / n).read_bytes(), (d / n).stat().st_size),
        )
        for n in names
    )
    assert rendered == (hashlib.sha256(joined.encode()).digest(), len(joined))
    assert len(joined) < len(joined.encode())  # non-ASCII: the length is in characters


@pytest.mark.parametrize("odd", ['quote"d', "back\\slash", "nb\xa0sp"])
def test_names_json_would_not_write_verbatim_are_not_rendered(tmp_path: Path, odd: str) -> None:
    d = tmp_path / "d"
    d.mkdir()
    names = tuple(sorted(["plain", odd]))
    for name in names:
        (d / name).write_bytes(b"x")
    with_render = listed(d, names, render="dataset:ds", recheck=False)
    without = listed(d, names, recheck=False)
    assert with_render[4] is None
    assert with_render[:4] == without[:4]


def test_a_component_json_would_escape_is_not_rendered(
    chunk: tuple[Path, tuple[str, ...]],
) -> None:
    d, names = chunk
    result = listed(d, names, render='dataset:a"b', recheck=False)
    assert result[4] is None
    assert result[:4] == listed(d, names, recheck=False)[:4]

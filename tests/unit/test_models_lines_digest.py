"""models.lines_digest and FileList's ``plain_count`` / ``plain_digest`` (what the fast path of
sbom/read.py hands over instead of counting and hashing the lines again): the same values as
counting and hashing, and as tree_digest over FileDigest objects."""

from __future__ import annotations

import hashlib

import pytest

from chainguard.models import FileDigest, FileList, lines_digest, tree_digest


def digests() -> list[FileDigest]:
    # in byte order of their UTF-8, as FileList holds them
    names = ["a.txt", "a/x", "a0", "sp ace/f", "z", "é/ça", "数据/文件"]
    return [
        FileDigest(n, i * 7, hashlib.sha256(n.encode()).hexdigest()) for i, n in enumerate(names)
    ]


def lines(files: list[FileDigest]) -> str:
    return "".join(f"{f.path}\0{f.size}\0{f.sha256}\n" for f in files)


def test_lines_digest_is_the_root_digest() -> None:
    files = digests()
    assert lines_digest(lines(files)) == tree_digest(files)
    assert lines_digest("") == tree_digest([])


def test_handed_over_count_and_digest_mean_the_same_list() -> None:
    files = digests()
    text = lines(files)
    given = FileList(text, plain_count=len(files), plain_digest=lines_digest(text), plain_size=0)
    counted = FileList(text)
    assert given == counted and list(given) == files
    assert len(given) == len(counted) == len(files)
    assert given.tree_digest() == counted.tree_digest() == tree_digest(files)


def test_the_root_digest_is_computed_once_and_kept() -> None:
    files = digests()
    plain = FileList(lines(files))
    first = plain.tree_digest()
    assert plain.tree_digest() is first  # memoised: compare asks more than once


def test_a_handed_over_digest_is_ignored_when_files_are_kept_as_objects() -> None:
    # plain_digest covers the plain lines alone; with extra files it would be wrong.
    files = digests()
    extra = FileDigest("m.safetensors", 5, "ab" * 32, blake3="cd" * 32)
    text = lines(files)
    mixed = FileList(text, [extra], plain_digest=lines_digest(text))
    assert mixed.tree_digest() == tree_digest([*files, extra])
    assert mixed.tree_digest() != lines_digest(text)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_count_is_what_len_reports(count: int) -> None:
    files = digests()[:count]
    assert len(FileList(lines(files), plain_count=count)) == count

"""every_path_safe: the bulk check never passes a path unsafe_reason would refuse."""

from __future__ import annotations

import random

import pytest

from chainguard.paths import MAX_PATH_BYTES, every_path_safe, unsafe_reason


@pytest.mark.parametrize(
    "paths",
    [
        ["a/./b"],
        ["./a"],
        ["a/."],
        ["."],
        [".."],
        ["a/../b"],
        ["../a"],
        ["a/.."],
        ["/a"],
        ["a/"],
        ["a//b"],
        [""],
        ["a\\b"],
        ["C:/x"],
        ["a:b"],
        ["a\nb"],
        ["a\x00b"],
        ["\x1b[2J"],
        ["é"],
        ["x" * (MAX_PATH_BYTES + 1)],
        ["ok", "../no"],
        ["ok", ""],
    ],
)
def test_anything_unusual_is_left_to_the_exact_check(paths: list[str]) -> None:
    assert not every_path_safe(paths)


@pytest.mark.parametrize(
    "paths",
    [[], ["a"], ["a/b/c.bin", "d"], ["..."], [".a/..b/c."], ["x" * MAX_PATH_BYTES]],
)
def test_plain_paths_pass(paths: list[str]) -> None:
    assert every_path_safe(paths)
    assert all(unsafe_reason(p) is None for p in paths)


def test_random_paths_never_pass_when_one_is_unsafe() -> None:
    rng = random.Random(11)
    pieces = ["a", "B", "7", ".", "..", "/", "\\", ":", "\n", "\x00", " ", "-", "é", "\x7f", "./"]
    for _ in range(50_000):
        paths = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 5))) for _ in range(3)]
        if every_path_safe(paths):
            assert all(unsafe_reason(p) is None for p in paths), paths

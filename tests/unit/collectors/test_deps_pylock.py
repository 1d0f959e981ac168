"""pylock.toml (PEP 751): packages, their hashes and sources; unknown major versions refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from support import DEPS_FIXTURES

from chainguard.collectors.pylock import collect_pylock, parse_pylock
from chainguard.errors import LockfileError
from chainguard.models import Dependency
from chainguard.sbom import vocabulary as v

H = hashlib.sha256(b"x").hexdigest()
PATH = Path("locks/pylock.toml")


def extra(d: Dependency, name: str) -> str | None:
    return next((p.value for p in d.extras if p.name == name), None)


def parse(text: str) -> tuple[Dependency, ...]:
    return parse_pylock(text.encode(), PATH).dependencies


def test_uv_written_pylock_fixture() -> None:
    observed = collect_pylock(DEPS_FIXTURES / "pylock.toml")
    assert observed.ref == "pylock:pylock.toml"
    deps = {d.name: d for d in observed.dependencies}
    assert sorted(deps) == ["certifi", "charset-normalizer", "idna", "numpy", "requests", "urllib3"]
    assert len(deps["numpy"].hashes) == 4  # three wheels and the sdist
    assert deps["idna"].version == "3.10"
    assert observed.notes == ()


def test_vcs_directory_and_archive_sources() -> None:
    deps = {
        d.name: d
        for d in parse(
            'lock-version = "1.0"\ncreated-by = "x"\n'
            "[[packages]]\n"
            'name = "from-git"\n'
            'vcs = { type = "git", url = "https://example.com/r.git", commit-id = "abc123" }\n'
            "[[packages]]\n"
            'name = "the-project"\n'
            'directory = { path = ".", editable = true }\n'
            "[[packages]]\n"
            'name = "tarball"\nversion = "1.0"\n'
            f'archive = {{ url = "https://example.com/t.tar.gz", hashes = {{ sha256 = "{H}" }} }}\n'
            "[[packages]]\n"
            'name = "marked"\nversion = "2.0"\nmarker = "sys_platform == \'linux\'"\n'
            'wheels = [{ name = "marked-2.0-py3-none-any.whl", '
            f'hashes = {{ SHA256 = "{H}" }} }}]\n'
        )
    }
    assert extra(deps["from-git"], v.LOCATOR) == "vcs:git+https://example.com/r.git@abc123"
    assert extra(deps["the-project"], v.LOCATOR) == "editable:."
    assert deps["tarball"].hashes == (f"sha256:{H}",)
    assert extra(deps["tarball"], v.LOCATOR) == "url:https://example.com/t.tar.gz"
    assert extra(deps["marked"], v.MARKER) == "sys_platform == 'linux'"
    assert deps["marked"].hashes == (f"sha256:{H}",)


def test_newer_minor_version_is_read_with_a_note() -> None:
    observed = parse_pylock(b'lock-version = "1.3"\npackages = []\n', PATH)
    assert observed.dependencies == ()
    assert "newer than 1.0" in observed.notes[0]


WHEEL = f'wheels = [{{ name = "a-1-py3-none-any.whl", hashes = {{ sha256 = "{H}" }} }}]'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('lock-version = "1.0"\n[[packages]]\nname = "a', "invalid TOML"),
        ('lock-version = "2.0"\npackages = []\n', "unsupported lock-version '2.0'"),
        ('lock-version = "one"\npackages = []\n', "lock-version must look like '1.0'"),
        ("lock-version = 1.0\npackages = []\n", "lock-version must be a string, not a float"),
        ("packages = []\n", "lock-version is missing"),
        ('lock-version = "1.0"\n', "packages is missing"),
        ('lock-version = "1.0"\npackages = {}\n', "packages must be an array"),
        ('lock-version = "1.0"\npackages = ["a"]\n', "packages[0] must be a table"),
        (f'lock-version = "1.0"\n[[packages]]\nversion = "1"\n{WHEEL}\n', "name is missing"),
        (
            f'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = 1\n{WHEEL}\n',
            "packages[a].version must be a string",
        ),
        ('lock-version = "1.0"\n[[packages]]\nname = "a b"\n', "not a valid project name"),
        ('lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n', "has no wheels"),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\nwheels = [{ hashes = "x" }]\n',
            "wheels[0].hashes must be a table",
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\nwheels = [{ hashes = {} }]\n',
            "hashes is empty",
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\nwheels = [{ name = "w" }]\n',
            "hashes is missing",
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\n'
            'wheels = [{ hashes = { sha256 = "zz" } }]\n',
            "sha256 hash must be 64 hex digits",
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\n'
            f'wheels = [{{ hashes = {{ crc32 = "{H}" }} }}]\n',
            "unsupported hash algorithm 'crc32'",
        ),
        (
            f'lock-version = "1.0"\n[[packages]]\nname = "a"\n{WHEEL}\n'
            'directory = { path = "." }\n',
            "more than one kind of source",
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\nvcs = { type = "git", url = "u" }\n',
            "vcs.commit-id is missing",
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\n'
            'vcs = { type = "git", commit-id = "c" }\n',
            "needs a url or a path",
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\n'
            'directory = { path = ".", editable = "yes" }\n',
            "editable must be a boolean",
        ),
    ],
)
def test_malformed_pylock_raises_one_line(text: str, message: str) -> None:
    with pytest.raises(LockfileError) as e:
        parse(text)
    assert message in str(e.value)
    assert str(e.value).startswith(f"{PATH}: ")
    assert "\n" not in str(e.value)


def test_not_utf8() -> None:
    with pytest.raises(LockfileError, match="not UTF-8"):
        parse_pylock(b'lock-version = "1.0"\n\xff', PATH)


def test_packaging_reader_second_opinion_is_a_note() -> None:
    pytest.importorskip("packaging.pylock")  # packaging 26.0 and later
    lock = (
        'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n'
        f'wheels = [{{name = "a-1-py3-none-any.whl", hashes = {{sha256 = "{H}"}}}}]\n'
    )
    observed = parse_pylock(lock.encode(), PATH)
    assert [d.name for d in observed.dependencies] == ["a"]
    (note,) = observed.notes
    assert note.startswith(f"{PATH}: not valid PEP 751 according to packaging.pylock: ")
    assert "created-by" in note
    fixed = parse_pylock(
        (
            'created-by = "x"\n'
            + lock.replace('name = "a-1', 'url = "https://x/a-1-py3-none-any.whl", name = "a-1')
        ).encode(),
        PATH,
    )
    assert fixed.notes == ()

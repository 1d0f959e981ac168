"""poetry.lock: Poetry 2.x (lock 2.1), 1.8 (lock 2.0) and old (lock 1.1) read the same."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from support import DEPS_FIXTURES

from chainguard.collectors.poetrylock import collect_poetrylock, parse_poetrylock
from chainguard.errors import LockfileError
from chainguard.models import Dependency
from chainguard.sbom import vocabulary as v

H = hashlib.sha256(b"x").hexdigest()
PATH = Path("svc/poetry.lock")
META = '\n[metadata]\nlock-version = "2.1"\npython-versions = "^3.10"\ncontent-hash = "x"\n'


def extra(d: Dependency, name: str) -> str | None:
    return next((p.value for p in d.extras if p.name == name), None)


def parse(text: str) -> tuple[Dependency, ...]:
    return parse_poetrylock(text.encode(), PATH).dependencies


def pins(deps: tuple[Dependency, ...]) -> list[tuple[str, str | None, tuple[str, ...]]]:
    return [(d.name, d.version, d.hashes) for d in deps]


def test_every_poetry_generation_reads_the_same_pins() -> None:
    modern = collect_poetrylock(DEPS_FIXTURES / "poetry.lock")
    v18 = collect_poetrylock(DEPS_FIXTURES / "poetry-1.8" / "poetry.lock")
    legacy = collect_poetrylock(DEPS_FIXTURES / "poetry-legacy" / "poetry.lock")
    assert modern.ref == "poetry-lock:poetry.lock"
    assert pins(modern.dependencies) == pins(v18.dependencies) == pins(legacy.dependencies)
    assert len(modern.dependencies) == 6
    assert all(d.hashes for d in modern.dependencies)
    charset = next(d for d in modern.dependencies if d.name == "charset-normalizer")
    assert extra(charset, v.MARKER) == 'python_version >= "3.8"'


def test_sources_and_group_markers() -> None:
    deps = {
        d.name: d
        for d in parse(
            '[[package]]\nname = "Git_Dep"\nversion = "0.1"\nfiles = []\n'
            "[package.source]\n"
            'type = "git"\nurl = "https://example.com/g.git"\nreference = "main"\n'
            'resolved_reference = "0123abcd"\n'
            '[[package]]\nname = "mine"\nversion = "0.2"\nfiles = []\n'
            'markers = { main = "sys_platform == \\"linux\\"", '
            'dev = "python_version >= \\"3\\"" }\n'
            '[package.source]\ntype = "directory"\nurl = "../mine"\ndevelop = true\n'
            '[[package]]\nname = "private"\nversion = "1.0"\n'
            f'files = [{{file = "private-1.0.tar.gz", hash = "sha256:{H}"}}]\n'
            '[package.source]\ntype = "legacy"\nurl = "https://pypi.internal/simple"\n'
            'reference = "internal"\n' + META
        )
    }
    assert extra(deps["git-dep"], v.LOCATOR) == "vcs:git+https://example.com/g.git@0123abcd"
    assert extra(deps["mine"], v.LOCATOR) == "editable:../mine"
    assert extra(deps["mine"], v.MARKER) == ('(python_version >= "3") or (sys_platform == "linux")')
    assert extra(deps["private"], v.LOCATOR) is None  # an index, like PyPI
    assert deps["private"].hashes == (f"sha256:{H}",)


PKG = '[[package]]\nname = "a"\nversion = "1.0"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (PKG + "files = [\n", "invalid TOML"),
        (PKG, "[metadata] is missing"),
        (PKG + '\n[metadata]\nlock-version = "3.0"\n', "unsupported metadata.lock-version '3.0'"),
        (PKG + "\n[metadata]\nlock-version = 2.0\n", "metadata.lock-version must be a string"),
        (PKG + '\n[metadata]\ncontent-hash = "x"\n', "metadata.lock-version is missing"),
        ('metadata = "x"\n', "metadata must be a table"),
        ('[[package]]\nname = "a"\n' + META, "package[a].version is missing"),
        ('[[package]]\nname = 7\nversion = "1"\n' + META, "package[0].name must be a string"),
        (PKG + 'files = "none"\n' + META, "package[a].files must be an array"),
        (PKG + 'files = [{file = "a.whl"}]\n' + META, "files[0].hash is missing"),
        (PKG + f'files = [{{hash = "sha256:{H}"}}]\n' + META, "files[0].file is missing"),
        (PKG + 'files = [{file = "a.whl", hash = "sha256:xyz"}]\n' + META, "64 hex digits"),
        (
            PKG + 'files = []\n[package.source]\ntype = "svn"\nurl = "x"\n' + META,
            "source.type 'svn' is not one of",
        ),
        (PKG + "files = []\nmarkers = 3\n" + META, "package[a].markers must be a string"),
        (
            PKG + '\n[metadata]\nlock-version = "1.1"\n[metadata.files]\na = "x"\n',
            "metadata.files.a must be an array",
        ),
    ],
)
def test_malformed_poetry_lock_raises_one_line(text: str, message: str) -> None:
    with pytest.raises(LockfileError) as e:
        parse(text)
    assert message in str(e.value)
    assert str(e.value).startswith(f"{PATH}: ")
    assert "\n" not in str(e.value)

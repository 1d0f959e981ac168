"""uv.lock: registry packages with hashes, forks, the project itself and non-index sources."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from support import DEPS_FIXTURES

from chainguard.collectors.uvlock import collect_uvlock, parse_uvlock
from chainguard.errors import LockfileError
from chainguard.models import Dependency
from chainguard.sbom import vocabulary as v

H = hashlib.sha256(b"x").hexdigest()
PATH = Path("app/uv.lock")
HEAD = 'version = 1\nrevision = 2\nrequires-python = ">=3.12"\n'


def extra(d: Dependency, name: str) -> str | None:
    return next((p.value for p in d.extras if p.name == name), None)


def parse(text: str) -> tuple[Dependency, ...]:
    return parse_uvlock(text.encode(), PATH).dependencies


def test_uv_fixture_keeps_forks_and_the_project() -> None:
    observed = collect_uvlock(DEPS_FIXTURES / "uv.lock")
    assert observed.ref == "uv-lock:uv.lock"
    pins = [(d.name, d.version) for d in observed.dependencies]
    assert ("numpy", "2.0.2") in pins and ("numpy", "2.1.3") in pins
    numpy_old = next(d for d in observed.dependencies if d.version == "2.0.2")
    assert extra(numpy_old, v.MARKER) == "python_full_version < '3.10'"
    project = next(d for d in observed.dependencies if d.name == "sentiment-api")
    assert (project.hashes, extra(project, v.LOCATOR)) == ((), "virtual:.")
    requests = next(d for d in observed.dependencies if d.name == "requests")
    assert len(requests.hashes) == 2 and extra(requests, v.LOCATOR) is None


def test_non_index_sources_become_locators() -> None:
    deps = {
        d.name: d
        for d in parse(
            HEAD + "[[package]]\n"
            'name = "gitdep"\nversion = "0.1.0"\n'
            'source = { git = "https://example.com/g.git?rev=main#0123abcd" }\n'
            "[[package]]\n"
            'name = "direct"\nversion = "1.0"\n'
            'source = { url = "https://example.com/direct-1.0.tar.gz" }\n'
            f'sdist = {{ hash = "sha256:{H}" }}\n'
            "[[package]]\n"
            'name = "member"\nversion = "0.2.0"\n'
            'source = { editable = "packages/member" }\n'
            "[[package]]\n"
            'name = "local-dir"\nversion = "0.3.0"\n'
            'source = { directory = "vendor/local-dir" }\n'
        )
    }
    assert extra(deps["gitdep"], v.LOCATOR) == "vcs:git+https://example.com/g.git?rev=main#0123abcd"
    assert extra(deps["direct"], v.LOCATOR) == "url:https://example.com/direct-1.0.tar.gz"
    assert deps["direct"].hashes == (f"sha256:{H}",)
    assert extra(deps["member"], v.LOCATOR) == "editable:packages/member"
    assert extra(deps["local-dir"], v.LOCATOR) == "directory:vendor/local-dir"


def test_a_lock_without_revision_from_older_uv_reads() -> None:
    (dep,) = parse(
        'version = 1\nrequires-python = ">=3.9"\n[[package]]\nname = "a"\nversion = "1"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
        f'wheels = [{{ hash = "sha256:{H}" }}]\n'
    )
    assert dep.hashes == (f"sha256:{H}",)


PKG = '[[package]]\nname = "a"\nversion = "1"\nsource = { registry = "https://pypi.org/simple" }\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEAD + '[[package]]\nname = "a"\nversion = "1', "invalid TOML"),
        ('version = 2\nrequires-python = ">=3.12"\n', "unsupported uv.lock version 2"),
        ('version = "1"\nrequires-python = ">=3.12"\n', "version must be an integer"),
        ("version = true\npackage = []\n", "version must be an integer"),
        ('requires-python = ">=3.12"\n', "version is missing"),
        ('version = 1\nrevision = "2"\n', "revision must be an integer"),
        (HEAD + "package = 3\n", "package must be an array, not an integer"),
        (HEAD + '[[package]]\nversion = "1"\n', "package[0].name is missing"),
        (HEAD + '[[package]]\nname = "a"\nversion = "1"\n', "package[a].source is missing"),
        (HEAD + '[[package]]\nname = "a"\nsource = { svn = "x" }\n', "source has none of"),
        (HEAD + PKG + 'sdist = { hash = "sha256" }\n', "must be written <algorithm>:<hex>"),
        (HEAD + PKG + 'sdist = { hash = "sha256:1234" }\n', "sha256 hash must be 64 hex digits"),
        (HEAD + PKG + 'wheels = { hash = "x" }\n', "package[a].wheels must be an array"),
        (HEAD + PKG + "wheels = [{ hash = 5 }]\n", "wheels[0].hash must be a string"),
        (HEAD + PKG + 'resolution-markers = "x"\n', "resolution-markers must be an array"),
    ],
)
def test_malformed_uv_lock_raises_one_line(text: str, message: str) -> None:
    with pytest.raises(LockfileError) as e:
        parse(text)
    assert message in str(e.value)
    assert str(e.value).startswith(f"{PATH}: ")
    assert "\n" not in str(e.value)

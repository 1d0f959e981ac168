"""A lock is recognised by its content; the registry covers every format; fixtures are fresh."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import get_args

import pytest
from support import DEPS_FIXTURES, REPO_ROOT

from chainguard.collectors.deps import LOCK_PARSERS, LockKind, collect_lock, detect_lock_kind
from chainguard.errors import LockfileError
from chainguard.models import MANIFEST_KINDS


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [
        ("requirements.txt", "requirements"),
        ("pylock.toml", "pylock"),
        ("uv.lock", "uv-lock"),
        ("poetry.lock", "poetry-lock"),
        ("poetry-legacy/poetry.lock", "poetry-lock"),
    ],
)
def test_content_decides_not_the_name(tmp_path: Path, fixture: str, kind: str) -> None:
    renamed = tmp_path / "deploy.lock"
    shutil.copy(DEPS_FIXTURES / fixture, renamed)
    assert detect_lock_kind(renamed.read_bytes(), renamed) == kind
    observed = collect_lock(renamed)
    assert observed.kind == kind
    assert observed.name == "deploy.lock"
    assert len(observed.dependencies) >= 6


def test_a_misnamed_lock_is_read_as_what_it_is(tmp_path: Path) -> None:
    fake_uv = tmp_path / "uv.lock"
    shutil.copy(DEPS_FIXTURES / "poetry.lock", fake_uv)
    assert collect_lock(fake_uv).kind == "poetry-lock"
    named_pylock = tmp_path / "pylock.service.toml"
    shutil.copy(DEPS_FIXTURES / "pylock.toml", named_pylock)
    assert collect_lock(named_pylock).ref == "pylock:pylock.service.toml"


def test_empty_and_comment_only_files_are_empty_requirements(tmp_path: Path) -> None:
    for text in ("", "# nothing pinned yet\n"):
        path = tmp_path / "requirements.lock"
        path.write_text(text)
        observed = collect_lock(path)
        assert (observed.kind, observed.dependencies) == ("requirements", ())


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("uv.lock", 'version = 1\n[[package]\nname = "a"\n', "invalid TOML"),
        ("poetry.lock", "[[package]]\nname = ", "invalid TOML"),
        ("pylock.toml", "lock-version = ", "invalid TOML"),
        ("uv.lock", "", "version is missing"),
        ("settings.toml", '[tool]\nname = "x"\n', "not a pylock.toml, uv.lock or poetry.lock"),
        ("requirements.txt", "[[package]]\n", "invalid requirement"),
    ],
)
def test_broken_locks_are_reported_in_their_own_format(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(LockfileError) as e:
        collect_lock(path)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_lock(tmp_path: Path) -> None:
    with pytest.raises(LockfileError, match="no such lock file"):
        collect_lock(tmp_path / "uv.lock")


def test_registry_covers_every_lock_kind() -> None:
    kinds = set(get_args(LockKind))
    assert set(LOCK_PARSERS) | {"requirements"} == kinds
    assert kinds | {"environment"} == set(MANIFEST_KINDS)


def test_checked_in_fixtures_match_the_generator(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO_ROOT / "fixtures"))
    try:
        from generate_deps import FILES, write_deps
    finally:
        sys.path.remove(str(REPO_ROOT / "fixtures"))
    write_deps(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DEPS_FIXTURES / name).read_bytes(), name

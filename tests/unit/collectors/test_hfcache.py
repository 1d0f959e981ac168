"""Hub cache folders (collectors/hfcache.py), the names they give components (paths.py), the
walk's link root (collectors/tree.py) and hf:// references (collectors/hfhub.py).

The layouts here are written by hand, the way huggingface_hub writes them, to reach the corner
cases (malformed refs, links that are not); the integration and adversarial tests use caches
huggingface_hub itself made."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chainguard.collectors.hfcache import locate_snapshot
from chainguard.collectors.hfhub import parse_hub_url
from chainguard.collectors.tree import IgnoreRules, collect_tree
from chainguard.errors import InputError, UsageError
from chainguard.hashing import HashSettings
from chainguard.paths import component_name

COMMIT = "a" * 40
OTHER = "b" * 40


def _cache(root: Path, files: dict[str, bytes], commit: str = COMMIT) -> Path:
    repo = root / "models--acme--tiny"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        depth = "../" * (name.count("/") + 2)
        link.symlink_to(f"{depth}blobs/{blob.name}")
    return repo


def test_repository_folder_means_refs_main(tmp_path: Path) -> None:
    repo = _cache(tmp_path, {"a.txt": b"a"})
    found = locate_snapshot(repo, None)
    assert found is not None
    assert found.snapshot == repo / "snapshots" / COMMIT
    assert found.blobs == repo / "blobs" and found.commit == COMMIT
    assert locate_snapshot(found.snapshot, None) == found
    assert locate_snapshot(found.snapshot, "main") == found


def test_revision_is_a_commit_or_a_ref(tmp_path: Path) -> None:
    repo = _cache(tmp_path, {"a.txt": b"a"})
    _cache(tmp_path, {"a.txt": b"b"}, commit=OTHER)  # refs/main now names OTHER
    (repo / "refs" / "pr").mkdir()
    (repo / "refs" / "pr" / "1").write_text(COMMIT + "\n")
    assert locate_snapshot(repo, None).commit == OTHER  # type: ignore[union-attr]
    assert locate_snapshot(repo, COMMIT).commit == COMMIT  # type: ignore[union-attr]
    assert locate_snapshot(repo, "pr/1").commit == COMMIT  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="names commit"):
        locate_snapshot(repo / "snapshots" / COMMIT, "main")


@pytest.mark.parametrize(
    ("content", "revision", "error", "needle"),
    [
        (b"not a commit", None, InputError, "not a commit id"),
        (b"", None, InputError, "not a commit id"),
        (b"c" * 4096, None, InputError, "not a commit id"),
        (b"\xff\xfe", None, InputError, "not a commit id"),
        (("d" * 40).encode(), None, InputError, "no snapshot of commit"),
        (COMMIT.encode(), "v9", InputError, "no snapshot or ref named 'v9'"),
        (COMMIT.encode(), "../../x", UsageError, "not a commit id or a ref name"),
        (COMMIT.encode(), "pr//1", UsageError, "not a commit id or a ref name"),
    ],
)
def test_malformed_refs_are_one_line(
    tmp_path: Path, content: bytes, revision: str | None, error: type[Exception], needle: str
) -> None:
    repo = _cache(tmp_path, {"a.txt": b"a"})
    (repo / "refs" / "main").write_bytes(content)
    with pytest.raises(error, match=needle) as raised:
        locate_snapshot(repo, revision)
    assert "\n" not in str(raised.value)


def test_a_snapshot_that_is_a_link_is_refused(tmp_path: Path) -> None:
    repo = _cache(tmp_path, {"a.txt": b"a"})
    (repo / "snapshots" / OTHER).symlink_to(repo / "snapshots" / COMMIT)
    with pytest.raises(InputError, match="never a link"):
        locate_snapshot(repo, OTHER)


def test_ordinary_directories_are_not_caches(tmp_path: Path) -> None:
    plain = tmp_path / "models--look-alike"  # no snapshots/: not a cache
    plain.mkdir()
    assert locate_snapshot(plain, None) is None
    assert component_name(plain) == "models--look-alike"
    with pytest.raises(UsageError, match="--revision applies to"):
        locate_snapshot(plain, "main")


def test_component_names(tmp_path: Path) -> None:
    repo = _cache(tmp_path, {"a.txt": b"a"})
    assert component_name(repo) == "tiny"
    assert component_name(repo / "snapshots" / COMMIT) == "tiny"
    single = tmp_path / "datasets--solo"
    (single / "snapshots" / COMMIT).mkdir(parents=True)
    assert component_name(single) == "solo"


def test_walk_follows_links_into_the_link_root_only(tmp_path: Path) -> None:
    repo = _cache(tmp_path, {"a.txt": b"a", "sub/b.txt": b"b"})
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"o")
    snapshot = repo / "snapshots" / COMMIT
    (snapshot / "o.txt").symlink_to(outside)
    (snapshot / "dangling").symlink_to("../../blobs/" + "0" * 64)
    settings = HashSettings()
    without = collect_tree(snapshot, settings, ignore=IgnoreRules())
    assert {(a.path, a.kind) for a in without.anomalies} == {
        ("a.txt", "symlink-escape"),
        ("sub/b.txt", "symlink-escape"),
        ("o.txt", "symlink-escape"),
        ("dangling", "symlink-escape"),
    }
    tree = collect_tree(snapshot, settings, ignore=IgnoreRules(), link_root=repo / "blobs")
    assert {f.path: f.sha256 for f in tree.files} == {
        "a.txt": hashlib.sha256(b"a").hexdigest(),
        "sub/b.txt": hashlib.sha256(b"b").hexdigest(),
    }
    assert {(a.path, a.kind) for a in tree.anomalies} == {
        ("o.txt", "symlink-escape"),
        ("dangling", "unreadable"),
    }


@pytest.mark.parametrize(
    ("url", "kind", "expected"),
    [
        ("hf://acme/tiny@main", "model", ("model", "acme/tiny", "main")),
        ("hf://acme/tiny", "model", ("model", "acme/tiny", "main")),
        ("hf://gpt2@" + COMMIT, "model", ("model", "gpt2", COMMIT)),
        ("hf://models/acme/tiny@v1.0", "model", ("model", "acme/tiny", "v1.0")),
        ("hf://datasets/acme/d@refs/pr/1", "dataset", ("dataset", "acme/d", "refs/pr/1")),
    ],
)
def test_hub_urls(url: str, kind: str, expected: tuple[str, str, str]) -> None:
    ref = parse_hub_url(url, kind)  # type: ignore[arg-type]
    assert (ref.repo_type, ref.repo_id, ref.revision) == expected
    assert ref.name == expected[1].rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    "url",
    ["hf://", "hf://a/b/c", "hf://a/../b", "hf://a/b@", "hf://a/b@x y", "hf://-a/b", "hf://a--b/c"],
)
def test_malformed_hub_urls(url: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_hub_url(url, "model")
    assert "\n" not in str(raised.value)

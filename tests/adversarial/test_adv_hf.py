"""Attacks on a Hugging Face hub cache, through the CLI.

The cache is made by huggingface_hub's own snapshot_download from a Hub on 127.0.0.1
(support/hub_server.py) and signed as it is (`sbom build --model models--acme--tiny-model`);
each test then changes what an attacker with write access to the cache could change.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.cli import Outcome, cli, ok, report, verdict
from support.hub_server import HubRepo, HubServer, download_snapshot, serve_hub
from support.release import MODEL_FILES, Release, make_release

FILES = {**MODEL_FILES, ".gitattributes": b"*.safetensors filter=lfs -text\n", "sub/v.txt": b"v\n"}


@dataclass
class Signed:
    hub: HubServer
    repo: HubRepo
    cache: Path  # HF cache directory (holds models--acme--tiny-model)
    snapshot: Path
    release: Release

    @property
    def repo_folder(self) -> Path:
        return self.snapshot.parent.parent

    def verify(self, target: Path | None = None, *extra: str) -> Outcome:
        r = self.release
        args = ("--sbom", r.sbom, "--key", r.pub, "--deployment", r.deployment)
        target = target or self.repo_folder
        return verdict(cli("verify", "model", target, *args, "--format", "json", *extra))


@pytest.fixture
def signed(tmp_path: Path) -> Iterator[Signed]:
    repo = HubRepo("model", "acme/tiny-model")
    repo.push(FILES)
    other = HubRepo("model", "acme/other")
    other.push({"config.json": FILES["config.json"], "evil.txt": b"evil\n"})
    with serve_hub(repo, other) as hub:
        snapshot = download_snapshot(hub, repo, tmp_path / "cache")
        download_snapshot(hub, other, tmp_path / "cache")
        release = make_release(tmp_path / "release", models=[snapshot.parent.parent])
        yield Signed(hub, repo, tmp_path / "cache", snapshot, release)


def _findings(outcome: Outcome) -> set[tuple[str, str]]:
    return {(f["rule"], f["path"]) for f in report(outcome)["findings"]}


def test_untouched_cache_verifies(signed: Signed) -> None:
    assert report(ok(signed.verify()))["findings"] == []


def test_blob_changed_in_place_keeping_its_name(signed: Signed) -> None:
    """A blob's name is what the server said it was; the bytes are hashed anyway."""
    blob = (signed.snapshot / "config.json").resolve()
    assert blob.parent.name == "blobs"
    blob.write_bytes(b'{"hidden_size": 4096, "num_layers": 2}\n')
    outcome = signed.verify()
    assert outcome.code == 1
    assert _findings(outcome) == {("artifact-modified", "config.json")}


def test_refs_main_moved_to_an_unsigned_commit(signed: Signed) -> None:
    """A new main downloaded into the same cache: the repository folder means refs/main, which
    now names a snapshot nobody signed; --revision pins the signed one."""
    signed_commit = signed.snapshot.name
    signed.repo.push({**FILES, "config.json": b'{"hidden_size": 8}\n', "new.py": b"import os\n"})
    new = download_snapshot(signed.hub, signed.repo, signed.cache)
    assert new.name != signed_commit
    assert (signed.repo_folder / "refs" / "main").read_text().strip() == new.name
    outcome = signed.verify()
    assert outcome.code == 1
    assert report(outcome)["target"].endswith(new.name)  # the snapshot refs/main names
    assert _findings(outcome) == {
        ("artifact-modified", "config.json"),
        ("artifact-unexpected", "new.py"),
    }
    pinned = ok(signed.verify(None, "--revision", signed_commit))
    assert report(pinned)["target"].endswith(signed_commit)


def test_link_into_another_repositorys_blobs_escapes(signed: Signed) -> None:
    """Even to identical bytes: only the snapshot's own repository's blobs/ is followed."""
    link = signed.snapshot / "config.json"
    foreign = (signed.cache / "models--acme--other" / "snapshots").iterdir().__next__()
    target = (foreign / "config.json").resolve()
    assert target.read_bytes() == FILES["config.json"]
    link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))
    outcome = signed.verify()
    assert outcome.code == 1
    assert _findings(outcome) == {("symlink-escape", "config.json")}


def test_blobs_folder_replaced_by_a_link_follows_nothing(signed: Signed) -> None:
    blobs = signed.repo_folder / "blobs"
    foreign = signed.cache / "models--acme--other" / "blobs"
    for blob in blobs.iterdir():  # the other repository's blobs/ now holds every blob
        shutil.copy(blob, foreign / blob.name)
    shutil.rmtree(blobs)
    blobs.symlink_to(foreign)
    outcome = signed.verify()
    assert outcome.code == 1
    assert {rule for rule, _ in _findings(outcome)} == {"symlink-escape"}
    assert len(_findings(outcome)) == len(FILES)


def test_deleted_blob_is_an_unreadable_file_not_a_missing_one(signed: Signed) -> None:
    """A dangling link: the file is listed in the snapshot but its bytes are gone. Reported as
    artifact-unreadable (an anomaly naming the dangling link), not artifact-missing."""
    (signed.snapshot / "tokenizer.json").resolve().unlink()
    outcome = signed.verify()
    assert outcome.code == 1
    assert _findings(outcome) == {("artifact-unreadable", "tokenizer.json")}
    assert "dangling" in report(outcome)["findings"][0]["message"]


def test_extra_file_dropped_into_the_snapshot(signed: Signed) -> None:
    (signed.snapshot / "sub" / "loader.py").write_text("import os; os.system('id')\n")
    # and a link to one of the repository's own blobs under a new name
    (signed.snapshot / "extra.json").symlink_to("config.json")
    outcome = signed.verify(signed.snapshot)
    assert outcome.code == 1
    assert _findings(outcome) == {
        ("artifact-unexpected", "sub/loader.py"),
        ("artifact-unexpected", "extra.json"),
    }


def test_large_signed_sbom_hashes_the_cache_while_trust_is_checked(tmp_path: Path) -> None:
    """The overlap path (a signed SBOM over 1 MiB: hashing starts before trust) follows the
    same links, and only those."""
    repo = HubRepo("model", "acme/tiny-model")
    repo.push(FILES)
    with serve_hub(repo) as hub:
        snapshot = download_snapshot(hub, repo, tmp_path / "cache")
    release = make_release(tmp_path / "r", models=[snapshot.parent.parent], pad_to=1_100_000)
    args = ("--sbom", release.sbom, "--key", release.pub, "--deployment", release.deployment)
    assert report(ok(cli("verify", "model", snapshot, *args, "--format", "json")))["ok"]
    (snapshot / "config.json").resolve().write_bytes(b"{}\n")
    outcome = verdict(cli("verify", "model", snapshot, *args, "--format", "json"))
    assert _findings(outcome) == {("artifact-modified", "config.json")}


def _deployment(signed: Signed, config: Path) -> Outcome:
    r = signed.release
    config.write_text(
        f'sbom = "{r.sbom}"\ndeployment = "{r.deployment}"\n[trust]\nkeys = ["{r.pub}"]\n'
        f'[models]\ntiny-model = "{signed.repo_folder}"\n'
    )
    return verdict(cli("verify", "deployment", "--config", config, "--format", "json"))


def test_cache_folder_in_a_deployment_config_verifies(signed: Signed, tmp_path: Path) -> None:
    """[models] naming a cache folder: its refs/main snapshot, links into its own blobs/."""
    outcome = ok(_deployment(signed, tmp_path / "chainguard.toml"))
    assert report(outcome)["findings"] == []


def test_deployment_link_into_another_repositorys_blobs_escapes(
    signed: Signed, tmp_path: Path
) -> None:
    link = signed.snapshot / "config.json"
    foreign = next((signed.cache / "models--acme--other" / "snapshots").iterdir())
    link.unlink()
    link.symlink_to(os.path.relpath((foreign / "config.json").resolve(), link.parent))
    outcome = _deployment(signed, tmp_path / "chainguard.toml")
    assert outcome.code == 1
    assert _findings(outcome) == {("symlink-escape", "config.json")}

"""Hugging Face caches and hf:// through the CLI, against a Hub on 127.0.0.1 (support/hub_server.py)
answered to huggingface_hub itself; caches are made by huggingface_hub's snapshot_download.

hf:// runs go through the console script in a subprocess: huggingface_hub reads HF_ENDPOINT,
HF_HOME and HF_HUB_OFFLINE when it is imported, as a user's shell sets them.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import Outcome, assert_one_line_error, chainguard_script, cli, ok, report
from support.cli import run_process as run
from support.hub_server import HubRepo, HubServer, download_snapshot, serve_hub
from support.release import MODEL_FILES, write_tree

FILES = {
    **MODEL_FILES,
    ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
    "tokenizer/vocab.txt": b"a\nb\nc\n",
}


@pytest.fixture
def hub() -> Iterator[HubServer]:
    repo = HubRepo("model", "acme/tiny-model")
    repo.push(FILES)
    data = HubRepo("dataset", "acme/tiny-data")
    data.push({"train.parquet": b"PAR1" + bytes(range(256)) * 4 + b"PAR1", "README.md": b"# d\n"})
    with serve_hub(repo, data) as server:
        yield server


def _keys(tmp: Path) -> tuple[Path, Path]:
    ok(cli("keygen", tmp / "release"))
    return tmp / "release.key", tmp / "release.pub"


def _build(tmp: Path, hub: HubServer | None, *sources: str, name: str = "sbom.json") -> Outcome:
    """hf:// through the console script (huggingface_hub reads HF_* when imported); a local
    folder in-process."""
    args: list[str | Path] = ["sbom", "build", "--name", "svc"]
    args += ["--version", "1", *sources, "-o", tmp / name]
    if hub is None:
        return cli(*args)
    return run([chainguard_script(), *args], tmp, hub.env(tmp / "hf-home"))


def _sign(tmp: Path, key: Path, name: str = "sbom.json") -> Path:
    ok(cli("sign", tmp / name, "--key", key))
    return tmp / name


def _verify(target: Path, sbom: Path, pub: Path, *extra: str, kind: str = "model") -> Outcome:
    args = ("--sbom", sbom, "--key", pub, "--deployment", "svc", "--format", "json", *extra)
    return cli("verify", kind, target, *args)


def _component(sbom: Path, kind: str = "model") -> dict[str, object]:
    doc = json.loads(sbom.read_text())
    (found,) = [c for c in doc["components"] if c["bom-ref"].startswith(f"{kind}:")]
    return dict(found)


def test_ordinary_directory_and_cache_verify_against_each_other(
    hub: HubServer, tmp_path: Path
) -> None:
    key, pub = _keys(tmp_path)
    repo = hub.repos[("model", "acme/tiny-model")]
    snapshot = download_snapshot(hub, repo, tmp_path / "cache")
    cache_repo = snapshot.parent.parent
    plain = write_tree(tmp_path / "tiny-model", FILES)

    ok(_build(tmp_path, None, "--model", str(plain), name="plain.json"))
    signed_plain = _sign(tmp_path, key, "plain.json")
    ok(_build(tmp_path, None, "--model", str(cache_repo), name="cache.json"))
    signed_cache = _sign(tmp_path, key, "cache.json")
    # the same component: one name (the repository's), the same root digest
    a, b = _component(signed_plain), _component(signed_cache)
    assert a["bom-ref"] == b["bom-ref"] == "model:tiny-model"
    assert a["hashes"] == b["hashes"]

    for target in (cache_repo, snapshot):
        outcome = ok(_verify(target, signed_plain, pub))
        assert report(outcome)["ok"] is True
    doc = report(ok(_verify(plain, signed_cache, pub)))
    assert doc["findings"] == []


def test_hf_url_builds_from_metadata_and_the_download_verifies(
    hub: HubServer, tmp_path: Path
) -> None:
    key, pub = _keys(tmp_path)
    repo = hub.repos[("model", "acme/tiny-model")]
    commit = repo.refs["main"]
    out = ok(_build(tmp_path, hub, "--model", "hf://acme/tiny-model@main"))
    assert "model:tiny-model" in out.stdout
    component = _component(tmp_path / "sbom.json")
    assert component["purl"] == f"pkg:huggingface/acme/tiny-model@{commit}"  # branch → commit
    # the weights were never downloaded: only small files were fetched
    fetched = {p.rsplit("/", 1)[-1] for m, p in hub.requests if m == "GET" and "/resolve/" in p}
    assert "model.safetensors" not in fetched
    assert {"config.json", "tokenizer.json", ".gitattributes", "vocab.txt"} <= fetched

    signed = _sign(tmp_path, key)
    snapshot = download_snapshot(hub, repo, tmp_path / "cache")
    assert report(ok(_verify(snapshot.parent.parent, signed, pub)))["findings"] == []
    assert report(ok(_verify(write_tree(tmp_path / "tiny-model", FILES), signed, pub)))["ok"]


def test_hf_dataset_url(hub: HubServer, tmp_path: Path) -> None:
    key, pub = _keys(tmp_path)
    repo = hub.repos[("dataset", "acme/tiny-data")]
    ok(_build(tmp_path, hub, "--dataset", f"hf://datasets/acme/tiny-data@{repo.refs['main']}"))
    signed = _sign(tmp_path, key)
    assert _component(signed, "dataset")["bom-ref"] == "dataset:tiny-data"
    snapshot = download_snapshot(hub, repo, tmp_path / "cache")
    assert snapshot.parent.parent.name == "datasets--acme--tiny-data"
    ok(_verify(snapshot.parent.parent, signed, pub, kind="dataset"))


def _safetensors_of(n: int) -> bytes:
    """A valid safetensors file holding one U8 tensor of n zero bytes."""
    header = json.dumps({"w": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + bytes(n)


@pytest.mark.slow
def test_lfs_file_larger_than_a_shard_is_recorded_whole_and_verified_whole(
    tmp_path: Path,
) -> None:
    """The Hub gives one SHA-256 per file and no shard digests: the file is signed unsharded,
    and verify hashes it whole (in both verify paths: trust first, or hashing alongside)."""
    from chainguard.models import DEFAULT_SHARD_SIZE

    big = _safetensors_of(DEFAULT_SHARD_SIZE + 4)
    repo = HubRepo("model", "acme/big")
    repo.push({"model.safetensors": big, "config.json": b"{}\n"})
    key, pub = _keys(tmp_path)
    with serve_hub(repo) as hub:
        ok(_build(tmp_path, hub, "--model", "hf://acme/big"))
        snapshot = download_snapshot(hub, repo, tmp_path / "cache")
    signed = _sign(tmp_path, key)
    doc = json.loads(signed.read_text())
    text = json.dumps(doc)
    assert "chainguard:shards" not in text
    assert report(ok(_verify(snapshot, signed, pub)))["findings"] == []
    blob = (snapshot / "model.safetensors").resolve()
    blob.write_bytes(big[:-1] + b"\x01")
    outcome = _verify(snapshot, signed, pub)
    assert outcome.code == 1
    assert ("artifact-modified", "model.safetensors") in [
        (f["rule"], f["path"]) for f in report(outcome)["findings"]
    ]


def test_revision_selects_a_snapshot_and_is_checked(hub: HubServer, tmp_path: Path) -> None:
    key, pub = _keys(tmp_path)
    repo = hub.repos[("model", "acme/tiny-model")]
    first = repo.refs["main"]
    repo.refs["v1.0"] = first
    download_snapshot(hub, repo, tmp_path / "cache", revision="v1.0")
    snapshot = download_snapshot(hub, repo, tmp_path / "cache")
    cache_repo = snapshot.parent.parent
    ok(_build(tmp_path, None, "--model", str(cache_repo), "--revision", "v1.0"))
    signed = _sign(tmp_path, key)
    for revision in ("v1.0", first, "main"):
        ok(_verify(cache_repo, signed, pub, "--revision", revision))
    ok(_verify(snapshot, signed, pub, "--revision", first))

    assert_one_line_error(
        _verify(cache_repo, signed, pub, "--revision", "nope"), 3, "no snapshot or ref named"
    )
    assert_one_line_error(
        _verify(cache_repo, signed, pub, "--revision", "../../etc"), 2, "not a commit id"
    )
    plain = write_tree(tmp_path / "tiny-model", FILES)
    assert_one_line_error(
        _verify(plain, signed, pub, "--revision", "main"), 2, "--revision applies to"
    )
    (cache_repo / "refs" / "main").write_text("not a commit\n")
    assert_one_line_error(_verify(cache_repo, signed, pub), 3, "refs/main: not a commit id")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("hf://acme/missing@main", "no such repository"),
        ("hf://acme/tiny-model@no-such-branch", "no revision 'no-such-branch'"),
        ("hf://acme/gated@main", "gated"),
    ],
)
def test_hf_failures_are_one_line_exit_3(
    hub: HubServer, tmp_path: Path, source: str, needle: str
) -> None:
    gated = HubRepo("model", "acme/gated", gated=True)
    gated.push({"a.txt": b"a"})
    hub.add(gated)
    assert_one_line_error(_build(tmp_path, hub, "--model", source), 3, needle)
    assert not (tmp_path / "sbom.json").exists()


def test_hf_unreachable_and_offline(hub: HubServer, tmp_path: Path) -> None:
    env = {**hub.env(tmp_path / "hf-home"), "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"}
    args: list[str | Path] = [chainguard_script(), "sbom", "build", "--name", "svc"]
    args += ["--version", "1", "--model", "hf://acme/tiny-model@main", "-o", tmp_path / "s.json"]
    assert_one_line_error(run(args, tmp_path, env), 3, "no usable answer from the Hub")
    offline = {**hub.env(tmp_path / "hf-home"), "HF_HUB_OFFLINE": "1"}
    assert_one_line_error(run(args, tmp_path, offline), 3, "HF_HUB_OFFLINE is set")
    assert not any("/api/" in p for _, p in hub.requests)


@pytest.mark.parametrize(
    ("source", "option"),
    [
        ("hf://", "--model"),
        ("hf://a/b/c@main", "--model"),
        ("hf://acme/x--y@main", "--model"),
        ("hf://acme/tiny@", "--model"),
        ("hf://datasets/acme/tiny-data", "--model"),
        ("hf://acme/tiny-model", "--dataset"),
    ],
)
def test_malformed_hf_urls_are_usage_errors(tmp_path: Path, source: str, option: str) -> None:
    outcome = cli(
        "sbom", "build", "--name", "s", "--version", "1", option, source, "-o", tmp_path / "s"
    )
    assert_one_line_error(outcome, 2, source)


def test_revision_in_url_not_as_option(tmp_path: Path) -> None:
    outcome = cli(
        "sbom", "build", "--name", "s", "--version", "1", "--model", "hf://a/b",
        "--revision", "main", "-o", tmp_path / "s",
    )  # fmt: skip
    assert_one_line_error(outcome, 2, "give the revision in the URL")


def test_malformed_hub_answers_are_one_line(hub: HubServer, tmp_path: Path) -> None:
    """A server that is not the Hub, or not an honest one: one line, exit 3, nothing written."""
    html = HubRepo("model", "acme/html", info_body=b"<html>sign in</html>")
    html.push({"a.txt": b"a"})
    lying = HubRepo("model", "acme/lying", served={"config.json": b'{"evil": 1}\n'})
    lying.push({"config.json": b"{}\n", "model.safetensors": b"w" * 100})
    hub.add(html)
    hub.add(lying)
    cases = [
        ("hf://acme/html@main", "hf://acme/html"),
        ("hf://acme/lying@main", "config.json: the download does not match the Hub's listing"),
    ]
    for source, needle in cases:
        assert_one_line_error(_build(tmp_path, hub, "--model", source), 3, needle)
    elsewhere = {**hub.env(tmp_path / "h"), "HF_ENDPOINT": f"{hub.endpoint}/not-the-hub"}
    args: list[str | Path] = [chainguard_script(), "sbom", "build", "--name", "s"]
    args += ["--version", "1", "--model", "hf://acme/tiny-model@main", "-o", tmp_path / "x"]
    assert_one_line_error(run(args, tmp_path, elsewhere), 3, "hf://acme/tiny-model")
    assert not list(tmp_path.glob("*.json"))


def test_the_served_answers_have_the_hubs_shape(hub: HubServer) -> None:
    """The test Hub answers huggingface_hub's own parsers with the recorded documents' keys, and
    both of its listings agree on every LFS digest."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile
    from support.hub_server import RESPONSES, info_document

    repo = hub.repos[("model", "acme/tiny-model")]
    recorded = json.loads((RESPONSES / "model_info.json").read_text())
    served = info_document(repo, repo.refs["main"], blobs=True)
    assert served.keys() == recorded.keys()
    assert {k for s in served["siblings"] for k in s} == {
        k for s in recorded["siblings"] for k in s
    }
    api = HfApi(endpoint=hub.endpoint, token=False)
    info = api.model_info(repo.repo_id, revision="main", files_metadata=True)
    assert info.sha == repo.refs["main"] and info.siblings
    by_info = {s.rfilename: s.lfs.sha256 for s in info.siblings if s.lfs is not None}
    tree = list(api.list_repo_tree(repo.repo_id, revision="main", recursive=True, expand=True))
    files = [f for f in tree if isinstance(f, RepoFile)]
    assert all(f.last_commit is not None and f.security is not None for f in files)
    by_tree = {f.path: f.lfs.sha256 for f in files if f.lfs is not None}
    assert (
        by_info
        == by_tree
        == {"model.safetensors": hashlib.sha256(FILES["model.safetensors"]).hexdigest()}
    )

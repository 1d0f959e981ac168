"""compare_tree is pure: every discrepancy class gets exactly the right rule."""

from __future__ import annotations

import hashlib

from chainguard.compare import compare_tree, same_content
from chainguard.models import Anomaly, ExpectedComponent, FileDigest, ObservedTree, tree_digest


def fd(path: str, content: bytes) -> FileDigest:
    return FileDigest(path, len(content), hashlib.sha256(content).hexdigest())


def component(*files: FileDigest, unsafe: tuple[str, ...] = ()) -> ExpectedComponent:
    return ExpectedComponent(
        kind="model",
        name="m",
        bom_ref="model:m",
        root_digest=tree_digest(list(files)),
        files=tuple(files),
        unsafe_paths=unsafe,
    )


def observed(*files: FileDigest, anomalies: tuple[Anomaly, ...] = ()) -> ObservedTree:
    return ObservedTree("/m", tuple(files), anomalies)


def rules(findings: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(f.rule, f.path) for f in findings]


A, B, C = b"weights-a", b"weights-b", b"config"


def test_identical_tree_has_no_findings() -> None:
    assert compare_tree(component(fd("a", A), fd("b", B)), observed(fd("a", A), fd("b", B))) == []


def test_modified_content_reports_expected_and_actual() -> None:
    [f] = compare_tree(component(fd("a", A)), observed(fd("a", b"weights-x")))
    assert f.rule == "artifact-modified" and f.path == "a"
    assert hashlib.sha256(A).hexdigest() in (f.expected or "")
    assert hashlib.sha256(b"weights-x").hexdigest() in (f.actual or "")


def test_truncated_file_mentions_sizes() -> None:
    [f] = compare_tree(component(fd("a", A)), observed(fd("a", A[:3])))
    assert f.rule == "artifact-modified" and "size 9 → 3" in f.message


def test_missing_and_unexpected() -> None:
    got = compare_tree(component(fd("a", A), fd("b", B)), observed(fd("a", A), fd("evil.pkl", C)))
    assert sorted(rules(got)) == [("artifact-missing", "b"), ("artifact-unexpected", "evil.pkl")]


def test_rename_is_one_finding_not_missing_plus_unexpected() -> None:
    got = compare_tree(component(fd("a", A), fd("c", C)), observed(fd("renamed", A), fd("c", C)))
    assert rules(got) == [("artifact-renamed", "renamed")]
    assert got[0].expected == "a"


def test_swap_detected_on_both_files() -> None:
    got = compare_tree(component(fd("a", A), fd("b", B)), observed(fd("a", B), fd("b", A)))
    assert sorted(rules(got)) == [("artifact-swapped", "a"), ("artifact-swapped", "b")]


def test_content_of_another_file_under_a_modified_name() -> None:
    got = compare_tree(component(fd("a", A), fd("b", B)), observed(fd("a", B), fd("b", B)))
    [f] = got
    assert f.rule == "artifact-modified" and f.path == "a" and "content of b" in f.message


def test_copy_of_signed_file_is_unexpected() -> None:
    got = compare_tree(component(fd("a", A)), observed(fd("a", A), fd("a2", A)))
    assert rules(got) == [("artifact-unexpected", "a2")] and "copy of signed a" in got[0].message


def test_anomalies_become_findings_and_suppress_missing() -> None:
    anomalies = (
        Anomaly("a", "symlink-escape", "points to /etc/passwd"),
        Anomaly("fifo", "special-file", "fifo"),
        Anomaly("b", "changed-during-hash", "modified while being read"),
    )
    got = compare_tree(component(fd("a", A), fd("b", B)), observed(anomalies=anomalies))
    assert sorted(rules(got)) == [
        ("artifact-changed-during-verify", "b"),
        ("special-file", "fifo"),
        ("symlink-escape", "a"),
    ]


def test_unsafe_sbom_paths_are_findings() -> None:
    got = compare_tree(component(fd("a", A), unsafe=("../etc/passwd",)), observed(fd("a", A)))
    assert rules(got) == [("sbom-path-unsafe", "../etc/passwd")]


def sharded(path: str, content: bytes, shard: int, *, whole: bool) -> FileDigest:
    shards = tuple(
        hashlib.sha256(content[i : i + shard]).hexdigest() for i in range(0, len(content), shard)
    )
    sha = hashlib.sha256(content).hexdigest() if whole else None
    return FileDigest(path, len(content), sha, shard_size=shard, shards=shards)


def test_sharded_observation_matches_signed_shards() -> None:
    content = bytes(range(256)) * 10
    signed = sharded("big", content, 512, whole=True)
    seen = sharded("big", content, 512, whole=False)
    assert same_content(signed, seen)
    tampered = bytearray(content)
    tampered[1000] ^= 1
    assert not same_content(signed, sharded("big", bytes(tampered), 512, whole=False))


def test_sharded_swap_detected() -> None:
    x, y = bytes(2000), bytes([1]) * 2000
    got = compare_tree(
        component(sharded("x", x, 512, whole=True), sharded("y", y, 512, whole=True)),
        observed(sharded("x", y, 512, whole=False), sharded("y", x, 512, whole=False)),
    )
    assert sorted(rules(got)) == [("artifact-swapped", "x"), ("artifact-swapped", "y")]


def test_findings_are_sorted_and_deterministic() -> None:
    exp = component(fd("z", A), fd("a", B))
    obs = observed(fd("z", b"1"), fd("a", b"2"))
    assert compare_tree(exp, obs) == compare_tree(exp, obs)
    assert [f.path for f in compare_tree(exp, obs)] == ["a", "z"]

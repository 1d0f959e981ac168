"""OpenSSF model signing: the signed manifest (chainguard/oms/manifest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from oms_helpers import A, B, C, assert_one_line, manifest, verify_vector
from support.oms import (
    CERTIFICATE,
    ELLIPTIC,
    SIGSTORE,
    sha256_hex,
    statement,
)

from chainguard import oms
from chainguard.errors import (
    BundleError,
    InputError,
    VerificationFailure,
)

# ------------------------------------------------------------------------- the real vectors


@pytest.mark.parametrize("case", [*ELLIPTIC, *CERTIFICATE, SIGSTORE])
def test_every_vector_yields_its_manifest(vectors_dir: Path, case: str) -> None:
    found = oms.read_manifest(verify_vector(vectors_dir, case), case)

    assert found.model_name == case
    assert found.method == "files" and found.hash_type == "sha256"
    assert found.allow_symlinks is False
    assert [r.path for r in found.resources] == ["signme-1", "signme-2"]
    content = (vectors_dir / "oms" / case / "signme-2").read_bytes()
    assert found.resources[1].digest == sha256_hex(content)
    if case.startswith("v1.1"):  # since v1.1 the signer records what it left out
        assert {"ignore-me", "model.sig", ".git"} <= set(found.ignore_paths)
    else:
        assert found.ignore_paths == ()


# ------------------------------------------------------------------------- manifest parsing


def test_shard_manifest_with_float_shard_size() -> None:
    payload = statement(
        [("w.bin:0:4", A), ("w.bin:4:6", B), ("x:0:2", C)],
        serialization_={
            "method": "shards",
            "hash_type": "sha256",
            "allow_symlinks": False,
            "shard_size": 4.0,  # what protobuf's Struct writes for 4
        },
        algorithm="sha256-sharded-4",
    )
    found = manifest(payload)

    assert found.shard_size == 4
    assert [(r.path, r.start, r.end) for r in found.resources] == [
        ("w.bin", 0, 4),
        ("w.bin", 4, 6),
        ("x", 0, 2),
    ]


def test_shard_names_may_contain_colons() -> None:
    payload = statement(
        [("a:b:0:3", A)],
        serialization_={"method": "shards", "hash_type": "sha256", "shard_size": 8},
        algorithm="sha256-sharded-8",
    )
    assert manifest(payload).resources[0].path == "a:b"


def test_subject_is_checked_in_listed_order() -> None:
    # model-signing's verifier hashes the resources as listed; so do we
    assert [r.path for r in manifest(statement([("b", B), ("a", A)])).resources] == ["b", "a"]


def test_subject_digest_that_disagrees_with_resources_is_subject_mismatch() -> None:
    payload = statement([("a", A), ("b", B)], subject=sha256_hex(b"something else"))
    with pytest.raises(VerificationFailure) as caught:
        manifest(payload)
    assert caught.value.rule == "subject-mismatch"
    assert_one_line(caught.value)


# model-signing 0.2's Digests/v0.1 is read (tests/unit/oms/test_oms_legacy.py); its other,
# never-released predicate types are not
@pytest.mark.parametrize(
    "predicate_type", ["https://cyclonedx.org/bom", "https://model_signing/ShardDigests/v0.1"]
)
def test_other_predicate_types_are_subject_mismatch(predicate_type: str) -> None:
    doc = json.loads(statement([("a", A)]))
    doc["predicateType"] = predicate_type
    with pytest.raises(VerificationFailure) as caught:
        manifest(json.dumps(doc).encode())
    assert caught.value.rule == "subject-mismatch"
    assert caught.value.actual == predicate_type


def _edited(edit: Callable[[dict[str, object]], None]) -> bytes:
    doc = json.loads(statement([("a", A), ("b", B)]))
    edit(doc)
    return json.dumps(doc).encode()


def _predicate(doc: dict[str, object]) -> dict[str, object]:
    predicate = doc["predicate"]
    assert isinstance(predicate, dict)
    return predicate


def _serialization(doc: dict[str, object]) -> dict[str, object]:
    value = _predicate(doc)["serialization"]
    assert isinstance(value, dict)
    return value


def _resources(doc: dict[str, object]) -> list[dict[str, object]]:
    value = _predicate(doc)["resources"]
    assert isinstance(value, list)
    return value


MALFORMED: dict[str, Callable[[dict[str, object]], None]] = {
    "no serialization": lambda d: _predicate(d).pop("serialization"),
    "serialization not an object": lambda d: _predicate(d).update(serialization=[1]),
    "unknown method": lambda d: _serialization(d).update(method="tensors"),
    "no hash_type": lambda d: _serialization(d).pop("hash_type"),
    "allow_symlinks not a bool": lambda d: _serialization(d).update(allow_symlinks="false"),
    "ignore_paths not strings": lambda d: _serialization(d).update(ignore_paths=[1]),
    "no resources": lambda d: _predicate(d).pop("resources"),
    "resources not a list": lambda d: _predicate(d).update(resources={}),
    "resource not an object": lambda d: _resources(d).append("a"),
    "resource without name": lambda d: _resources(d)[0].pop("name"),
    "algorithm disagrees": lambda d: _resources(d)[0].update(algorithm="blake2"),
    "digest not hex": lambda d: _resources(d)[0].update(digest="zz" * 32),
    "digest too short": lambda d: _resources(d)[0].update(digest="ab"),
    "same resource twice": lambda d: _resources(d).append(dict(_resources(d)[0])),
    "two subjects": lambda d: d.update(subject=[*d["subject"], *d["subject"]]),  # type: ignore[list-item]
    "subject without sha256": lambda d: d.update(
        subject=[{"name": "m", "digest": {"sha512": "ab" * 64}}]
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_manifests_are_one_line_bundle_errors(case: str) -> None:
    with pytest.raises(BundleError) as caught:
        manifest(_edited(MALFORMED[case]))
    assert_one_line(caught.value)
    assert str(caught.value).startswith("test.sig")


@pytest.mark.parametrize("shard_size", [4.5, 0, -4, True, "4", None])
def test_bad_shard_sizes_are_rejected(shard_size: object) -> None:
    payload = statement(
        [("x:0:2", A)],
        serialization_={"method": "shards", "hash_type": "sha256", "shard_size": shard_size},
        algorithm="sha256-sharded-4",
    )
    with pytest.raises(BundleError) as caught:
        manifest(payload)
    assert "shard_size" in str(caught.value)


@pytest.mark.parametrize(
    "names",
    [
        ["w:0:4", "w:8:10"],  # a gap
        ["w:0:4", "w:2:6"],  # overlap
        ["w:0:3", "w:3:6"],  # not the signed shard size
        ["w:0:6"],  # larger than a shard
        ["w:4:2"],  # empty / reversed
        ["w:0:x"],  # not numbers
        ["w"],  # no offsets
    ],
)
def test_shards_must_tile_the_file(names: list[str]) -> None:
    payload = statement(
        [(n, A) for n in names],
        serialization_={"method": "shards", "hash_type": "sha256", "shard_size": 4},
        algorithm="sha256-sharded-4",
    )
    with pytest.raises(BundleError):
        manifest(payload)


def test_unsupported_hash_type_is_input_error() -> None:
    payload = statement(
        [("a", "ab" * 64)],
        serialization_={"method": "files", "hash_type": "blake2", "allow_symlinks": False},
        algorithm="blake2",
    )
    with pytest.raises(InputError) as caught:
        manifest(payload)
    assert "blake2" in str(caught.value)
    assert not isinstance(caught.value, BundleError)


def test_only_safe_signed_ignore_paths_are_honoured() -> None:
    payload = statement(
        [("a", A)],
        serialization_={
            "method": "files",
            "hash_type": "sha256",
            "ignore_paths": ["cache/", "../outside", "/abs", "", "ok/x"],
        },
    )
    assert oms.signed_ignore_paths(manifest(payload)) == {"cache", "ok/x"}

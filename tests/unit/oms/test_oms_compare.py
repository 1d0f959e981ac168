"""OpenSSF model signing: a model against its signed manifest (chainguard/oms/compare.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from oms_helpers import A, B, C, manifest, payload_of, tree
from support.oms import (
    statement,
)

from chainguard import api, oms
from chainguard.findings import Severity

# ------------------------------------------------------------------------------- comparison


def test_identical_model_has_no_findings() -> None:
    found = manifest(statement([("a", A), ("d/b", B)]))
    observed = tree(("a", b"a"), ("d/b", b"b"))
    assert oms.compare_model(found, observed, single_file=None) == []


def test_each_difference_has_its_rule() -> None:
    found = manifest(statement([("changed", A), ("gone", B), ("moved", C)]))
    observed = tree(("changed", b"A!"), ("new", b"x"), ("renamed", b"c"))

    findings = {(f.rule, f.path): f for f in oms.compare_model(found, observed, single_file=None)}

    assert set(findings) == {
        ("artifact-modified", "changed"),
        ("artifact-missing", "gone"),
        ("artifact-unexpected", "new"),
        ("artifact-renamed", "renamed"),
    }
    # a files manifest records no size: the signed digest is shown alone
    assert findings[("artifact-modified", "changed")].expected == f"sha256:{A}"
    assert findings[("artifact-missing", "gone")].expected == f"sha256:{B}"
    assert all("SBOM" not in f.message for f in findings.values())


def test_swapped_files() -> None:
    found = manifest(statement([("a", A), ("b", B)]))
    rules = {
        f.rule for f in oms.compare_model(found, tree(("a", b"b"), ("b", b"a")), single_file=None)
    }
    assert rules == {"artifact-swapped"}


@pytest.mark.parametrize("name", [".", "weights.bin"])
def test_single_file_model(name: str) -> None:
    found = manifest(statement([(name, A)]))
    assert oms.compare_model(found, tree(("weights.bin", b"a")), single_file="weights.bin") == []
    (finding,) = oms.compare_model(found, tree(("weights.bin", b"z")), single_file="weights.bin")
    assert finding.rule == "artifact-modified"


def test_single_file_signature_against_a_directory() -> None:
    found = manifest(statement([(".", A)]))
    rules = {f.rule for f in oms.compare_model(found, tree(("a", b"a")), single_file=None)}
    assert rules == {"subject-mismatch", "artifact-unexpected"}


def test_unsafe_signed_names_are_reported_never_opened() -> None:
    found = manifest(statement([("../../etc/passwd", A), ("a", B)]))
    findings = oms.compare_model(found, tree(("a", b"b")), single_file=None)
    assert [(f.rule, f.path) for f in findings] == [("sbom-path-unsafe", "../../etc/passwd")]


# ------------------------------------------------------------------ shards, end to end


def _model_signing_shard_sign(model: Path, signature: Path, private_key: Path, size: int) -> None:
    """Sign with the real model-signing library's shard serialization (its CLI has none)."""
    from model_signing import hashing, signing

    config = hashing.Config().use_shard_serialization(shard_size=size)
    signing.Config().use_elliptic_key_signer(private_key=private_key).set_hashing_config(
        config
    ).sign(model, signature)


@pytest.fixture
def ec_key(tmp_path: Path) -> tuple[Path, Path]:
    private, public = api.keygen(tmp_path / "oms")
    return private, public


@pytest.mark.parametrize("shard_size", [4, 1024 * 1024])
def test_model_signing_shard_signatures_verify(
    tmp_path: Path, ec_key: tuple[Path, Path], shard_size: int
) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    big = os.urandom(2 * shard_size + shard_size // 2)
    (model / "weights.bin").write_bytes(big)
    (model / "sub" / "config.json").write_bytes(b"{}")
    signature = tmp_path / "model.sig"
    _model_signing_shard_sign(model, signature, ec_key[0], shard_size)
    payload = json.loads(payload_of(signature.read_bytes()))
    assert payload["predicate"]["serialization"]["shard_size"] == float(shard_size)

    def verify() -> list[tuple[str, str, Severity]]:
        report = api.verify_model_oms(model, signature, keys=[ec_key[1]])
        return [(f.rule, f.path, f.effective_severity) for f in report.findings]

    assert verify() == []

    # a changed byte in the middle shard, then a truncated file
    tampered = bytearray(big)
    tampered[shard_size + 1] ^= 1
    (model / "weights.bin").write_bytes(bytes(tampered))
    assert verify() == [("artifact-modified", "weights.bin", Severity.ERROR)]
    (model / "weights.bin").write_bytes(big[:-1])
    assert verify() == [("artifact-modified", "weights.bin", Severity.ERROR)]
    (model / "weights.bin").write_bytes(big)

    # an empty file has no shard, so the signature cannot say it was absent: a warning
    (model / "empty").write_bytes(b"")
    assert verify() == [("artifact-unexpected", "empty", Severity.WARNING)]
    report = api.verify_model_oms(model, signature, keys=[ec_key[1]])
    assert report.ok


def test_model_signing_single_file_shards(tmp_path: Path, ec_key: tuple[Path, Path]) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(os.urandom(10))
    signature = tmp_path / "w.sig"
    _model_signing_shard_sign(weights, signature, ec_key[0], 4)

    assert api.verify_model_oms(weights, signature, keys=[ec_key[1]]).findings == ()
    weights.write_bytes(os.urandom(10))
    rules = [f.rule for f in api.verify_model_oms(weights, signature, keys=[ec_key[1]]).findings]
    assert rules == ["artifact-modified"]


def test_default_shard_size_of_model_signing_is_hashable() -> None:
    """10**9 is not a multiple of the engine's read size; the engine accepts it for OMS."""
    payload = statement(
        [("w:0:10", A)],
        serialization_={"method": "shards", "hash_type": "sha256", "shard_size": 1e9},
        algorithm="sha256-sharded-1000000000",
    )
    settings, plan = oms.hash_plan(manifest(payload), single_file=None)
    assert settings.shard_size == 10**9
    assert plan == {"w": 10**9}
    single, _ = oms.hash_plan(manifest(statement([("a", A)])), single_file=None)
    assert single.shard_size != 10**9  # files manifests hash whole files

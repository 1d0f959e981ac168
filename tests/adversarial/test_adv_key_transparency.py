"""A key-signed bundle verified with --key and --trusted-root (trust/sigstore_log.py): the
root's logs and TSAs must vouch for *this* signature. Log entries and timestamps grafted from
other bundles (real ones, that verify on their own) are refused, as is a root they do not
chain to; a bundle that carries none verifies on the key alone, as documented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from support.cli import Outcome, cli, ok
from support.conformance import bundle_verify_dir, production_root
from support.sigstore_cases import key_message_bundle, public_pem, refuse_network

DATA = b"an artifact signed with a managed key\n"


@pytest.fixture
def conformance(vectors_dir: Path) -> Path:
    top = bundle_verify_dir()
    if not top.is_dir():
        pytest.skip(f"sigstore-conformance vectors not found at {top}")
    return top


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    """(artifact, public key, bundle document) of a fresh key-signed message signature."""
    key = ec.generate_private_key(ec.SECP256R1())
    artifact = tmp_path / "artifact.txt"
    artifact.write_bytes(DATA)
    pub = tmp_path / "key.pub"
    pub.write_bytes(public_pem(key))
    return artifact, pub, json.loads(key_message_bundle(key, DATA))


def _verify(tmp_path: Path, artifact: Path, key: Path, doc: dict[str, Any], root: Path) -> Outcome:
    bundle = tmp_path / "bundle.sigstore.json"
    bundle.write_text(json.dumps(doc))
    return cli(
        "verify", "blob", artifact, "--bundle", bundle, "--key", key, "--trusted-root", root,
        "--format", "json",
    )  # fmt: skip


def _refusal(outcome: Outcome) -> str:
    assert outcome.code == 1, (outcome.stdout, outcome.stderr)
    (finding,) = outcome.report["findings"]
    assert finding["rule"] == "signature-invalid"
    return str(finding["message"])


def _material(conformance: Path, case: str) -> dict[str, Any]:
    doc = json.loads((conformance / case / "bundle.sigstore.json").read_text())
    material: dict[str, Any] = doc["verificationMaterial"]
    return material


def test_bundle_without_log_entries_verifies_on_the_key(
    tmp_path: Path, signed: tuple[Path, Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_network(monkeypatch)
    artifact, key, doc = signed
    doc_out = ok(_verify(tmp_path, artifact, key, doc, production_root())).report
    assert doc_out["trust"]["trusted_root"] == str(production_root())


def test_grafted_log_entry_of_another_signature_is_refused(
    tmp_path: Path,
    conformance: Path,
    signed: tuple[Path, Path, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real staging Rekor entry (inclusion proof, checkpoint and promise all valid against
    the case's root) recording someone else's signature, key and digest."""
    refuse_network(monkeypatch)
    artifact, key, doc = signed
    case = "managed-key-and-trusted-root"
    doc["verificationMaterial"]["tlogEntries"] = _material(conformance, case)["tlogEntries"]
    message = _refusal(
        _verify(tmp_path, artifact, key, doc, conformance / case / "trusted_root.json")
    )
    assert "log entry 1: log entry records digest" in message


def test_log_entry_of_another_instance_is_refused(
    tmp_path: Path, conformance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real managed-key case, verified against the production root: its staging log
    entry does not chain to it."""
    refuse_network(monkeypatch)
    case = conformance / "managed-key-and-trusted-root"
    bundle = json.loads((case / "bundle.sigstore.json").read_text())
    message = _refusal(
        _verify(tmp_path, conformance / "a.txt", case / "key.pub", bundle, production_root())
    )
    assert "log entry 1: checkpoint" in message


def test_grafted_timestamp_of_another_signature_is_refused(
    tmp_path: Path,
    conformance: Path,
    signed: tuple[Path, Path, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real production TSA timestamp, over another bundle's signature."""
    refuse_network(monkeypatch)
    artifact, key, doc = signed
    material = _material(conformance, "managed-key-happy-path")
    doc["verificationMaterial"]["timestampVerificationData"] = material["timestampVerificationData"]
    message = _refusal(_verify(tmp_path, artifact, key, doc, production_root()))
    assert "timestamp 1 is not signed over this signature" in message

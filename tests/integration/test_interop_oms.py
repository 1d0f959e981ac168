"""Every OpenSSF model-signing vector (every released format, v0.2.0 … v1.1.0; key, certificate
and Sigstore) through `chainguard verify model --oms-signature`, offline: each verifies as
signed, and fails once a byte of a signed file is flipped. Folders are enumerated in place.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from support.cli import Outcome, cli, ok, rules
from support.oms import (
    copy_vector,
    key_dir,
    load_ec_private_key,
    v0_2_key_bundle,
    v0_2_statement,
    vector_cases,
    vector_trust_args,
)
from support.sigstore_cases import refuse_network


def _signed_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name not in ("model.sig", "ignore-me"))


def _verify(vectors_dir: Path, folder: Path, case: str) -> Outcome:
    """As upstream's scripts/tests: a folder holding one signed file is a single-file model
    (v0.3.1 and v1.0.0 elliptic-key), verified as that file; else the folder is the model."""
    files = _signed_files(folder)
    model = files[0] if len(files) == 1 else folder
    return cli(
        "verify", "model", model, "--oms-signature", folder / "model.sig",
        *vector_trust_args(vectors_dir, case), "--ignore", "ignore-me", "--format", "json",
    )  # fmt: skip


@pytest.mark.parametrize("case", vector_cases())
def test_vector_verifies(vectors_dir: Path, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_network(monkeypatch)
    model = vectors_dir / "oms" / case
    doc = ok(_verify(vectors_dir, model, case)).report
    assert doc["ok"] is True and doc["findings"] == []
    assert doc["stats"]["files"] == len(_signed_files(model))
    assert len(doc["signers"]) == 1


@pytest.mark.parametrize("case", vector_cases())
def test_vector_with_a_flipped_byte_fails(
    vectors_dir: Path, tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_network(monkeypatch)
    model = copy_vector(vectors_dir, case, tmp_path)
    data = bytearray((model / "signme-1").read_bytes())
    data[0] ^= 0x01
    (model / "signme-1").write_bytes(bytes(data))
    outcome = _verify(vectors_dir, model, case)
    assert outcome.code == 1, (outcome.stdout, outcome.stderr)
    assert rules(outcome.report) == [("artifact-modified", "signme-1")]


# model-signing 0.2 signed with keys too (no such vector was published): the same quirks.


@pytest.fixture
def v0_2_key_model(vectors_dir: Path, tmp_path: Path) -> tuple[Path, ec.EllipticCurvePrivateKey]:
    key = load_ec_private_key(key_dir(vectors_dir) / "signing-key.pem")
    model = tmp_path / "model"
    model.mkdir()
    files = {"signme-1": b"one\n", "sub/signme-2": b"two\n"}
    for name, data in files.items():
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        (model / name).write_bytes(data)
    (model / "model.sig").write_bytes(v0_2_key_bundle(v0_2_statement(files), key))
    return model, key


def test_v0_2_key_signature_verifies(
    vectors_dir: Path, v0_2_key_model: tuple[Path, object]
) -> None:
    model, _ = v0_2_key_model
    doc = ok(_verify(vectors_dir, model, "v0.2.0-elliptic-key")).report
    assert doc["findings"] == [] and doc["stats"]["files"] == 2


def test_v0_2_key_signature_by_another_key_is_refused(
    vectors_dir: Path, tmp_path: Path, v0_2_key_model: tuple[Path, object]
) -> None:
    model, _ = v0_2_key_model
    ok(cli("keygen", tmp_path / "other"))
    outcome = cli(
        "verify", "model", model, "--oms-signature", model / "model.sig",
        "--key", tmp_path / "other.pub", "--format", "json",
    )  # fmt: skip
    assert outcome.code == 1
    assert [f["rule"] for f in outcome.report["findings"]] in (
        ["signature-invalid"],
        ["signature-untrusted"],
    )

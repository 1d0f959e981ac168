"""The SBOM trust gate with Sigstore certificates: a real production DSSE bundle goes through
the keyless branch of `verify model`, offline, and is judged by identity and instance."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.cli import cli

IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"


@pytest.fixture
def bundle(vectors_dir: Path, tmp_path: Path) -> Path:
    src = vectors_dir / "sigstore" / "prod-dsse" / "bundle.sigstore.json"
    dst = tmp_path / "bundle.sigstore.json"
    shutil.copy(src, dst)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.bin").write_bytes(b"w")
    return dst


def verify(bundle: Path, *extra: str) -> tuple[int, list[str]]:
    result = cli(
        "verify", "model", bundle.parent / "model", "--signature", bundle, "--format", "json",
        *extra,
    )  # fmt: skip
    if result.code not in (0, 1):
        return result.code, [result.stdout + result.stderr]
    return result.code, [f["rule"] for f in result.report["findings"]]


def test_trusted_identity_verifies_but_statement_is_not_an_sbom(bundle: Path) -> None:
    # The signature, certificate chain and Rekor entry verify offline against the production
    # root; the statement is a plain in-toto attestation, not a CycloneDX SBOM: refused.
    code, rules = verify(bundle, "--identity", IDENTITY, "--issuer", ISSUER)
    assert (code, rules) == (1, ["subject-mismatch"])


def test_other_identity_is_untrusted(bundle: Path) -> None:
    code, rules = verify(bundle, "--identity", "someone@example.com", "--issuer", ISSUER)
    assert (code, rules) == (1, ["signature-untrusted"])


def test_production_bundle_against_staging_root_is_invalid(bundle: Path) -> None:
    code, rules = verify(bundle, "--identity", IDENTITY, "--issuer", ISSUER, "--staging")
    assert (code, rules) == (1, ["signature-invalid"])


def test_certificate_bundle_with_only_keys_configured_is_untrusted(
    bundle: Path, tmp_path: Path
) -> None:
    from chainguard import api

    _, pub = api.keygen(tmp_path / "k")
    code, rules = verify(bundle, "--key", str(pub))
    assert (code, rules) == (1, ["signature-untrusted"])

"""Every bundle-verify case of the public sigstore-conformance suite, through `chainguard
verify blob`, offline: the cases verify, and each `_fail` case is refused for its own reason.

The cases are enumerated from the suite's folders (support/conformance.py); a case added
upstream is run too. A refusal is checked against REFUSALS below, so a `_fail` case that starts
failing for another reason (e.g. an unsupported log entry kind instead of an expired
certificate) is caught.
"""

from __future__ import annotations

import pytest
from support.cli import assert_one_line_error, cli
from support.conformance import ConformanceCase, bundle_verify_cases
from support.sigstore_cases import refuse_network

# case → (exit code, rule of the finding (exit 1) or None (exit 3: one line on stderr), text
# the finding or the error must hold). The text names why the case is refused.
_CHAIN_TIME = "cert is not valid at validation time"
_NO_TIME = "not enough sources of verified time"
_INCONSISTENT = "transparency log entry is inconsistent"
_CHECKPOINT_HEADER = "malformed LogCheckpoint: too few items in header"
REFUSALS: dict[str, tuple[int, str | None, str]] = {
    "bundle-empty-certificate-chain_fail": (3, None, "certificates is not a non-empty list"),
    "bundle-from-wrong-instance_fail": (1, "signature-invalid", "signature does not match"),
    "bundle-invalid-base64-signature_fail": (3, None, "signature is not valid base64"),
    "bundle-malformed-json_fail": (3, None, "not valid JSON"),
    "bundle-negative-log-index_fail": (3, None, "logIndex"),
    "bundle-unknown-version_fail": (3, None, "unknown bundle mediaType"),
    "bundle-with-root-cert_fail": (3, None, "x509CertificateChain includes a root CA"),
    "checkpoint-bad-keyhint_fail": (1, "signature-invalid", "checkpoint: Signature not found"),
    "checkpoint-wrong-roothash_fail": (1, "signature-invalid", "invalid root hash"),
    "dsse-invalid-sig_fail": (1, "signature-invalid", "DSSE: invalid signature"),
    "dsse-mismatch-envelope_fail": (1, "signature-invalid", "payload hash does not match"),
    "dsse-mismatch-sig_fail": (1, "signature-invalid", "signatures do not match"),
    "inclusion-proof-corrupted-hash_fail": (1, "signature-invalid", "invalid root hash"),
    "incorrect-public-key_fail": (1, "signature-invalid", "invalid root hash"),
    "integrated-time-in-future_fail": (1, "signature-invalid", _CHAIN_TIME),
    "intoto-expired-certificate_fail": (1, "signature-invalid", _CHAIN_TIME),
    "intoto-log-entry-mismatch_fail": (1, "signature-invalid", _INCONSISTENT),
    "intoto-missing-inclusion-proof_fail": (3, None, "inclusionProof"),
    "intoto-set-outside-signing-cert-validity_fail": (1, "signature-invalid", _CHAIN_TIME),
    "intoto-tsa-timestamp-outside-cert-validity_fail": (1, "signature-invalid", _CHAIN_TIME),
    "invalid-checkpoint-signature_fail": (1, "signature-invalid", "checkpoint: invalid signature"),
    "invalid-ct-key_fail": (1, "signature-invalid", "failed to verify SCT"),
    "invalid-inclusion-proof_fail": (3, None, "inclusion proof, with checkpoint"),
    "managed-key-no-key_fail": (1, "signature-untrusted", "signed with a public key"),
    "managed-key-wrong-key_fail": (3, None, "not a valid PEM public key"),
    "message-digest-mismatch_fail": (1, "signature-invalid", "Signature is invalid for input"),
    "rekor2-checkpoint-missing-log-signature_fail": (
        1,
        "signature-invalid",
        "must contain at least one signature",
    ),
    "rekor2-checkpoint-missing-origin_fail": (1, "signature-invalid", _CHECKPOINT_HEADER),
    "rekor2-checkpoint-missing-root-hash_fail": (1, "signature-invalid", _CHECKPOINT_HEADER),
    "rekor2-checkpoint-missing-size_fail": (1, "signature-invalid", _CHECKPOINT_HEADER),
    "rekor2-checkpoint-no-matching-signature_fail": (
        1,
        "signature-invalid",
        "checkpoint: invalid signature",
    ),
    "rekor2-dsse-invalid-sig_fail": (1, "signature-invalid", "DSSE: invalid signature"),
    "rekor2-dsse-mismatch-envelope_fail": (1, "signature-invalid", _INCONSISTENT),
    "rekor2-dsse-mismatch-sig_fail": (1, "signature-invalid", _INCONSISTENT),
    "rekor2-no-inclusion-proof_fail": (3, None, "inclusionProof"),
    "rekor2-no-timestamp_fail": (3, None, "inclusion promise or signed timestamp"),
    "rekor2-timestamp-outside-trust-root-tsa-validity_fail": (1, "signature-invalid", _NO_TIME),
    "rekor2-timestamp-outside-tsa-cert-validity_fail": (1, "signature-invalid", _NO_TIME),
    "rekor2-timestamp-payload-mismatch_fail": (1, "signature-invalid", _NO_TIME),
    "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail": (
        3,
        None,
        "Invalid Timestamp Response",
    ),
    "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail": (
        1,
        "signature-invalid",
        _NO_TIME,
    ),
    "rekor2-timestamp-with-incorrect-time_fail": (1, "signature-invalid", _CHAIN_TIME),
    "set-invalid-signature_fail": (1, "signature-invalid", "SET: invalid inclusion promise"),
    "signature-mismatch_fail": (1, "signature-invalid", "Signature is invalid for input"),
    "trust-root-tlog-missing-validity-start_fail": (3, None, "validFor.start"),
    "wrong-hashedrekord-artifact_fail": (1, "signature-invalid", _INCONSISTENT),
    "wrong-hashedrekord-cert-and-sig_fail": (1, "signature-invalid", _INCONSISTENT),
    "wrong-hashedrekord-entry_fail": (1, "signature-invalid", _INCONSISTENT),
    "wrong-material_fail": (1, "subject-mismatch", "not the signed digest"),
}


@pytest.mark.parametrize("case", bundle_verify_cases())
def test_conformance_case(case: ConformanceCase, monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_network(monkeypatch)
    outcome = cli(
        "verify", "blob", case.artifact, "--bundle", case.bundle, *case.trust_args(),
        "--format", "json",
    )  # fmt: skip
    if not case.must_fail:
        assert outcome.code == 0, (outcome.stdout, outcome.stderr)
        doc = outcome.report
        assert doc["ok"] is True and doc["findings"] == []
        assert len(doc["signers"]) == 1
        return
    assert case.name in REFUSALS, f"new _fail case {case.name}: add its reason to REFUSALS"
    code, rule, needle = REFUSALS[case.name]
    if rule is None:
        assert_one_line_error(outcome, code, needle)
        return
    assert outcome.code == code, (outcome.stdout, outcome.stderr)
    (finding,) = outcome.report["findings"]
    assert finding["rule"] == rule, finding
    assert needle in finding["message"], finding


def test_every_refusal_names_a_case_of_the_suite() -> None:
    """REFUSALS stays in step with the suite: no entry for a case that is not there."""
    params = bundle_verify_cases()
    cases = [p.values[0] for p in params]  # type: ignore[attr-defined]
    if cases == [None]:
        pytest.skip("sigstore-conformance vectors absent")
    names = {c.name for c in cases}
    assert set(REFUSALS) <= names, set(REFUSALS) - names
    assert {n for n in names if n.endswith("_fail")} == set(REFUSALS)

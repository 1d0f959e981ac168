"""Blob verification with keys: DSSE statements and message signatures, file digests."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from support.sigstore_cases import edit_json, flip_b64, key_message_bundle, public_pem
from trust_helpers import SUBJECT, assert_one_line, signed_bundle

from chainguard.errors import BundleError, InputError, UsageError, VerificationFailure
from chainguard.models import Subject
from chainguard.trust.blob import file_digests, match_subject, require_file, verify_key_artifact
from chainguard.trust.bundle import read_bundle, verify_key_message_signature
from chainguard.trust.keys import SigningKey, TrustedKey, public_key_from_pem
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, build_statement

DATA = b"model weights, or any other file\n" * 100


def trusted(key: ec.EllipticCurvePrivateKey) -> TrustedKey:
    return public_key_from_pem(public_pem(key), "test.pub")


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "artifact.bin"
    path.write_bytes(DATA)
    return path


@pytest.fixture(params=[("p256", "SHA2_256"), ("p384", "SHA2_384"), ("p384", "SHA2_256")])
def ec_case(request: pytest.FixtureRequest) -> tuple[ec.EllipticCurvePrivateKey, str]:
    curve, algorithm = request.param
    key = ec.generate_private_key(ec.SECP256R1() if curve == "p256" else ec.SECP384R1())
    return key, algorithm


# --- message signatures --------------------------------------------------------------------


def test_message_signature_verifies_and_names_the_signed_digest(
    ec_case: tuple[ec.EllipticCurvePrivateKey, str], artifact: Path
) -> None:
    key, algorithm = ec_case
    bundle = key_message_bundle(key, DATA, algorithm)
    signed = verify_key_message_signature(read_bundle(bundle, "b"), [trusted(key)], source="b")
    name = {"SHA2_256": "sha256", "SHA2_384": "sha384"}[algorithm]
    assert signed.algorithm == name
    assert signed.digest == hashlib.new(name, DATA).digest()
    assert signed.signer.identity == trusted(key).fingerprint

    assert verify_key_artifact(artifact, bundle, "b", [trusted(key)]) == signed.signer


def test_message_signature_for_other_bytes_is_subject_mismatch(
    ec_case: tuple[ec.EllipticCurvePrivateKey, str], artifact: Path
) -> None:
    key, algorithm = ec_case
    bundle = key_message_bundle(key, DATA + b"!", algorithm)
    with pytest.raises(VerificationFailure) as info:
        verify_key_artifact(artifact, bundle, "b", [trusted(key)])
    assert info.value.rule == "subject-mismatch"
    name = {"SHA2_256": "sha256", "SHA2_384": "sha384"}[algorithm]
    assert info.value.actual == f"{name}:{hashlib.new(name, DATA).hexdigest()}"
    assert info.value.expected == f"{name}:{hashlib.new(name, DATA + b'!').hexdigest()}"
    assert_one_line(info.value)


def test_message_signature_by_another_key_is_untrusted(artifact: Path) -> None:
    signer = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(VerificationFailure) as info:
        verify_key_artifact(artifact, key_message_bundle(signer, DATA), "b", [trusted(other)])
    assert info.value.rule == "signature-untrusted"
    assert info.value.actual == trusted(signer).fingerprint


def test_message_signature_without_hint_and_wrong_key_is_invalid(artifact: Path) -> None:
    signer = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    bundle = key_message_bundle(signer, DATA, hint=False)
    with pytest.raises(VerificationFailure) as info:
        verify_key_artifact(artifact, bundle, "b", [trusted(other)])
    assert info.value.rule == "signature-invalid"


@pytest.mark.parametrize("field", ["signature", "digest"])
def test_altered_message_signature_or_digest_is_invalid(artifact: Path, field: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())

    def alter(doc: dict[str, object]) -> None:
        msg = doc["messageSignature"]
        assert isinstance(msg, dict)
        if field == "signature":
            msg["signature"] = flip_b64(msg["signature"], 20)
        else:
            msg["messageDigest"]["digest"] = flip_b64(msg["messageDigest"]["digest"], 3)

    bundle = edit_json(key_message_bundle(key, DATA), alter)
    with pytest.raises(VerificationFailure) as info:
        verify_key_artifact(artifact, bundle, "b", [trusted(key)])
    assert info.value.rule == "signature-invalid"


@pytest.mark.parametrize(
    ("algorithm", "digest_len", "match"),
    [("MD5", 16, "not supported"), ("SHA1", 20, "not supported"), ("SHA2_256", 20, "bytes")],
)
def test_weak_or_inconsistent_message_digest_is_rejected(
    algorithm: str, digest_len: int, match: str
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())

    def weaken(doc: dict[str, object]) -> None:
        msg = doc["messageSignature"]
        assert isinstance(msg, dict)
        digest = base64.b64encode(b"A" * digest_len).decode()
        msg["messageDigest"] = {"algorithm": algorithm, "digest": digest}

    bundle = edit_json(key_message_bundle(key, DATA), weaken)
    with pytest.raises(BundleError, match=match) as info:
        verify_key_message_signature(read_bundle(bundle, "b"), [trusted(key)], source="b")
    assert_one_line(info.value)


def test_ed25519_keys_cannot_verify_message_signatures(
    make_key: Callable[..., SigningKey],
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    ed = make_key("ed25519").trusted_key
    with pytest.raises(BundleError, match="ECDSA"):
        verify_key_message_signature(
            read_bundle(key_message_bundle(key, DATA), "b"), [ed], source="b"
        )


def test_message_signature_needs_a_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(UsageError):
        verify_key_message_signature(
            read_bundle(key_message_bundle(key, DATA), "b"), [], source="b"
        )


def test_dsse_bundle_is_not_a_message_signature(signing_key: SigningKey) -> None:
    bundle = read_bundle(signed_bundle(signing_key), "b")
    with pytest.raises(BundleError, match="DSSE envelope, not a message signature"):
        verify_key_message_signature(bundle, [signing_key.trusted_key], source="b")


# --- DSSE statements over a file ------------------------------------------------------------


def statement_for(data: bytes, name: str = "deployment:demo") -> bytes:
    subject = Subject(name, (("sha256", hashlib.sha256(data).hexdigest()),))
    return build_statement([subject], "https://cyclonedx.org/bom", {"bomFormat": "CycloneDX"})


def test_dsse_subject_must_be_the_file_digest(signing_key: SigningKey, artifact: Path) -> None:
    good = signed_bundle(signing_key, statement_for(DATA))
    signer = verify_key_artifact(artifact, good, "b", [signing_key.trusted_key])
    assert signer.identity == signing_key.fingerprint

    other = signed_bundle(signing_key, statement_for(DATA + b"x"))
    with pytest.raises(VerificationFailure) as info:
        verify_key_artifact(artifact, other, "b", [signing_key.trusted_key])
    assert info.value.rule == "subject-mismatch"
    assert info.value.actual == f"sha256:{hashlib.sha256(DATA).hexdigest()}"
    assert "deployment:demo" in (info.value.expected or "")


def test_match_subject_lists_at_most_three_signed_subjects() -> None:
    subjects = [Subject(f"s{i}\n", (("sha256", f"{i:064x}"),)) for i in range(5)]
    with pytest.raises(VerificationFailure) as info:
        match_subject(subjects, "f" * 64, "file")
    assert "(+2 more)" in (info.value.expected or "")
    assert "\n" not in (info.value.expected or "")
    assert match_subject(subjects, f"{3:064x}", "file") is subjects[3]


def test_dsse_payload_type_is_checked(signing_key: SigningKey, artifact: Path) -> None:
    from chainguard.trust import dsse
    from chainguard.trust.bundle import key_bundle_json

    envelope = dsse.sign(statement_for(DATA), "text/plain", signing_key)
    bundle = key_bundle_json(envelope, signing_key.trusted_key)
    with pytest.raises(BundleError, match=re.escape(PAYLOAD_TYPE_IN_TOTO)):
        verify_key_artifact(artifact, bundle, "b", [signing_key.trusted_key])


# --- reading the file ----------------------------------------------------------------------


def test_file_digests_stream_several_algorithms_in_one_pass(tmp_path: Path) -> None:
    path = tmp_path / "big"
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one 1 MiB read
    path.write_bytes(data)
    digests = file_digests(path, ("sha256", "sha384", "sha256"))
    assert digests == {
        "sha256": hashlib.sha256(data).digest(),
        "sha384": hashlib.sha384(data).digest(),
    }
    assert require_file(path) == len(data)


def test_missing_directory_and_fifo_are_input_errors(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, match in (
        (tmp_path / "absent", "no such file"),
        (tmp_path, "is a directory"),
        (fifo, "not a regular file"),
    ):
        with pytest.raises(InputError, match=match):
            require_file(path)
        with pytest.raises(InputError, match=match):
            file_digests(path)


# --- role confusion: a blob signature that is also a DSSE signature ---------------------------


def _pae(payload_type: bytes, body: bytes) -> bytes:
    return b"DSSEv1 %d %b %d %b" % (len(payload_type), payload_type, len(body), body)


@pytest.mark.parametrize(
    "content",
    [
        _pae(b"application/vnd.in-toto+json", b'{"_type": "https://in-toto.io/Statement/v1"}'),
        _pae(b"", b""),
        _pae(b"x", b"DSSEv1 1 y 0 "),
        _pae(b"t y p e", b" 1 2 3 \n"),
        b"DSSEv1 01 x 003 abc",  # non-canonical lengths: refused all the same
    ],
)
def test_pae_payload_type_recognises_exact_encodings(tmp_path: Path, content: bytes) -> None:
    from chainguard.trust.blob import pae_payload_type

    path = tmp_path / "blob"
    path.write_bytes(content)
    assert pae_payload_type(path) is not None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"DSSEv1",
        b"DSSEv1 ",
        b"dssev1 1 x 1 y",
        _pae(b"x", b"body") + b"!",  # one byte more than the body length says
        _pae(b"x", b"body")[:-1],
        b"DSSEv1 99 x 1 y",  # type length past the end
        b"DSSEv1 1 xx1 y",
        b"DSSEv1 -1 x 1 y",
        b"DSSEv1 1 x y y",
        b"DSSEv1 " + b"9" * 21 + b" x",
        DATA,
    ],
)
def test_pae_payload_type_refuses_near_misses(tmp_path: Path, content: bytes) -> None:
    from chainguard.trust.blob import pae_payload_type

    path = tmp_path / "blob"
    path.write_bytes(content)
    assert pae_payload_type(path) is None


def test_message_signature_over_a_pae_is_role_confusion(tmp_path: Path) -> None:
    """A release key made to sign-blob a PAE has signed an SBOM statement: refused."""
    from chainguard.trust import dsse

    key = ec.generate_private_key(ec.SECP256R1())
    statement = build_statement(
        [Subject("deployment:evil", (("sha256", "ab" * 32),))], "https://cyclonedx.org/bom", {}
    )
    pae = dsse.pae(PAYLOAD_TYPE_IN_TOTO, statement)
    blob = tmp_path / "innocent.bin"
    blob.write_bytes(pae)
    with pytest.raises(VerificationFailure) as info:
        verify_key_artifact(blob, key_message_bundle(key, pae), "b", [trusted(key)])
    assert info.value.rule == "signature-role-confusion"
    assert "'application/vnd.in-toto+json'" in str(info.value)
    assert_one_line(info.value)


def test_a_published_dsse_signature_is_not_a_blob_signature(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    """The reverse direction: the signature of a signed SBOM, put in a message-signature bundle
    over the PAE bytes, verifies cryptographically; the PAE content is what refuses it."""
    import json

    from chainguard.trust import dsse

    key = make_key("ecdsa-p256")
    envelope = dsse.sign(build_statement([SUBJECT], "https://cyclonedx.org/bom", {}),
                         PAYLOAD_TYPE_IN_TOTO, key)  # fmt: skip
    pae = dsse.pae(envelope.payload_type, envelope.payload)
    doc = json.loads(key_message_bundle(ec.generate_private_key(ec.SECP256R1()), pae))
    doc["verificationMaterial"]["publicKey"]["hint"] = key.fingerprint
    doc["messageSignature"]["signature"] = base64.b64encode(envelope.signatures[0][1]).decode()
    blob = tmp_path / "statement.pae"
    blob.write_bytes(pae)
    bundle = json.dumps(doc).encode()
    signed = verify_key_message_signature(read_bundle(bundle, "b"), [key.trusted_key], source="b")
    assert signed.digest == hashlib.sha256(pae).digest()  # the crypto alone would accept it
    with pytest.raises(VerificationFailure) as info:
        verify_key_artifact(blob, bundle, "b", [key.trusted_key])
    assert info.value.rule == "signature-role-confusion"

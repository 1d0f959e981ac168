from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from trust_helpers import (
    PREDICATE_TYPE,
    SUBJECT,
    assert_one_line,
    edit_bundle,
    flip_payload_byte,
    signed_bundle,
    statement_payload,
)

from chainguard.errors import BundleError, UsageError, VerificationFailure
from chainguard.models import Signer
from chainguard.trust import dsse
from chainguard.trust.bundle import (
    MAX_SIGNATURES,
    MEDIA_TYPE_V01,
    MEDIA_TYPE_V02,
    MEDIA_TYPE_V03,
    key_bundle_json,
    read_bundle,
    verify_key_bundle,
)
from chainguard.trust.keys import SigningKey

B64_CERT = base64.b64encode(b"0\x82not-really-der").decode()


# --- writing --------------------------------------------------------------------------------


def test_key_bundle_layout(signing_key: SigningKey) -> None:
    data = signed_bundle(signing_key)

    assert data.endswith(b"}\n")
    doc = json.loads(data)
    fp = signing_key.fingerprint
    assert list(doc) == ["mediaType", "verificationMaterial", "dsseEnvelope"]
    assert doc["mediaType"] == MEDIA_TYPE_V03
    assert doc["verificationMaterial"] == {"publicKey": {"hint": fp}}
    env = doc["dsseEnvelope"]
    assert base64.b64decode(env["payload"]) == statement_payload()
    assert env["payloadType"] == "application/vnd.in-toto+json"
    assert [s["keyid"] for s in env["signatures"]] == [fp]


def test_read_round_trip(signing_key: SigningKey) -> None:
    envelope = dsse.sign(statement_payload(), "application/vnd.in-toto+json", signing_key)
    bundle = read_bundle(key_bundle_json(envelope, signing_key.trusted_key), "b.sig")

    assert bundle.media_type == MEDIA_TYPE_V03
    assert bundle.material_kind == "publicKey"
    assert bundle.public_key_hint == signing_key.fingerprint
    assert bundle.public_key_raw is None
    assert bundle.certificates == ()
    assert bundle.envelope == envelope
    assert bundle.message_signature is None
    assert bundle.raw["mediaType"] == MEDIA_TYPE_V03


# --- verification ---------------------------------------------------------------------------


def test_verify_returns_the_signed_statement(signing_key: SigningKey) -> None:
    bundle = read_bundle(signed_bundle(signing_key), "b.sig")
    verified = verify_key_bundle(bundle, [signing_key.trusted_key], source="b.sig")

    assert verified.predicate_type == PREDICATE_TYPE
    assert verified.subjects == (SUBJECT,)
    assert verified.payload == statement_payload()
    assert verified.signers == (
        Signer(kind="key", identity=signing_key.fingerprint, key_algorithm=signing_key.algorithm),
    )


def test_verify_finds_the_signer_among_several(make_key: Callable[..., SigningKey]) -> None:
    a, b, signer = make_key(), make_key("ed25519"), make_key()
    bundle = read_bundle(signed_bundle(signer), "b.sig")
    trusted = [a.trusted_key, b.trusted_key, signer.trusted_key]
    verified = verify_key_bundle(bundle, trusted, source="b.sig")
    assert [s.identity for s in verified.signers] == [signer.fingerprint]


def test_untrusted_signer(make_key: Callable[..., SigningKey]) -> None:
    signer, trusted = make_key(), make_key()
    bundle = read_bundle(signed_bundle(signer), "b.sig")

    with pytest.raises(VerificationFailure) as info:
        verify_key_bundle(bundle, [trusted.trusted_key], source="b.sig")

    failure = info.value
    assert failure.rule == "signature-untrusted"
    assert_one_line(failure)
    assert signer.fingerprint[:16] in str(failure)
    assert "not among the 1 trusted key(s)" in str(failure)
    assert failure.actual == signer.fingerprint
    assert failure.expected == trusted.fingerprint


def test_tampered_payload_is_invalid(signing_key: SigningKey) -> None:
    bundle = read_bundle(flip_payload_byte(signed_bundle(signing_key)), "b.sig")

    with pytest.raises(VerificationFailure) as info:
        verify_key_bundle(bundle, [signing_key.trusted_key], source="b.sig")

    assert info.value.rule == "signature-invalid"
    assert_one_line(info.value)
    assert f"with key {signing_key.fingerprint[:16]}" in str(info.value)
    assert str(info.value).startswith("b.sig: ")


def test_tampered_signature_is_invalid(signing_key: SigningKey) -> None:
    def edit(doc: dict[str, object]) -> None:
        sig_entry = doc["dsseEnvelope"]["signatures"][0]  # type: ignore[index]
        sig = bytearray(base64.b64decode(sig_entry["sig"]))
        sig[-1] ^= 0x01
        sig_entry["sig"] = base64.b64encode(bytes(sig)).decode()

    bundle = read_bundle(edit_bundle(signed_bundle(signing_key), edit), "b.sig")
    with pytest.raises(VerificationFailure) as info:
        verify_key_bundle(bundle, [signing_key.trusted_key], source="b.sig")
    assert info.value.rule == "signature-invalid"


def test_tampered_without_hint_is_invalid(make_key: Callable[..., SigningKey]) -> None:
    signer, other = make_key(), make_key()

    def drop_hints(doc: dict[str, object]) -> None:
        doc["verificationMaterial"] = {"publicKey": {}}
        doc["dsseEnvelope"]["signatures"][0].pop("keyid")  # type: ignore[index]

    data = flip_payload_byte(edit_bundle(signed_bundle(signer), drop_hints))
    bundle = read_bundle(data, "b.sig")
    with pytest.raises(VerificationFailure) as info:
        verify_key_bundle(bundle, [signer.trusted_key], source="b.sig")
    assert info.value.rule == "signature-invalid"
    with pytest.raises(VerificationFailure, match="any of the 2 trusted keys") as info:
        verify_key_bundle(bundle, [signer.trusted_key, other.trusted_key], source="b.sig")
    assert info.value.rule == "signature-invalid"


def test_hint_never_grants_trust(make_key: Callable[..., SigningKey]) -> None:
    signer, trusted = make_key(), make_key()

    def claim_trusted(doc: dict[str, object]) -> None:
        doc["verificationMaterial"] = {"publicKey": {"hint": trusted.fingerprint}}
        doc["dsseEnvelope"]["signatures"][0]["keyid"] = trusted.fingerprint  # type: ignore[index]

    bundle = read_bundle(edit_bundle(signed_bundle(signer), claim_trusted), "b.sig")
    with pytest.raises(VerificationFailure):
        verify_key_bundle(bundle, [trusted.trusted_key], source="b.sig")


def test_wrong_hint_does_not_block_a_valid_signature(make_key: Callable[..., SigningKey]) -> None:
    signer = make_key()

    def claim_other(doc: dict[str, object]) -> None:
        doc["verificationMaterial"] = {"publicKey": {"hint": "0" * 64}}

    bundle = read_bundle(edit_bundle(signed_bundle(signer), claim_other), "b.sig")
    verified = verify_key_bundle(bundle, [signer.trusted_key], source="b.sig")
    assert verified.signers[0].identity == signer.fingerprint


def test_hostile_hint_keeps_the_message_on_one_line(make_key: Callable[..., SigningKey]) -> None:
    signer, trusted = make_key(), make_key()

    def evil_hint(doc: dict[str, object]) -> None:
        doc["verificationMaterial"] = {"publicKey": {"hint": "a\nb\rc" * 1000}}

    bundle = read_bundle(edit_bundle(signed_bundle(signer), evil_hint), "b.sig")
    with pytest.raises(VerificationFailure) as info:
        verify_key_bundle(bundle, [trusted.trusted_key], source="b.sig")
    assert info.value.rule == "signature-untrusted"
    assert_one_line(info.value)
    assert len(str(info.value)) < 200


def test_certificate_bundle_with_keys_is_untrusted(signing_key: SigningKey) -> None:
    def to_certificate(doc: dict[str, object]) -> None:
        doc["verificationMaterial"] = {"certificate": {"rawBytes": B64_CERT}}

    bundle = read_bundle(edit_bundle(signed_bundle(signing_key), to_certificate), "b.sig")
    assert bundle.material_kind == "certificate"
    with pytest.raises(VerificationFailure) as info:
        verify_key_bundle(bundle, [signing_key.trusted_key], source="b.sig")
    assert info.value.rule == "signature-untrusted"
    assert_one_line(info.value)


def test_message_signature_bundle_cannot_be_key_verified(signing_key: SigningKey) -> None:
    def to_message(doc: dict[str, object]) -> None:
        del doc["dsseEnvelope"]
        doc["messageSignature"] = {
            "messageDigest": {
                "algorithm": "SHA2_256",
                "digest": base64.b64encode(b"d" * 32).decode(),
            },
            "signature": base64.b64encode(b"sig").decode(),
        }

    bundle = read_bundle(edit_bundle(signed_bundle(signing_key), to_message), "b.sig")
    assert bundle.message_signature == ("SHA2_256", b"d" * 32, b"sig")
    with pytest.raises(BundleError) as info:
        verify_key_bundle(bundle, [signing_key.trusted_key], source="b.sig")
    assert_one_line(info.value)


def test_other_payload_type_is_refused(signing_key: SigningKey) -> None:
    envelope = dsse.sign(statement_payload(), "text/plain", signing_key)
    bundle = read_bundle(key_bundle_json(envelope, signing_key.trusted_key), "b.sig")
    with pytest.raises(BundleError, match="payloadType"):
        verify_key_bundle(bundle, [signing_key.trusted_key], source="b.sig")


def test_validly_signed_garbage_is_a_bundle_error(signing_key: SigningKey) -> None:
    bundle = read_bundle(signed_bundle(signing_key, payload=b"[1, 2, 3]"), "b.sig")
    with pytest.raises(BundleError) as info:
        verify_key_bundle(bundle, [signing_key.trusted_key], source="b.sig")
    assert_one_line(info.value)


def test_no_trusted_keys_is_a_usage_error(signing_key: SigningKey) -> None:
    bundle = read_bundle(signed_bundle(signing_key), "b.sig")
    with pytest.raises(UsageError):
        verify_key_bundle(bundle, [], source="b.sig")


# --- reading: accepted variants -----------------------------------------------------------


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_V02, MEDIA_TYPE_V01])
def test_older_media_types_are_read(signing_key: SigningKey, media_type: str) -> None:
    def set_media(doc: dict[str, object]) -> None:
        doc["mediaType"] = media_type

    bundle = read_bundle(edit_bundle(signed_bundle(signing_key), set_media), "b.sig")
    assert bundle.media_type == media_type
    verify_key_bundle(bundle, [signing_key.trusted_key], source="b.sig")


def test_url_safe_unpadded_base64_is_read(signing_key: SigningKey) -> None:
    def urlsafe(doc: dict[str, object]) -> None:
        env = doc["dsseEnvelope"]
        assert isinstance(env, dict)
        raw = base64.b64decode(env["payload"])
        env["payload"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")

    bundle = read_bundle(edit_bundle(signed_bundle(signing_key), urlsafe), "b.sig")
    assert bundle.envelope is not None
    assert bundle.envelope.payload == statement_payload()


def test_certificate_chain_is_read(signing_key: SigningKey) -> None:
    def chain(doc: dict[str, object]) -> None:
        doc["verificationMaterial"] = {
            "x509CertificateChain": {"certificates": [{"rawBytes": B64_CERT}, {"rawBytes": "AQID"}]}
        }

    bundle = read_bundle(edit_bundle(signed_bundle(signing_key), chain), "b.sig")
    assert bundle.material_kind == "x509CertificateChain"
    assert bundle.certificates == (base64.b64decode(B64_CERT), b"\x01\x02\x03")


# --- reading: malformed ---------------------------------------------------------------------


def _bundle(**top: object) -> bytes:
    doc: dict[str, object] = {
        "mediaType": MEDIA_TYPE_V03,
        "verificationMaterial": {"publicKey": {"hint": "ab"}},
        "dsseEnvelope": {
            "payload": base64.b64encode(statement_payload()).decode(),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": "AAAA", "keyid": "ab"}],
        },
    }
    for key, value in top.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return json.dumps(doc).encode()


def _env(**fields: object) -> dict[str, object]:
    env: dict[str, object] = json.loads(_bundle())["dsseEnvelope"]
    for key, value in fields.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    return env


def _invalid_bundles() -> list[tuple[str, bytes]]:
    good = _bundle()
    message = {"messageDigest": {"algorithm": "SHA2_256", "digest": "AAAA"}, "signature": "AAAA"}
    return [
        ("empty", b""),
        ("garbage", b"\x00\xffgarbage"),
        ("truncated", good[: len(good) // 2]),
        ("array", b"[]"),
        ("no mediaType", _bundle(mediaType=None)),
        ("mediaType int", _bundle(mediaType=3)),
        ("unknown mediaType", _bundle(mediaType="application/vnd.dev.sigstore.bundle.v0.9+json")),
        ("no verificationMaterial", _bundle(verificationMaterial=None)),
        ("verificationMaterial list", _bundle(verificationMaterial=[])),
        ("no material", _bundle(verificationMaterial={"tlogEntries": []})),
        (
            "two materials",
            _bundle(
                verificationMaterial={
                    "publicKey": {"hint": "ab"},
                    "certificate": {"rawBytes": B64_CERT},
                }
            ),
        ),
        ("publicKey not object", _bundle(verificationMaterial={"publicKey": "ab"})),
        ("hint int", _bundle(verificationMaterial={"publicKey": {"hint": 1}})),
        ("rawBytes bad", _bundle(verificationMaterial={"publicKey": {"rawBytes": "!!"}})),
        ("certificate bad b64", _bundle(verificationMaterial={"certificate": {"rawBytes": "A"}})),
        ("certificate empty", _bundle(verificationMaterial={"certificate": {"rawBytes": ""}})),
        ("certificate missing", _bundle(verificationMaterial={"certificate": {}})),
        (
            "chain empty",
            _bundle(verificationMaterial={"x509CertificateChain": {"certificates": []}}),
        ),
        ("chain not list", _bundle(verificationMaterial={"x509CertificateChain": {}})),
        ("neither content", _bundle(dsseEnvelope=None)),
        ("both contents", _bundle(messageSignature=message)),
        ("envelope list", _bundle(dsseEnvelope=[])),
        ("payload missing", _bundle(dsseEnvelope=_env(payload=None))),
        ("payload int", _bundle(dsseEnvelope=_env(payload=7))),
        ("payload bad b64", _bundle(dsseEnvelope=_env(payload="e30=!"))),
        ("payload one char", _bundle(dsseEnvelope=_env(payload="e"))),
        ("payload mixed alphabets", _bundle(dsseEnvelope=_env(payload="ab+-"))),
        ("payload newline", _bundle(dsseEnvelope=_env(payload="e30=\n"))),
        ("payloadType missing", _bundle(dsseEnvelope=_env(payloadType=None))),
        ("payloadType empty", _bundle(dsseEnvelope=_env(payloadType=""))),
        ("signatures missing", _bundle(dsseEnvelope=_env(signatures=None))),
        ("signatures empty", _bundle(dsseEnvelope=_env(signatures=[]))),
        ("signatures object", _bundle(dsseEnvelope=_env(signatures={"sig": "AAAA"}))),
        ("signature str", _bundle(dsseEnvelope=_env(signatures=["AAAA"]))),
        ("sig missing", _bundle(dsseEnvelope=_env(signatures=[{"keyid": "ab"}]))),
        ("sig empty", _bundle(dsseEnvelope=_env(signatures=[{"sig": ""}]))),
        ("sig bad b64", _bundle(dsseEnvelope=_env(signatures=[{"sig": "*/*"}]))),
        ("keyid int", _bundle(dsseEnvelope=_env(signatures=[{"sig": "AAAA", "keyid": 1}]))),
        (
            "too many signatures",
            _bundle(dsseEnvelope=_env(signatures=[{"sig": "AAAA"}] * (MAX_SIGNATURES + 1))),
        ),
        ("message no digest", _bundle(dsseEnvelope=None, messageSignature={"signature": "AAAA"})),
        (
            "message bad signature",
            _bundle(dsseEnvelope=None, messageSignature={**message, "signature": "A"}),
        ),
        (
            "duplicate top-level key",
            good[:-1] + b', "mediaType": "' + MEDIA_TYPE_V03.encode() + b'"}',
        ),
        (
            "duplicate dsseEnvelope",
            good[:-1] + b', "dsseEnvelope": ' + json.dumps(_env()).encode() + b"}",
        ),
        ("duplicate payload", good.replace(b'"payload": ', b'"payload": "e30=", "payload": ', 1)),
        ("duplicate sig", good.replace(b'"sig": ', b'"sig": "AAAA", "sig": ', 1)),
    ]


@pytest.mark.parametrize(
    ("case", "data"), _invalid_bundles(), ids=[c for c, _ in _invalid_bundles()]
)
def test_malformed_bundles(case: str, data: bytes) -> None:
    with pytest.raises(BundleError) as info:
        read_bundle(data, "model.sig")
    assert_one_line(info.value)
    assert str(info.value).startswith("model.sig: ")


def test_the_well_formed_base_case_reads() -> None:
    # guards the table above: each case fails for its own reason, not a broken base
    bundle = read_bundle(_bundle(), "model.sig")
    assert bundle.envelope is not None
    assert bundle.envelope.signatures == (("ab", b"\x00\x00\x00"),)

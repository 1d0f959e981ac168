"""Attacks on the two-pass verification of large key bundles (trust/stream.py): nothing is
parsed before the signature verifies, and a bundle swapped between the passes (even for one
that is validly signed too) is refused rather than read half from each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainguard.errors import BundleError, VerificationFailure
from chainguard.models import Subject
from chainguard.trust import dsse, stream
from chainguard.trust.bundle import key_bundle_json
from chainguard.trust.keys import SigningKey, generate_keypair, load_private_key
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, build_statement

SUBJECT = Subject(name="deployment:svc", digest=(("sha256", "ab" * 32),))


@pytest.fixture(autouse=True)
def _stream_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    # stream every bundle, in small pieces, through a small window: the second pass is still
    # reading the file when the parser first asks for a run (when the swap below happens)
    from chainguard import _strictjson as _json

    monkeypatch.setattr(stream, "STREAM_FROM", 0)
    monkeypatch.setattr(stream, "_PIECE", 4096)
    monkeypatch.setattr(_json, "LOOKAHEAD", 2048)
    monkeypatch.setattr(_json, "_REFILL", 1024)


def key(tmp_path: Path, name: str) -> SigningKey:
    private, _ = generate_keypair(tmp_path / name, "ecdsa-p256")
    return load_private_key(private, None)


def statement(files: int, tag: str) -> bytes:
    elements = [
        {
            "bom-ref": f"dataset:d/f{i:05d}",
            "hashes": [{"alg": "SHA-256", "content": f"{i:064x}"}],
            "name": f"f{i:05d}",
            "properties": [{"name": "chainguard:size", "value": "1"}],
            "type": "file",
        }
        for i in range(files)
    ]
    # the tag last: two releases differ after the files, where the second pass reads late
    predicate = {"components": [{"bom-ref": "dataset:d", "components": elements}], "tag": tag}
    return build_statement([SUBJECT], "https://cyclonedx.org/bom", predicate)


def bundle(signer: SigningKey, payload: bytes) -> bytes:
    envelope = dsse.sign(payload, PAYLOAD_TYPE_IN_TOTO, signer)
    return key_bundle_json(envelope, signer.trusted_key)


def test_an_unverified_payload_is_never_parsed(tmp_path: Path) -> None:
    # Malformed JSON inside: if anything parsed it before the signature check, the error would
    # be about the statement. With an untrusted signer it must be about the signer alone.
    signer, trusted = key(tmp_path, "attacker"), key(tmp_path, "release")
    hostile = statement(50, "x")[:-1] + b',"extra":[[[[' + b"[" * 5000
    path = tmp_path / "b.sig"
    path.write_bytes(bundle(signer, hostile))
    with pytest.raises(VerificationFailure) as failure:
        stream.verify_key_bundle_streamed(path, [trusted.trusted_key], source="b.sig")
    assert failure.value.rule == "signature-untrusted"
    # signed by the trusted key, the same payload is parsed, and refused as malformed
    path.write_bytes(bundle(trusted, hostile))
    with pytest.raises(BundleError, match="statement"):
        stream.verify_key_bundle_streamed(path, [trusted.trusted_key], source="b.sig")


def test_a_validly_signed_bundle_swapped_in_between_the_passes_is_refused(tmp_path: Path) -> None:
    # Pass 1 verifies release A; before pass 2 reads it, the file becomes release B, signed by
    # the same key. Reading B's statement under A's verification would mix two releases.
    signer = key(tmp_path, "release")
    first = bundle(signer, statement(3000, "A"))
    # An ECDSA signature's DER length varies (70-72 bytes): sign again until both bundles are
    # the same size, as a swap that keeps the size would be (bounded: nearly always 1-3 tries).
    for _ in range(64):
        second = bundle(signer, statement(3000, "B"))
        if len(second) == len(first):
            break
    assert len(first) == len(second)
    path = tmp_path / "b.sig"
    path.write_bytes(first)
    swapped = False

    def expect(ref: str, path_: str) -> None:  # asked for during the second pass only
        nonlocal swapped
        if not swapped:
            path.write_bytes(second)
            swapped = True

    with pytest.raises(BundleError, match="changed while being read"):
        stream.verify_key_bundle_streamed(
            path,
            [signer.trusted_key],
            source="b.sig",
            expect=expect,  # type: ignore[arg-type]
        )
    assert swapped
    # unswapped, each verifies and reads as itself
    for data, tag in ((first, "A"), (second, "B")):
        path.write_bytes(data)
        verified = stream.verify_key_bundle_streamed(path, [signer.trusted_key], source="b.sig")
        assert verified is not None
        assert verified.parsed.predicate["tag"] == tag  # type: ignore[attr-defined]


def test_a_signature_over_another_payload_type_is_left_to_the_whole_read(tmp_path: Path) -> None:
    signer = key(tmp_path, "release")
    envelope = dsse.sign(statement(10, "A"), "application/json", signer)
    path = tmp_path / "b.sig"
    path.write_bytes(key_bundle_json(envelope, signer.trusted_key))
    assert stream.verify_key_bundle_streamed(path, [signer.trusted_key], source="b.sig") is None
    json.loads(path.read_bytes())  # still a well-formed bundle: the whole read words the error

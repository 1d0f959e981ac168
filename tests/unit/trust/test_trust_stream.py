"""Large key bundles verified in two passes, never held whole (trust/stream.py): the same
statement, signers and errors as reading them whole, and a file that changes between the two
passes is refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from trust_helpers import PREDICATE_TYPE, SUBJECT, signed_bundle

from chainguard.errors import BundleError, VerificationFailure
from chainguard.sbom.packed import PackedFiles
from chainguard.trust import stream
from chainguard.trust.bundle import read_bundle, verify_key_bundle
from chainguard.trust.keys import SigningKey
from chainguard.trust.statement import build_statement, parse_statement

SHA = "0" * 64


def dataset_payload(files: int = 300) -> bytes:
    """A statement whose predicate lists a dataset's files (a packed array)."""
    elements = [
        {
            "bom-ref": f"dataset:d/f{i:04d}",
            "hashes": [{"alg": "SHA-256", "content": SHA}],
            "name": f"f{i:04d}",
            "properties": [{"name": "chainguard:size", "value": str(i)}],
            "type": "file",
        }
        for i in range(files)
    ]
    predicate = {
        "bomFormat": "CycloneDX",
        "components": [{"bom-ref": "dataset:d", "components": elements, "name": "d"}],
        "notes": "é" * 100,  # not ASCII: the text windows hold multi-byte characters
    }
    return build_statement([SUBJECT], PREDICATE_TYPE, predicate)


@pytest.fixture(autouse=True)
def _small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    # stream everything, in small pieces, through small moving windows
    from chainguard import _strictjson as _json

    monkeypatch.setattr(stream, "STREAM_FROM", 0)
    monkeypatch.setattr(stream, "_PIECE", 4096)
    monkeypatch.setattr(_json, "LOOKAHEAD", 2048)
    monkeypatch.setattr(_json, "_REFILL", 1024)


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "sbom.cdx.json.sig"
    path.write_bytes(data)
    return path


def whole(data: bytes, key: SigningKey) -> object:
    try:
        v = verify_key_bundle(read_bundle(data, "b.sig"), [key.trusted_key], source="b.sig")
    except (BundleError, VerificationFailure) as e:
        return (type(e).__name__, getattr(e, "rule", None), str(e))
    statement = parse_statement(v.payload, "b.sig")
    return (v.predicate_type, v.subjects, v.signers, _plain(statement.predicate))


def streamed(path: Path, key: SigningKey) -> object:
    try:
        v = stream.verify_key_bundle_streamed(path, [key.trusted_key], source="b.sig")
    except (BundleError, VerificationFailure) as e:
        return (type(e).__name__, getattr(e, "rule", None), str(e))
    assert v is not None and v.payload == b""
    return (v.predicate_type, v.subjects, v.signers, _plain(v.parsed.predicate))  # type: ignore[attr-defined]


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, PackedFiles):
        return (value.lines, value.other, value.other_index, value.total_size)
    return value


@pytest.mark.parametrize("files", [0, 1, 300])
def test_streamed_verify_reads_what_the_whole_read_reads(
    tmp_path: Path, make_key: Callable[..., SigningKey], files: int
) -> None:
    key = make_key("ecdsa-p256")
    data = signed_bundle(key, dataset_payload(files))
    assert streamed(write(tmp_path, data), key) == whole(data, key)


def test_p384_keys_verify_their_sha384_digest(tmp_path: Path) -> None:
    # a P-384 key (made by another tool here) signs SHA-384 digests
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from chainguard.trust import dsse
    from chainguard.trust.bundle import key_bundle_json
    from chainguard.trust.keys import public_key_from_pem
    from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO

    private = ec.generate_private_key(ec.SECP384R1())
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    trusted = public_key_from_pem(pem, "p384.pub")
    payload = dataset_payload()
    signature = private.sign(dsse.pae(PAYLOAD_TYPE_IN_TOTO, payload), ec.ECDSA(hashes.SHA384()))
    envelope = dsse.Envelope(PAYLOAD_TYPE_IN_TOTO, payload, ((trusted.fingerprint, signature),))
    path = write(tmp_path, key_bundle_json(envelope, trusted))
    v = stream.verify_key_bundle_streamed(path, [trusted], source="b.sig")
    assert v is not None and [s.identity for s in v.signers] == [trusted.fingerprint]
    expected = parse_statement(payload, "b.sig")
    assert _plain(v.parsed.predicate) == _plain(expected.predicate)  # type: ignore[attr-defined]


def test_ed25519_keys_need_the_whole_payload(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    key = make_key("ed25519")
    path = write(tmp_path, signed_bundle(key, dataset_payload()))
    assert stream.verify_key_bundle_streamed(path, [key.trusted_key], source="b.sig") is None


def test_other_signers_and_altered_payloads_fail_as_when_read_whole(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    key, other = make_key("ecdsa-p256"), make_key("ecdsa-p256")
    data = signed_bundle(key, dataset_payload())
    untrusted = streamed(write(tmp_path, data), other)
    assert untrusted == whole(data, other)
    assert untrusted[1] == "signature-untrusted"  # type: ignore[index]
    doc = json.loads(data)
    payload = bytearray(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    payload[-20] ^= 0x01
    doc["dsseEnvelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    altered = json.dumps(doc, indent=2).encode()
    result = streamed(write(tmp_path, altered), key)
    assert result == whole(altered, key)
    assert result[1] == "signature-invalid"  # type: ignore[index]


def test_a_malformed_signed_statement_fails_with_the_same_message(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    key = make_key("ecdsa-p256")
    bad = dataset_payload().replace(b'"type":"file"}]', b'"type":"file"},]', 1)
    data = signed_bundle(key, bad)
    result = streamed(write(tmp_path, data), key)
    assert result == whole(data, key)
    assert result[0] == "BundleError"  # type: ignore[index]


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.replace(b"/", b"\\/", 3),  # escapes: valid JSON, left to the whole read
        lambda d: d.replace(b'"payload": "', b'"payload": "*', 1),  # not base64
        lambda d: d.replace(b'=",', b'",', 1),  # unpadded (protobuf JSON allows it)
    ],
)
def test_unusual_bundles_are_read_whole_instead(
    tmp_path: Path, make_key: Callable[..., SigningKey], edit: Callable[[bytes], bytes]
) -> None:
    key = make_key("ecdsa-p256")
    data = edit(signed_bundle(key, dataset_payload(301)))
    path = write(tmp_path, data)
    try:
        result = stream.verify_key_bundle_streamed(path, [key.trusted_key], source="b.sig")
    except (BundleError, VerificationFailure):
        result = None
    if result is not None:  # streamed after all (unpadded base64): then it must read the same
        assert streamed(path, key) == whole(data, key)


def test_a_bundle_changed_between_the_two_passes_is_refused(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    key = make_key("ecdsa-p256")
    data = signed_bundle(key, dataset_payload(2000))
    path = write(tmp_path, data)
    end = data.index(b'"', data.index(b'"payload": "') + 12)
    tampered = data[: end - 100] + (b"A" if data[end - 100 : end - 99] != b"A" else b"B")
    tampered += data[end - 99 :]

    def expect(ref: str, first: str) -> None:
        # asked for while the second pass reads the file list: swap the file's tail under it
        path.write_bytes(tampered)
        return None

    with pytest.raises(BundleError, match="changed while being read"):
        stream.verify_key_bundle_streamed(
            path,
            [key.trusted_key],
            source="b.sig",
            expect=expect,  # type: ignore[arg-type]
        )

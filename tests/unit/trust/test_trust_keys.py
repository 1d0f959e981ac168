from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from trust_helpers import assert_one_line

from chainguard.errors import KeyFileError, OutputError, UsageError
from chainguard.trust.keys import (
    fingerprint,
    generate_keypair,
    load_private_key,
    load_public_key,
    public_key_from_pem,
)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _write_private(path: Path, key: object, password: bytes | None = None) -> Path:
    assert isinstance(
        key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


def _write_public(path: Path, key: object) -> Path:
    assert isinstance(
        key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    )
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


# --- generate_keypair -------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ed25519"])
def test_generate_keypair_round_trip(tmp_path: Path, algorithm: str, umask_022: None) -> None:
    key_path, pub_path = generate_keypair(tmp_path / "signer", algorithm)  # type: ignore[arg-type]

    assert key_path == tmp_path / "signer.key"
    assert pub_path == tmp_path / "signer.pub"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pub_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")

    signing = load_private_key(key_path, None)
    trusted = load_public_key(pub_path)
    assert signing.algorithm == algorithm == trusted.algorithm
    assert signing.fingerprint == trusted.fingerprint == fingerprint(trusted.public_key)
    assert signing.trusted_key.fingerprint == trusted.fingerprint
    assert trusted.source == str(pub_path)


def test_prefix_with_dots_keeps_its_name(tmp_path: Path) -> None:
    key_path, pub_path = generate_keypair(tmp_path / "release.2024")
    assert key_path.name == "release.2024.key"
    assert pub_path.name == "release.2024.pub"


@pytest.mark.parametrize("existing", [".key", ".pub"])
def test_generate_keypair_refuses_to_overwrite(tmp_path: Path, existing: str) -> None:
    (tmp_path / f"signer{existing}").write_text("precious")

    with pytest.raises(OutputError) as info:
        generate_keypair(tmp_path / "signer")

    assert_one_line(info.value)
    assert f"signer{existing}" in str(info.value)
    # nothing written, nothing clobbered
    assert (tmp_path / f"signer{existing}").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"signer{existing}"]


def test_generate_keypair_refuses_a_dangling_symlink(tmp_path: Path) -> None:
    (tmp_path / "signer.key").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError):
        generate_keypair(tmp_path / "signer")
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ed25519"])
def test_encrypted_key_round_trip(tmp_path: Path, algorithm: str) -> None:
    key_path, pub_path = generate_keypair(tmp_path / "k", algorithm, password=b"hunter2")  # type: ignore[arg-type]

    assert key_path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    signing = load_private_key(key_path, b"hunter2")
    assert signing.fingerprint == load_public_key(pub_path).fingerprint


def test_encrypted_key_without_password_names_the_variable(tmp_path: Path) -> None:
    key_path, _ = generate_keypair(tmp_path / "k", password=b"hunter2")
    with pytest.raises(KeyFileError, match="CHAINGUARD_KEY_PASSWORD") as info:
        load_private_key(key_path, None)
    assert_one_line(info.value)


def test_encrypted_key_wrong_password(tmp_path: Path) -> None:
    key_path, _ = generate_keypair(tmp_path / "k", password=b"hunter2")
    with pytest.raises(KeyFileError, match="wrong password") as info:
        load_private_key(key_path, b"hunter3")
    assert_one_line(info.value)


def test_password_for_unencrypted_key_is_refused(tmp_path: Path) -> None:
    key_path, _ = generate_keypair(tmp_path / "k")
    with pytest.raises(KeyFileError, match="not encrypted") as info:
        load_private_key(key_path, b"hunter2")
    assert_one_line(info.value)


def test_empty_password_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        generate_keypair(tmp_path / "k", password=b"")
    assert list(tmp_path.iterdir()) == []


# --- load_private_key errors ----------------------------------------------------------------


def test_private_key_missing(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="no such key file") as info:
        load_private_key(tmp_path / "absent.key", None)
    assert_one_line(info.value)


def test_private_key_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError) as info:
        load_private_key(tmp_path, None)
    assert_one_line(info.value)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a key at all\n",
        b"\x00\x01\x02\xff" * 20,
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ],
)
def test_private_key_malformed(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(KeyFileError) as info:
        load_private_key(path, None)
    assert_one_line(info.value)
    assert str(path) in str(info.value)


def test_private_key_given_a_public_key(tmp_path: Path) -> None:
    _, pub_path = generate_keypair(tmp_path / "k")
    with pytest.raises(KeyFileError, match="public key") as info:
        load_private_key(pub_path, None)
    assert_one_line(info.value)


@pytest.mark.parametrize(
    ("key", "named"),
    [
        (ec.generate_private_key(ec.SECP521R1()), "secp521r1"),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RSA"),
    ],
)
def test_private_key_unsupported_type_is_named(tmp_path: Path, key: object, named: str) -> None:
    path = _write_private(tmp_path / "other.key", key)
    with pytest.raises(KeyFileError, match=named) as info:
        load_private_key(path, None)
    assert_one_line(info.value)


# --- load_public_key ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("curve", "algorithm"),
    [(ec.SECP256R1(), "ecdsa-p256"), (ec.SECP384R1(), "ecdsa-p384")],
)
def test_public_key_ecdsa_curves(tmp_path: Path, curve: ec.EllipticCurve, algorithm: str) -> None:
    key = ec.generate_private_key(curve)
    trusted = load_public_key(_write_public(tmp_path / "k.pub", key))
    assert trusted.algorithm == algorithm
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert trusted.fingerprint == hashlib.sha256(der).hexdigest()


def test_public_key_given_a_private_key(tmp_path: Path) -> None:
    key_path, _ = generate_keypair(tmp_path / "k")
    with pytest.raises(KeyFileError, match=r"is a private key; pass the \.pub file") as info:
        load_public_key(key_path)
    assert_one_line(info.value)


@pytest.mark.parametrize(
    ("key", "named"),
    [
        (ec.generate_private_key(ec.SECP521R1()), "secp521r1"),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RSA-2048"),
    ],
)
def test_public_key_unsupported_type_is_named(tmp_path: Path, key: object, named: str) -> None:
    path = _write_public(tmp_path / "other.pub", key)
    with pytest.raises(KeyFileError, match=named) as info:
        load_public_key(path)
    assert_one_line(info.value)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ],
)
def test_public_key_malformed(content: bytes) -> None:
    with pytest.raises(KeyFileError) as info:
        public_key_from_pem(content, "given.pub")
    assert_one_line(info.value)
    assert str(info.value).startswith("given.pub: ")


def test_public_key_missing(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="no such key file"):
        load_public_key(tmp_path / "absent.pub")


def test_hint_matching(tmp_path: Path) -> None:
    _, pub_path = generate_keypair(tmp_path / "k")
    trusted = load_public_key(pub_path)
    assert trusted.matches_hint(trusted.fingerprint)
    assert trusted.matches_hint(trusted.fingerprint.upper())
    assert not trusted.matches_hint("0" * 64)
    assert not trusted.matches_hint("")


@pytest.mark.parametrize("prefix", ["..", "/"])
def test_prefix_must_name_a_file(tmp_path: Path, prefix: str) -> None:
    with pytest.raises(UsageError):
        generate_keypair(tmp_path / prefix)

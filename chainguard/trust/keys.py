"""Key generation, key loading and fingerprints.

chainguard signs with ECDSA P-256 or Ed25519. It verifies those plus ECDSA P-384, which the
OpenSSF model-signing tool uses for its elliptic-key signatures.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from chainguard.errors import KeyFileError, OutputError, UsageError, read_input

SigningAlgorithm = Literal["ecdsa-p256", "ecdsa-p384", "ed25519"]
KeyAlgorithm = Literal["ecdsa-p256", "ecdsa-p384", "ed25519"]
PublicKey: TypeAlias = "ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey"
PrivateKey: TypeAlias = "ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey"

PASSWORD_ENV = "CHAINGUARD_KEY_PASSWORD"  # noqa: S105 (a variable name, not a secret)


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key the user told us to trust (or a signing key's own public half)."""

    source: str  # where it came from, for messages
    public_key: PublicKey
    algorithm: KeyAlgorithm
    fingerprint: str  # sha256 hex of the DER SubjectPublicKeyInfo

    def matches_hint(self, hint: str) -> bool:
        """Whether a bundle's ``publicKey.hint`` names this key.

        chainguard writes the fingerprint; OpenSSF model-signing writes the SHA-256 of the PEM
        public key. A hint only steers error messages; trust is decided by the signature.
        """
        hint = hint.lower()
        return hint in (self.fingerprint, pem_hint(self.public_key))


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key chainguard can sign with."""

    source: str
    private_key: PrivateKey
    algorithm: SigningAlgorithm
    public_key: PublicKey
    fingerprint: str

    @property
    def trusted_key(self) -> TrustedKey:
        return TrustedKey(self.source, self.public_key, self.algorithm, self.fingerprint)


def fingerprint(public_key: PublicKey) -> str:
    """SHA-256 hex of the DER SubjectPublicKeyInfo; also the bundle ``publicKey.hint``."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def pem_hint(public_key: PublicKey) -> str:
    """SHA-256 hex of the PEM SubjectPublicKeyInfo: the hint OpenSSF model-signing writes."""
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(pem).hexdigest()


def _describe(key: object) -> str:
    """A short human name for a key type, for 'unsupported key type' messages."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519"
    size = getattr(key, "key_size", None)
    name = type(key).__name__.removeprefix("_")
    for suffix in ("PrivateKey", "PublicKey"):
        name = name.removesuffix(suffix)
    return f"{name}-{size}" if isinstance(size, int) else name


def _public_algorithm(key: PublicKey) -> KeyAlgorithm | None:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key.curve, ec.SECP256R1):
        return "ecdsa-p256"
    if isinstance(key.curve, ec.SECP384R1):
        return "ecdsa-p384"
    return None


def _read_key_file(path: Path) -> bytes:
    return read_input(path, "key file", KeyFileError)


def _create_exclusive(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start; never open an existing file or symlink."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except BaseException:
        path.unlink(missing_ok=True)  # ours (O_EXCL): a half-written key is worse than none
        raise


def generate_keypair(
    prefix: Path,
    algorithm: SigningAlgorithm = "ecdsa-p256",
    password: bytes | None = None,
) -> tuple[Path, Path]:
    """Write ``PREFIX.key`` (PKCS#8 PEM, mode 0600) and ``PREFIX.pub``; return both paths."""
    if not prefix.name or prefix.name in (".", ".."):
        raise UsageError(f"{prefix}: key prefix must end in a file name, e.g. keys/release")
    key_path = prefix.with_name(prefix.name + ".key")
    pub_path = prefix.with_name(prefix.name + ".pub")
    # Check both before writing either, so a refusal never leaves half a key pair behind.
    for path in (key_path, pub_path):
        if path.exists() or path.is_symlink():
            raise OutputError(f"{path}: already exists; refusing to overwrite a key file")
    if password is not None and not password:
        raise UsageError(f"{PASSWORD_ENV} is set but empty; unset it or give a real password")

    private_key: PrivateKey
    match algorithm:
        case "ecdsa-p256":
            private_key = ec.generate_private_key(ec.SECP256R1())
        case "ecdsa-p384":
            private_key = ec.generate_private_key(ec.SECP384R1())
        case "ed25519":
            private_key = ed25519.Ed25519PrivateKey.generate()
        case _:
            raise UsageError(
                f"unsupported signing algorithm {algorithm!r}; use ecdsa-p256, ecdsa-p384 or "
                "ed25519"
            )

    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password is not None
        else serialization.NoEncryption()
    )
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    try:
        _create_exclusive(key_path, private_pem, 0o600)
    except FileExistsError as e:
        raise OutputError(f"{key_path}: already exists; refusing to overwrite a key file") from e
    except OSError as e:
        raise OutputError(f"{key_path}: cannot write key file ({e.strerror})") from e
    try:
        _create_exclusive(pub_path, public_pem, 0o644)
    except OSError as e:
        key_path.unlink(missing_ok=True)  # ours, created just above: leave no orphan private key
        if isinstance(e, FileExistsError):
            raise OutputError(
                f"{pub_path}: already exists; refusing to overwrite a key file"
            ) from e
        raise OutputError(f"{pub_path}: cannot write public key ({e.strerror})") from e
    return key_path, pub_path


def _is_encrypted_pem(data: bytes) -> bool:
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data


def load_private_key(path: Path, password: bytes | None) -> SigningKey:
    """Load a PEM private key for signing (ECDSA P-256 or P-384, or Ed25519)."""
    data = _read_key_file(path)
    if b"-----BEGIN" not in data:
        raise KeyFileError(f"{path}: not a PEM key file")
    if b"PRIVATE KEY-----" not in data:
        if b"-----BEGIN PUBLIC KEY-----" in data:
            raise KeyFileError(f"{path}: is a public key; signing needs the private .key file")
        raise KeyFileError(f"{path}: no PEM private key found")
    encrypted = _is_encrypted_pem(data)
    if encrypted and password is None:
        raise KeyFileError(f"{path}: private key is encrypted; set {PASSWORD_ENV}")
    if not encrypted and password is not None:
        raise KeyFileError(
            f"{path}: private key is not encrypted but a password was given; unset {PASSWORD_ENV}"
        )
    try:
        key = serialization.load_pem_private_key(data, password)
    except UnsupportedAlgorithm as e:
        raise KeyFileError(f"{path}: unsupported private key type or encryption") from e
    except (ValueError, TypeError) as e:
        if encrypted:
            raise KeyFileError(f"{path}: wrong password for encrypted private key") from e
        raise KeyFileError(f"{path}: not a valid PEM private key") from e

    algorithm: SigningAlgorithm
    if isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = "ed25519"
    elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        algorithm = "ecdsa-p256"
    elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1):
        algorithm = "ecdsa-p384"  # signs SHA-384, as Sigstore's clients do for this curve
    else:
        raise KeyFileError(
            f"{path}: unsupported key type {_describe(key)}; chainguard signs with ECDSA P-256 "
            "or P-384, or Ed25519"
        )
    public_key = key.public_key()
    return SigningKey(str(path), key, algorithm, public_key, fingerprint(public_key))


def public_key_from_pem(data: bytes, source: str) -> TrustedKey:
    """Parse a PEM SubjectPublicKeyInfo (ECDSA P-256/P-384 or Ed25519) into a TrustedKey."""
    if b"PRIVATE KEY-----" in data:
        raise KeyFileError(f"{source}: is a private key; pass the .pub file")
    if b"-----BEGIN CERTIFICATE-----" in data and b"-----BEGIN PUBLIC KEY-----" not in data:
        raise KeyFileError(f"{source}: is an X.509 certificate, not a public key")
    if b"-----BEGIN PUBLIC KEY-----" not in data:
        raise KeyFileError(f"{source}: not a PEM public key (no BEGIN PUBLIC KEY block)")
    try:
        key = serialization.load_pem_public_key(data)
    except UnsupportedAlgorithm as e:
        raise KeyFileError(f"{source}: unsupported public key type") from e
    except ValueError as e:
        raise KeyFileError(f"{source}: not a valid PEM public key") from e
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise KeyFileError(
            f"{source}: unsupported key type {_describe(key)}; chainguard accepts ECDSA "
            "P-256/P-384 or Ed25519 public keys"
        )
    algorithm = _public_algorithm(key)
    if algorithm is None:
        raise KeyFileError(
            f"{source}: unsupported key type {_describe(key)}; chainguard accepts ECDSA "
            "P-256/P-384 or Ed25519 public keys"
        )
    return TrustedKey(source, key, algorithm, fingerprint(key))


def load_public_key(path: Path) -> TrustedKey:
    """Load a trusted PEM public key file."""
    return public_key_from_pem(_read_key_file(path), str(path))

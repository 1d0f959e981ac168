"""TrustPolicy: whom one run trusts, validated once, and which backend verifies what.

Three kinds of trust anchor exist: public keys, X.509 CA certificates (OpenSSF model signatures
made with a certificate chain), and Sigstore identities checked offline against a trusted root
(the production or staging root sigstore ships, or a given ``trusted_root.json``). Every verify
workflow builds one policy and asks it for keys, anchors or the root; the checks of "which kind
of trust was asked for" and the choice of trusted root live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from chainguard.errors import UsageError
from chainguard.models import IdentityRule

if TYPE_CHECKING:
    from cryptography import x509

    from chainguard.trust.keys import TrustedKey
    from chainguard.trust.sigstore import SigstoreTrustedRoot

TrustKind = Literal["keys", "certificates", "identities"]


@dataclass(frozen=True)
class TrustPolicy:
    """The anchors of one run. Loaded lazily and at most once (keys, certificates, root)."""

    keys: tuple[Path, ...] = ()
    certificate_chains: tuple[Path, ...] = ()
    identities: tuple[IdentityRule, ...] = ()
    trusted_root: Path | None = None
    staging: bool = False
    _loaded: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.trusted_root is not None and self.staging:
            raise UsageError("--staging and --trusted-root both choose the trusted root; pick one")

    @property
    def kinds(self) -> tuple[TrustKind, ...]:
        given: tuple[tuple[TrustKind, object], ...] = (
            ("keys", self.keys),
            ("certificates", self.certificate_chains),
            ("identities", self.identities),
        )
        return tuple(kind for kind, anchors in given if anchors)

    def require_one_kind(
        self,
        what: str,
        allowed: tuple[TrustKind, ...],
        *,
        keys_with_root: bool = False,
    ) -> TrustKind:
        """For a signature that is verified one way only (a blob, an OpenSSF model signature):
        exactly one kind of anchor, and a trusted root only with identities, or also with keys
        when ``keys_with_root`` (the root then verifies the bundle's log entries and
        timestamps, the key its signature; the staging flag stays identity-only)."""
        nouns = {"keys": "key", "certificates": "CA", "identities": "identity"}
        flags = {
            "keys": "--key PUB",
            "certificates": "--certificate-chain CA.pem",
            "identities": "--identity with --issuer",
        }
        kinds = self.kinds
        if not kinds:
            names = [nouns[k] for k in allowed]
            listed = f"{', '.join(names[:-1])} or {names[-1]}"
            raise UsageError(
                f"no trusted {listed} for {what}: pass {', or '.join(flags[k] for k in allowed)}"
            )
        if len(kinds) != 1 or kinds[0] not in allowed:
            choices = ", or ".join(flags[k] for k in allowed)
            raise UsageError(f"choose one kind of trust for {what}: {choices}")
        root_ok = kinds == ("identities",) or (
            keys_with_root and kinds == ("keys",) and not self.staging
        )
        if not root_ok and (self.trusted_root is not None or self.staging):
            if keys_with_root and kinds == ("keys",):
                raise UsageError(
                    "--staging applies to Sigstore identities only; with --key, pass the "
                    "staging trusted_root.json as --trusted-root"
                )
            raise UsageError(
                "--trusted-root and --staging apply to Sigstore identities only, not --key "
                "or --certificate-chain"
            )
        return kinds[0]

    def trusted_keys(self) -> list[TrustedKey]:
        from chainguard.trust.keys import load_public_key

        if "keys" not in self._loaded:
            self._loaded["keys"] = [load_public_key(p) for p in self.keys]
        keys: list[TrustedKey] = self._loaded["keys"]  # type: ignore[assignment]
        return keys

    def certificate_anchors(self) -> tuple[x509.Certificate, ...]:
        from chainguard.oms.certificates import load_certificates

        if "certificates" not in self._loaded:
            self._loaded["certificates"] = load_certificates(self.certificate_chains)
        anchors: tuple[x509.Certificate, ...] = self._loaded["certificates"]  # type: ignore[assignment]
        return anchors

    def sigstore_root(self) -> SigstoreTrustedRoot:
        """The trusted root Sigstore identities are checked against: a given file, else the
        staging or production root sigstore ships (offline either way)."""
        from chainguard.trust.sigstore import Instance, load_trusted_root

        if "root" not in self._loaded:
            instance: Instance = "staging" if self.staging else "production"
            self._loaded["root"] = load_trusted_root(
                None if self.trusted_root is not None else instance, self.trusted_root
            )
        root: SigstoreTrustedRoot = self._loaded["root"]  # type: ignore[assignment]
        return root

    def root_label(self) -> str | None:
        """How the report names the trusted root (None when none is used: no identity is
        trusted and no root was given for keys)."""
        if self.trusted_root is not None:
            return str(self.trusted_root)
        if not self.identities:
            return None
        return f"sigstore {'staging' if self.staging else 'production'} (shipped)"

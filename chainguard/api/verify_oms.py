"""The OpenSSF model signing format (model_signing's model.sig): verify and sign a model."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.api._common import password, write_atomic
from chainguard.errors import InputError
from chainguard.findings import Finding, Report, Stats
from chainguard.models import IdentityRule, ObservedTree, Progress, VerifiedStatement

if TYPE_CHECKING:
    from chainguard.oms import OmsManifest
    from chainguard.trust.policy import TrustKind, TrustPolicy


def verify_model_oms(
    path: Path,
    signature: Path,
    *,
    keys: Sequence[Path] = (),
    certificate_chains: Sequence[Path] = (),
    identities: Sequence[IdentityRule] = (),
    trusted_root: Path | None = None,
    staging: bool = False,
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
) -> Report:
    """Verify a model (directory or single file) against an OpenSSF model signature.

    Trust is one of: public keys (``keys``), X.509 trust anchors (``certificate_chains``), or
    Sigstore identities (``identities``, offline against the production, staging or given
    trusted root). The signature is verified first; only then is the model hashed and compared
    with the signed manifest. Paths the signer recorded as ignored, ``ignore`` globs and the
    signature file itself are left out. Mismatches are findings; unreadable input raises.
    """
    from chainguard import oms
    from chainguard.errors import VerificationFailure
    from chainguard.trust.policy import TrustPolicy

    started = time.perf_counter()
    policy = TrustPolicy(
        keys=tuple(keys),
        certificate_chains=tuple(certificate_chains),
        identities=tuple(identities),
        trusted_root=trusted_root,
        staging=staging,
    )
    kind = policy.require_one_kind(
        "an OpenSSF model signature", ("keys", "certificates", "identities")
    )
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    label = str(signature)

    def stopped(finding: Finding, signers: tuple[str, ...] = ()) -> Report:
        stats = Stats(seconds=time.perf_counter() - started)
        return Report(
            "verify model", str(path), (finding,), stats, signature=label, signers=signers
        )

    if not signature.is_file():
        return stopped(
            Finding(
                "signature-missing",
                label,
                "no OpenSSF model signature found; an unsigned model proves nothing",
                expected="a signature bundle",
            )
        )
    verified = None
    try:
        verified = _verify_signature(signature, policy, kind)
        manifest = oms.read_manifest(verified, label)
    except VerificationFailure as failure:
        return stopped(Finding.of_failure(failure, label), _signers(verified))
    tree = _observe(path, manifest, signature, ignore, progress)
    return Report(
        "verify model",
        str(path),
        tuple(oms.compare_model(manifest, tree, single_file=_single_file(path))),
        Stats(len(tree.files), tree.bytes_hashed, time.perf_counter() - started),
        signature=label,
        signers=_signers(verified),
        components=(f"model:{manifest.model_name}",),
    )


def _verify_signature(signature: Path, policy: TrustPolicy, kind: TrustKind) -> VerifiedStatement:
    """The signed statement, verified by the one backend the policy names (or raise)."""
    from chainguard import oms
    from chainguard.errors import BundleError, VerificationFailure, refuse_oversized
    from chainguard.oms.legacy import verify_v0_2_key_bundle
    from chainguard.trust.bundle import read_bundle, verify_key_bundle

    label = str(signature)
    refuse_oversized(signature, "signature bundle", BundleError)
    try:
        bundle_bytes = signature.read_bytes()
    except OSError as e:
        raise BundleError(f"{signature}: cannot read: {e.strerror or e}") from e
    bundle = read_bundle(bundle_bytes, label)
    if kind == "keys":
        try:
            return verify_key_bundle(bundle, policy.trusted_keys(), source=label)
        except VerificationFailure:
            # model-signing 0.2 signed a malformed encoding (oms/legacy.py)
            legacy = verify_v0_2_key_bundle(bundle, policy.trusted_keys(), label)
            if legacy is None:
                raise
            return legacy
    if kind == "certificates":
        return oms.verify_certificate_bundle(bundle, policy.certificate_anchors(), source=label)
    from chainguard.trust.sigstore import verify_sigstore_dsse

    return verify_sigstore_dsse(bundle_bytes, label, policy.identities, policy.sigstore_root())


def _signers(verified: VerifiedStatement | None) -> tuple[str, ...]:
    from chainguard.trust.gate import describe_signer

    return tuple(describe_signer(s) for s in verified.signers) if verified else ()


def _single_file(path: Path) -> str | None:
    return path.name if path.is_file() else None


def _observe(
    path: Path,
    manifest: OmsManifest,
    signature: Path,
    ignore: Sequence[str],
    progress: Progress | None,
) -> ObservedTree:
    """Hash the model as the signed manifest says it was hashed (its shard plan)."""
    from chainguard import oms
    from chainguard.collectors.tree import IgnoreRules, collect_tree, ignore_rules

    settings, shard_sizes = oms.hash_plan(manifest, _single_file(path))
    rules = ignore_rules(path, ignore, (signature,))
    return collect_tree(
        path,
        settings,
        ignore=IgnoreRules(rules.patterns, rules.exact | oms.signed_ignore_paths(manifest)),
        mode="verify",
        shard_sizes=shard_sizes,
        progress=progress.advance if progress else None,
        on_listed=progress.start if progress else None,
    )


def sign_model_oms(
    path: Path, key: Path, output: Path | None = None, ignore: Sequence[str] = ()
) -> Path:
    """Sign a model as an OpenSSF model signature that ``model_signing verify key`` accepts.

    Default output: ``model.sig`` inside a model directory (left out of the signature and
    recorded in its ignore paths, as model-signing does), ``FILE.sig`` beside a single file.
    ``ignore`` holds literal paths relative to the model (OMS records paths, not globs).
    """
    from chainguard.oms import DEFAULT_SIGNATURE_NAME, sign_oms
    from chainguard.trust.keys import load_private_key

    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_dir():
        out = output or path / DEFAULT_SIGNATURE_NAME
    else:
        out = output or Path(str(path) + ".sig")
    own: list[str] = []
    if path.is_dir() and out.resolve().is_relative_to(path.resolve()):
        own.append(out.resolve().relative_to(path.resolve()).as_posix())
    signing_key = load_private_key(key, password())
    write_atomic(out, sign_oms(path, signing_key, [*ignore, *own]), overwrite=True)
    return out

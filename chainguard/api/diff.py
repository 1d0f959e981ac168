"""diff: two releases' SBOMs read, optionally their signatures verified, and compared.

A signature here answers "who signed this SBOM file?", offline, through the same gate every
verify uses (trust/gate.establish_trust), with what only makes sense for a verify left out:
no rollback state is read or written (an older release is the point of a diff), no deployment
is pinned, and an expired SBOM is accepted (shown as an ``sbom-expired`` warning). The SBOM
file must be the very bytes that were signed, else the signature is not verified
(``sbom-mismatch``). A signature that does not verify does not stop the diff: it is shown as
not verified, with the reason, and the run is not ok. A bundle that cannot be read at all
raises (exit 3), as it does for verify.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from chainguard.diff import (
    DiffReport,
    ReleaseSide,
    SignatureCheck,
    SignatureNote,
    diff_releases,
)
from chainguard.findings import Severity
from chainguard.trust.gate import TrustInputs, establish_trust

# A verify's warning that means nothing for a diff, which pins no deployment on purpose.
_NOT_FOR_DIFF = frozenset({"deployment-unpinned"})


def diff_sboms(
    old: Path,
    new: Path,
    *,
    signature_old: Path | None = None,
    signature_new: Path | None = None,
    trust: TrustInputs | None = None,
) -> DiffReport:
    """Compare the release ``old`` describes with the one ``new`` describes.

    ``signature_old`` / ``signature_new``: verify that bundle over that SBOM file, with the
    anchors (keys, identities, threshold, trusted root) of ``trust``, which they require.
    Raises SbomError (exit 3) when an SBOM cannot be read, UsageError without anchors.
    """
    from chainguard.errors import UsageError
    from chainguard.sbom.read import read_sbom_file

    if (signature_old or signature_new) and trust is None:
        raise UsageError("verifying a signature needs trusted keys or identities (--key PUB)")
    old_bytes, old_state = read_sbom_file(old)
    new_bytes, new_state = read_sbom_file(new)
    return DiffReport(
        old=ReleaseSide(str(old), _sha256(old_bytes), _check(old, signature_old, trust)),
        new=ReleaseSide(str(new), _sha256(new_bytes), _check(new, signature_new, trust)),
        diff=diff_releases(old_state, new_state),
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check(sbom: Path, signature: Path | None, trust: TrustInputs | None) -> SignatureCheck | None:
    if signature is None or trust is None:
        return None
    inputs = replace(
        trust,
        sbom=sbom,
        signatures=(signature,),
        use_state=False,
        allow_expired=True,
        deployment=None,
        min_serial=None,
    )
    outcome = establish_trust(inputs)
    verified = outcome.state is not None
    problems = outcome.findings if not verified else outcome.warnings
    notes = tuple(
        SignatureNote(f.rule, f.message, f.effective_severity is Severity.ERROR)
        for f in problems
        if f.rule not in _NOT_FOR_DIFF
    )
    return SignatureCheck(str(signature), verified, outcome.signers if verified else (), notes)

"""Attack: a release key that also signs blobs (cosign sign-blob) signs an SBOM by proxy.

DSSE signs PAE(payloadType, payload) = b"DSSEv1 <len> <type> <len> <payload>". An ECDSA message
signature over a file holding exactly those bytes is therefore also a DSSE signature of the
statement: an attacker who gets a blob signed (a build artefact they supply) has a signed SBOM.
`verify blob` refuses a message signature whose content is a PAE (signature-role-confusion),
and the README says SBOM signing keys must not sign anything else.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from support.cli import cli
from support.release import Release
from support.sigstore_cases import key_message_bundle

from chainguard import api
from chainguard.trust import dsse
from chainguard.trust.bundle import key_bundle_json
from chainguard.trust.keys import load_private_key, load_public_key


def test_verify_blob_refuses_a_message_signature_over_a_dsse_pae(
    release: Release, tmp_path: Path
) -> None:
    code, _, stderr = cli("keygen", tmp_path / "blobs")  # the key also used for sign-blob
    assert code == 0, stderr
    key = load_private_key(tmp_path / "blobs.key", None)
    statement = api.sbom_statement(release.sbom)  # a real SBOM statement
    pae = dsse.pae("application/vnd.in-toto+json", statement)
    blob = tmp_path / "build-artifact.bin"  # what the attacker hands in to be signed
    blob.write_bytes(pae)
    bundle = tmp_path / "build-artifact.bin.sigstore.json"
    private_key = key.private_key
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)  # keygen's default: ECDSA P-256
    bundle.write_bytes(key_message_bundle(private_key, pae))

    # Why it matters: the blob signature, moved into a DSSE envelope, is a valid SBOM signature.
    signature = base64.b64decode(json.loads(bundle.read_bytes())["messageSignature"]["signature"])
    envelope = dsse.Envelope("application/vnd.in-toto+json", statement, (("", signature),))
    forged = tmp_path / "forged.sig"
    forged.write_bytes(key_bundle_json(envelope, load_public_key(tmp_path / "blobs.pub")))
    code, _, stderr = cli(
        "verify", "model", release.model, "--key", tmp_path / "blobs.pub",
        "--sbom", release.sbom, "--signature", forged, "--format", "json",
    )  # fmt: skip
    assert code == 0, stderr

    code, stdout, stderr = cli(
        "verify", "blob", blob, "--bundle", bundle, "--key", tmp_path / "blobs.pub",
        "--format", "json",
    )  # fmt: skip
    assert code == 1, (stdout, stderr)
    assert "Traceback" not in stderr
    (finding,) = json.loads(stdout)["findings"]
    assert finding["rule"] == "signature-role-confusion"
    assert finding["path"] == str(bundle)  # the signature is what is refused
    assert str(blob) in finding["message"]
    assert "DSSE pre-authentication encoding" in finding["message"]
    assert "'application/vnd.in-toto+json'" in finding["message"]

    # An ordinary blob signed by the same key still verifies.
    blob.write_bytes(b"an ordinary build artifact\n")
    bundle.write_bytes(key_message_bundle(private_key, blob.read_bytes()))
    code, _, stderr = cli(
        "verify", "blob", blob, "--bundle", bundle, "--key", tmp_path / "blobs.pub"
    )
    assert code == 0, stderr

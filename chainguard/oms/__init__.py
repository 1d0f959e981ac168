"""OpenSSF Model Signing (OMS, ``model-signing`` on PyPI): verify and write its signatures.

An OMS signature is a Sigstore bundle v0.3 whose DSSE envelope holds an in-toto Statement v1
with predicate type ``https://model_signing/signature/v1.0``: a manifest of the model's files
(or shards of them) and their digests. The format has no canonical JSON: the signature covers
the exact payload bytes and nothing is ever re-serialised.

One module per job:

- ``manifest``: the signed manifest read from verified bytes, and all its checks;
- ``certificates``: trust through an X.509 CA (``--certificate-chain``); a public key and a
  Sigstore identity are verified by trust/bundle.py and trust/sigstore.py;
- ``compare``: how to hash the model, then the pure comparison with the manifest (reusing
  chainguard's compare.py through an ExpectedComponent);
- ``sign``: the statement model-signing writes, and the signing backends that bundle it;
- ``legacy``: the oldest released format (model-signing 0.2): its manifest and signature quirk.
"""

from __future__ import annotations

from chainguard.oms.certificates import load_certificates, verify_certificate_bundle
from chainguard.oms.compare import compare_model, expected_component, hash_plan
from chainguard.oms.manifest import (
    OMS_PREDICATE_TYPE,
    OmsManifest,
    OmsResource,
    model_name,
    read_manifest,
    signed_ignore_paths,
)
from chainguard.oms.sign import (
    DEFAULT_SIGNATURE_NAME,
    GIT_PATHS,
    literal_ignore_paths,
    oms_bundle,
    oms_payload,
    sign_oms,
)

__all__ = [
    "DEFAULT_SIGNATURE_NAME",
    "GIT_PATHS",
    "OMS_PREDICATE_TYPE",
    "OmsManifest",
    "OmsResource",
    "compare_model",
    "expected_component",
    "hash_plan",
    "literal_ignore_paths",
    "load_certificates",
    "model_name",
    "oms_bundle",
    "oms_payload",
    "read_manifest",
    "sign_oms",
    "signed_ignore_paths",
    "verify_certificate_bundle",
]

"""The library surface: what the CLI (and users' own scripts) call. One module per workflow.

Each workflow wires the pipeline stages together: collectors → observed inventory; signed SBOM →
trust → expected state; compare → findings → Report. Heavy imports happen inside the functions.

Where a new workflow goes: a new module here (see docs/ARCHITECTURE.md), its entry point added
to ``__all__`` below, and a command in cli.py that only parses options and calls it.
"""

from __future__ import annotations

from chainguard.api._assurance import Assurance
from chainguard.api._common import CYCLONEDX_PREDICATE, IN_TOTO_PAYLOAD_TYPE
from chainguard.api.attest import AttestOptions, AttestResult, attest
from chainguard.api.build import BuildResult, build_sbom, parse_expires
from chainguard.api.diff import diff_sboms
from chainguard.api.scan import scan_path
from chainguard.api.sign import (
    keygen,
    sbom_statement,
    sign_sbom,
    sign_sbom_sigstore,
    statement_subjects,
)
from chainguard.api.verify_blob import verify_blob
from chainguard.api.verify_deployment import verify_deployment
from chainguard.api.verify_deps import (
    check_dependencies,
    collect_dependencies,
    collect_manifests,
    select_manifest,
    verify_deps,
)
from chainguard.api.verify_oms import sign_model_oms, verify_model_oms
from chainguard.api.verify_process import verify_process
from chainguard.api.verify_tree import (
    OVERLAP_FROM_BYTES,
    check_component,
    select_component,
    verify_tree,
)
from chainguard.models import Progress
from chainguard.observe import EarlyStart, TreeObservation, prestart_dataset
from chainguard.sbom.read import read_sbom_file
from chainguard.trust.gate import TrustInputs, TrustOutcome, establish_trust

__all__ = [
    "CYCLONEDX_PREDICATE",
    "IN_TOTO_PAYLOAD_TYPE",
    "OVERLAP_FROM_BYTES",
    "Assurance",
    "AttestOptions",
    "AttestResult",
    "BuildResult",
    "EarlyStart",
    "Progress",
    "TreeObservation",
    "TrustInputs",
    "TrustOutcome",
    "attest",
    "build_sbom",
    "check_component",
    "check_dependencies",
    "collect_dependencies",
    "collect_manifests",
    "diff_sboms",
    "establish_trust",
    "keygen",
    "parse_expires",
    "prestart_dataset",
    "read_sbom_file",
    "sbom_statement",
    "scan_path",
    "select_component",
    "select_manifest",
    "sign_model_oms",
    "sign_sbom",
    "sign_sbom_sigstore",
    "statement_subjects",
    "verify_blob",
    "verify_deployment",
    "verify_deps",
    "verify_model_oms",
    "verify_process",
    "verify_tree",
]

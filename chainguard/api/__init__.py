"""The library surface: what the CLI (and users' own scripts) call. One module per workflow.

Each workflow wires the pipeline stages together: collectors → observed inventory; signed SBOM →
trust → expected state; compare → findings → Report. Heavy imports happen inside the functions.

Where a new workflow goes: a new module here (see docs/ARCHITECTURE.md; never named like a
function it exports), its entry point added to ``_WHERE``, ``__all__`` and the type checkers'
imports below, and a command in chainguard/cli/ that only parses options and calls it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Every name is imported when first used: `scan` or `diff` must not pay for importing the
# verify workflows, nor `verify model` for attest, scan and the others (tens of milliseconds of
# start-up each). No module here is named like its function, so a submodule, once imported,
# never stands where a function's name is looked up.
_WHERE: dict[str, str] = {
    "AttestOptions": "chainguard.api.attestation",
    "AttestResult": "chainguard.api.attestation",
    "Assurance": "chainguard.api._assurance",
    "BuildResult": "chainguard.api.build",
    "CYCLONEDX_PREDICATE": "chainguard.api._common",
    "DaskCluster": "chainguard.collectors.dask_tree",  # build_sbom(dask=), verify_tree(dask=)
    "EarlyStart": "chainguard.observe",
    "IN_TOTO_PAYLOAD_TYPE": "chainguard.api._common",
    "OVERLAP_FROM_BYTES": "chainguard.api.tree",
    "Progress": "chainguard.models",
    "TreeObservation": "chainguard.observe",
    "TrustInputs": "chainguard.trust.gate",
    "TrustOutcome": "chainguard.trust.gate",
    "attest": "chainguard.api.attestation",
    "build_sbom": "chainguard.api.build",
    "check_component": "chainguard.api.tree",
    "check_dependencies": "chainguard.api.deps",
    "collect_dependencies": "chainguard.api.deps",
    "collect_manifests": "chainguard.api.deps",
    "diff_sboms": "chainguard.api.diff",
    "establish_trust": "chainguard.trust.gate",
    "fleet_status": "chainguard.api.fleet",
    "keygen": "chainguard.api.sign",
    "parse_expires": "chainguard.api.build",
    "prestart_dataset": "chainguard.observe",
    "read_sbom_file": "chainguard.sbom.read",
    "sbom_statement": "chainguard.api.sign",
    "scan_path": "chainguard.api.scan",
    "select_component": "chainguard.api.tree",
    "select_manifest": "chainguard.api.deps",
    "sign_model_oms": "chainguard.api.verify_oms",
    "sign_sbom": "chainguard.api.sign",
    "sign_sbom_sigstore": "chainguard.api.sign",
    "statement_subjects": "chainguard.api.sign",
    "verify_blob": "chainguard.api.blob",
    "verify_deployment": "chainguard.api.deployment",
    "verify_deps": "chainguard.api.deps",
    "verify_model_oms": "chainguard.api.verify_oms",
    "verify_process": "chainguard.api.live_process",
    "verify_tree": "chainguard.api.tree",
}

if TYPE_CHECKING:  # the lazy names, for type checkers
    from chainguard.api._assurance import Assurance
    from chainguard.api._common import CYCLONEDX_PREDICATE, IN_TOTO_PAYLOAD_TYPE
    from chainguard.api.attestation import AttestOptions, AttestResult, attest
    from chainguard.api.blob import verify_blob
    from chainguard.api.build import BuildResult, build_sbom, parse_expires
    from chainguard.api.deployment import verify_deployment
    from chainguard.api.deps import (
        check_dependencies,
        collect_dependencies,
        collect_manifests,
        select_manifest,
        verify_deps,
    )
    from chainguard.api.diff import diff_sboms
    from chainguard.api.fleet import fleet_status
    from chainguard.api.live_process import verify_process
    from chainguard.api.scan import scan_path
    from chainguard.api.sign import (
        keygen,
        sbom_statement,
        sign_sbom,
        sign_sbom_sigstore,
        statement_subjects,
    )
    from chainguard.api.tree import (
        OVERLAP_FROM_BYTES,
        check_component,
        select_component,
        verify_tree,
    )
    from chainguard.api.verify_oms import sign_model_oms, verify_model_oms
    from chainguard.collectors.dask_tree import DaskCluster
    from chainguard.models import Progress
    from chainguard.observe import EarlyStart, TreeObservation, prestart_dataset
    from chainguard.sbom.read import read_sbom_file
    from chainguard.trust.gate import TrustInputs, TrustOutcome, establish_trust


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "CYCLONEDX_PREDICATE",
    "IN_TOTO_PAYLOAD_TYPE",
    "OVERLAP_FROM_BYTES",
    "Assurance",
    "AttestOptions",
    "AttestResult",
    "BuildResult",
    "DaskCluster",
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
    "fleet_status",
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

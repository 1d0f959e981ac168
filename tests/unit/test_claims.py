"""The claim document and its comparison with what a verify measured (chainguard/claims.py):
pure, offline. Patch and digest facts go through chainguard/patches.py (patch_statuses,
measured_digest), which these tests call for real."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import TYPE_CHECKING, Any

import pytest
from support import REPO_ROOT

from chainguard.claims import (
    Claim,
    ClaimedComponent,
    compare_claim,
    parse_claim,
)
from chainguard.errors import ClaimError
from chainguard.findings import Finding
from chainguard.models import (
    DeclaredPatch,
    Dependency,
    DeploymentInfo,
    ExpectedComponent,
    ExpectedState,
    FileDigest,
    Measured,
    ObservedDependencies,
    ObservedTree,
    tree_digest,
)

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

SCHEMA = REPO_ROOT / "docs" / "claim-schema.v1.json"


def _file(path: str, content: bytes) -> FileDigest:
    return FileDigest(path, len(content), hashlib.sha256(content).hexdigest())


SIGNED_FILES = (_file("config.json", b"{}"), _file("model.safetensors", b"weights v2"))
OLD_FILES = (_file("config.json", b"{}"), _file("model.safetensors", b"weights v1"))
SIGNED_DIGEST = "sha256:" + tree_digest(SIGNED_FILES)
OLD_DIGEST = "sha256:" + tree_digest(OLD_FILES)

MODEL = ExpectedComponent("model", "weights", "model:weights", SIGNED_DIGEST[7:], SIGNED_FILES)
DATA = ExpectedComponent("dataset", "corpus", "dataset:corpus", SIGNED_DIGEST[7:], SIGNED_FILES)
PATCHES = (
    DeclaredPatch("CVE-2025-32434", "torch>=2.6.0"),
    DeclaredPatch("MODEL-2026-07-backdoor-removal", f"model:weights@{SIGNED_DIGEST}"),
)
STATE = ExpectedState(
    DeploymentInfo("svc", "1.0"),
    (MODEL, DATA),
    (Dependency("torch", "2.6.0"),),
    patches=PATCHES,
)


def environment(versions: dict[str, str]) -> ObservedDependencies:
    deps = tuple(Dependency(name, version) for name, version in versions.items())
    return ObservedDependencies("environment", "venv", "/srv/venv", deps)


def tree(files: tuple[FileDigest, ...]) -> ObservedTree:
    return ObservedTree("/srv/models/weights", files)


def on_model(
    files: tuple[FileDigest, ...] = SIGNED_FILES, state: ExpectedState = STATE
) -> Measured:
    return Measured("verify model", state, trees=(("model:weights", tree(files)),))


def on_env(versions: dict[str, str], state: ExpectedState = STATE) -> Measured:
    return Measured("verify deps", state, dependencies=(environment(versions),))


def on_lock() -> Measured:
    lock = ObservedDependencies("uv-lock", "uv.lock", "uv.lock", (Dependency("torch", "2.6.0"),))
    return Measured("verify deps", STATE, dependencies=(lock,))


def found(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule, f.path) for f in findings]


def compare(doc: dict[str, Any], measured: Measured) -> list[Finding]:
    return compare_claim(parse_claim(doc, "claim.json"), measured, "claim.json")


def one(findings: list[Finding], rule: str, path: str) -> Finding:
    (f,) = [f for f in findings if (f.rule, f.path) == (rule, path)]
    return f


# --- the document -------------------------------------------------------------------------------

FULL = {
    "deployment": "svc",
    "version": "1.0",
    "patches": ["CVE-2025-32434"],
    "packages": {"torch": "2.6.0"},
    "components": {"weights": {"version": "2", "digest": SIGNED_DIGEST}},
}


def test_every_field_is_read() -> None:
    assert parse_claim(FULL, "c") == Claim(
        "svc",
        "1.0",
        ("CVE-2025-32434",),
        (("torch", "2.6.0"),),
        (ClaimedComponent("weights", "2", SIGNED_DIGEST),),
    )


def test_every_field_is_optional_and_unknown_fields_are_ignored() -> None:
    assert parse_claim({}, "c") == Claim()
    doc = {"status": "patched", "uptime": 3, "components": {"weights": {"sha": 1}}, "x": None}
    assert parse_claim(doc, "c") == Claim(components=(ClaimedComponent("weights"),))


BAD: list[tuple[object, str]] = [
    ([], "a chainguard.claim/v1 claim is a JSON object, not an array"),
    ("patched", "is a JSON object, not a string"),
    ({"deployment": 1}, "deployment must be a string, not a number"),
    ({"version": 1.0}, "version must be a string, not a number"),
    ({"version": None}, "version must be a string, not null"),
    ({"patches": "CVE-1"}, "patches must be an array of patch ids, not a string"),
    ({"patches": ["CVE-1", 2]}, "patches[1] must be a string, not a number"),
    ({"packages": ["torch"]}, "packages must be an object of package name to version"),
    ({"packages": {"torch": True}}, "packages.torch must be a string, not a boolean"),
    ({"components": []}, "components must be an object of name to object, not an array"),
    ({"components": {"weights": "sha256:00"}}, "components.weights must be an object"),
    ({"components": {"w": {"version": 2}}}, "components.w.version must be a string"),
    ({"components": {"w": {"digest": None}}}, "components.w.digest must be a string, not null"),
    ({"components": {"w": {"digest": "md5:00"}}}, "components.w.digest must be sha256:<64 hex"),
    ({"components": {"w": {"digest": SIGNED_DIGEST + "0"}}}, "must be sha256:<64 hex"),
]


@pytest.mark.parametrize(("doc", "needle"), BAD)
def test_wrong_types_are_one_line(doc: object, needle: str) -> None:
    with pytest.raises(ClaimError) as e:
        parse_claim(doc, "claim.json")
    assert str(e.value).startswith("claim.json: ")
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


ACCEPTED: list[object] = [
    FULL,
    {},
    {"status": "ok", "components": {"weights": {}, "model:weights": {"other": 1}}},
    {"components": {"w": {"digest": SIGNED_DIGEST.upper().replace("SHA256", "sha256")}}},
    {"packages": {}, "patches": []},
]


@pytest.mark.parametrize("doc", ACCEPTED)
def test_what_is_accepted_validates_against_the_published_schema(doc: object) -> None:
    parse_claim(doc, "c")
    _validator().validate(doc)


@pytest.mark.parametrize(("doc", "needle"), BAD)
def test_what_is_refused_the_published_schema_refuses(doc: object, needle: str) -> None:
    assert not _validator().is_valid(doc), needle


# --- deployment and version: the signed facts, on every command --------------------------------


@pytest.mark.parametrize("measured", [on_model(), on_env({"torch": "2.6.0"}), on_lock()])
def test_the_signed_deployment_and_version(measured: Measured) -> None:
    assert found(compare({"deployment": "svc", "version": "1.0"}, measured)) == [
        ("claim-consistent", "claim.json")
    ]
    findings = compare({"deployment": "svc-canary", "version": "2.0"}, measured)
    assert found(findings) == [("claim-mismatch", "deployment"), ("claim-mismatch", "version")]
    name, version = findings
    assert (name.expected, name.actual) == ("svc-canary", "svc")
    assert (version.expected, version.actual) == ("2.0", "1.0")
    assert "claim.json: claims version '2.0'" in version.message


# --- patches ------------------------------------------------------------------------------------


def test_a_patch_the_signed_sbom_does_not_declare() -> None:
    state = ExpectedState(DeploymentInfo("svc", "1.0"), (MODEL,))  # declares no patch
    findings = compare(
        {"patches": ["CVE-2025-32434", "GHSA-53q9-r3pm-6pq6"]}, on_model(state=state)
    )
    assert found(findings) == [("claim-mismatch", "patches[0]"), ("claim-mismatch", "patches[1]")]
    assert findings[1].expected == "GHSA-53q9-r3pm-6pq6"
    assert findings[1].actual == "not declared in the signed SBOM"


def test_a_declared_dependency_patch_applied_and_not_applied() -> None:
    """Needs chainguard/patches.py's patch_statuses."""
    claim = {"patches": ["cve-2025-32434"]}  # ids compare case-insensitively
    assert found(compare(claim, on_env({"torch": "2.6.0"}))) == [("claim-consistent", "claim.json")]
    (mismatch,) = compare(claim, on_env({"torch": "2.5.1"}))
    assert (mismatch.rule, mismatch.path) == ("claim-mismatch", "patches[0]")
    assert mismatch.expected == "cve-2025-32434"
    assert mismatch.actual is not None and "2.5.1" in mismatch.actual


def test_a_declared_patch_this_command_cannot_check() -> None:
    """Needs chainguard/patches.py's patch_statuses: a dependency patch on verify model, a
    model patch on verify deps."""
    (dep,) = compare({"patches": ["CVE-2025-32434"]}, on_model())
    assert (dep.rule, dep.path) == ("claim-unverified", "patches[0]")
    assert "verify deps --env" in dep.message
    (model,) = compare({"patches": ["MODEL-2026-07-backdoor-removal"]}, on_env({"torch": "2.6.0"}))
    assert (model.rule, model.path) == ("claim-unverified", "patches[0]")
    assert "`verify model`" in model.message


def test_a_model_patch_with_the_old_weights_put_back() -> None:
    """Needs chainguard/patches.py (patch_statuses, the model digest requirement)."""
    claim = {"patches": ["MODEL-2026-07-backdoor-removal"]}
    assert found(compare(claim, on_model())) == [("claim-consistent", "claim.json")]
    (mismatch,) = compare(claim, on_model(OLD_FILES))
    assert (mismatch.rule, mismatch.path) == ("claim-mismatch", "patches[0]")
    assert mismatch.actual is not None and OLD_DIGEST[7:] in mismatch.actual


# --- packages -----------------------------------------------------------------------------------


def test_package_versions_against_the_installed_environment() -> None:
    measured = on_env({"torch": "2.5.1", "torch-vision": "0.21.0"})
    findings = compare(
        {"packages": {"torch": "2.6.0", "Torch_Vision": "0.21", "numpy": "2.0.0"}}, measured
    )
    assert found(findings) == [
        ("claim-mismatch", "packages.torch"),
        ("claim-mismatch", "packages.numpy"),
    ]
    torch, numpy = findings
    assert (torch.expected, torch.actual, torch.component) == ("2.6.0", "2.5.1", "torch")
    assert "claims torch 2.6.0 is installed, but torch 2.5.1 in venv is" in torch.message
    assert (numpy.expected, numpy.actual) == ("2.0.0", "not installed")


def test_a_true_package_claim_is_consistent() -> None:
    findings = compare({"packages": {"Torch": "2.6"}}, on_env({"torch": "2.6.0"}))
    assert found(findings) == [("claim-consistent", "claim.json")]
    assert "1 fact checked" in findings[0].message


@pytest.mark.parametrize(
    ("measured", "observed"),
    [
        (on_model(), "verify model observes no installed environment"),
        (on_lock(), "verify deps read a lockfile, not an installed environment"),
    ],
)
def test_a_package_claim_where_no_environment_was_measured(
    measured: Measured, observed: str
) -> None:
    (finding,) = compare({"packages": {"torch": "2.6.0"}}, measured)
    assert (finding.rule, finding.path) == ("claim-unverified", "packages.torch")
    assert observed in finding.message
    assert "`verify deps --env` or `verify deployment`" in finding.message


# --- components ---------------------------------------------------------------------------------


def test_a_component_the_signed_sbom_does_not_have() -> None:
    (finding,) = compare({"components": {"llama-3-70b": {}}}, on_model())
    assert (finding.rule, finding.path) == ("claim-mismatch", "components.llama-3-70b")
    assert finding.actual == "no model or dataset named 'llama-3-70b' in the signed SBOM"


def test_a_component_that_exists_is_a_checked_fact() -> None:
    findings = compare({"components": {"weights": {}, "dataset:corpus": {}}}, on_model())
    assert found(findings) == [("claim-consistent", "claim.json")]
    assert "2 facts checked" in findings[0].message


def test_a_name_shared_by_a_model_and_a_dataset_must_be_qualified() -> None:
    twin = ExpectedComponent("dataset", "weights", "dataset:weights", MODEL.root_digest, ())
    state = ExpectedState(DeploymentInfo("svc", "1.0"), (MODEL, twin))
    (finding,) = compare({"components": {"weights": {}}}, on_model(state=state))
    assert finding.rule == "claim-mismatch"
    assert "model:weights or dataset:weights" in (finding.actual or "")
    ok = compare({"components": {"model:weights": {}}}, on_model(state=state))
    assert found(ok) == [("claim-consistent", "claim.json")]


def test_a_component_version() -> None:
    versioned = ExpectedComponent(
        "model", "weights", "model:weights", MODEL.root_digest, SIGNED_FILES, version="2"
    )
    state = ExpectedState(DeploymentInfo("svc", "1.0"), (versioned,))
    good = compare({"components": {"weights": {"version": "2"}}}, on_model(state=state))
    assert found(good) == [("claim-consistent", "claim.json")]
    (bad,) = compare({"components": {"weights": {"version": "3"}}}, on_model(state=state))
    assert (bad.rule, bad.path, bad.expected, bad.actual) == (
        "claim-mismatch",
        "components.weights.version",
        "3",
        "2",
    )
    # the signed SBOM records no version for MODEL: nothing can check the claim
    (unknown,) = compare({"components": {"weights": {"version": "3"}}}, on_model())
    assert (unknown.rule, unknown.path) == ("claim-unverified", "components.weights.version")
    assert unknown.component == "model:weights"


def test_a_component_digest_against_the_measured_tree() -> None:
    """Needs chainguard/patches.py's measured_digest."""
    claim = {"components": {"weights": {"digest": SIGNED_DIGEST}}}
    assert found(compare(claim, on_model())) == [("claim-consistent", "claim.json")]
    (tampered,) = compare(claim, on_model(OLD_FILES))
    assert (tampered.rule, tampered.path) == ("claim-mismatch", "components.weights.digest")
    assert (tampered.expected, tampered.actual) == (SIGNED_DIGEST, OLD_DIGEST)
    assert tampered.component == "model:weights"


def test_a_component_digest_this_command_cannot_check() -> None:
    """Needs chainguard/patches.py's measured_digest: no tree on verify deps; the dataset is
    not what verify model measured."""
    claim = {"components": {"weights": {"digest": SIGNED_DIGEST}}}
    (finding,) = compare(claim, on_env({"torch": "2.6.0"}))
    assert (finding.rule, finding.path) == ("claim-unverified", "components.weights.digest")
    assert "`verify model` or `verify deployment`" in finding.message
    (other,) = compare({"components": {"corpus": {"digest": SIGNED_DIGEST}}}, on_model())
    assert (other.rule, other.path) == ("claim-unverified", "components.corpus.digest")
    assert "`verify dataset` or `verify deployment`" in other.message


# --- the verdict --------------------------------------------------------------------------------


def test_consistent_only_when_every_checked_fact_is_true() -> None:
    claim = {"deployment": "svc", "version": "1.0", "packages": {"torch": "2.6.0"}}
    findings = compare(claim, on_model())
    assert found(findings) == [
        ("claim-unverified", "packages.torch"),
        ("claim-consistent", "claim.json"),
    ]
    assert "claim consistent with what was measured (2 facts checked; 1" in findings[1].message
    assert findings[1].message.startswith("claim.json: ")
    findings = compare({**claim, "version": "0.9"}, on_model())
    assert "claim-consistent" not in {f.rule for f in findings}


def test_nothing_checked_is_never_consistent() -> None:
    (only,) = compare({"packages": {"torch": "2.6.0"}}, on_model())
    assert only.rule == "claim-unverified"
    (empty,) = compare({"status": "patched"}, on_model())
    assert (empty.rule, empty.path) == ("claim-unverified", "")
    assert "states none of the facts" in empty.message

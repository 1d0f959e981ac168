"""The host's claim (``chainguard.claim/v1``) and its comparison with what a verify measured.

A host, or an agent on it, states what it runs: the deployment and version, the patches it
says are applied, installed package versions, the digests of its models and datasets. None of
it is taken on trust. Each fact is checked against the signed SBOM and the measurement of this
run and gives one finding when false (``claim-mismatch``), one when this command cannot check
it (``claim-unverified``, naming the command that can), and, when every fact that could be
checked is true, one ``claim-consistent`` note. A claim that cannot be read at all is
``claim-unavailable``: a host that cannot state its claims does not pass.

Reading the source is chainguard/collectors/claim.py; this module is pure but for that call.
The document's JSON Schema is docs/claim-schema.v1.json.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from chainguard.errors import ClaimError
from chainguard.findings import Finding
from chainguard.models import ExpectedComponent, Measured

SCHEMA_ID = "chainguard.claim/v1"
_T = TypeVar("_T")
_DIGEST = re.compile(r"sha256:[0-9a-fA-F]{64}")
_FIELDS = ("deployment", "version", "patches", "packages", "components")

# Where each kind of fact is measured: the command to name when this run could not check it.
CHECK_PACKAGES = "`verify deps --env` or `verify deployment` (with an environment)"
CHECK_TREE = {
    "model": "`verify model` or `verify deployment`",
    "dataset": "`verify dataset` or `verify deployment`",
}


@dataclass(frozen=True, slots=True)
class ClaimedComponent:
    """What the host says about one signed model or dataset (by its name)."""

    name: str
    version: str | None = None
    digest: str | None = None  # "sha256:<hex>": its root digest as verify computes it


@dataclass(frozen=True, slots=True)
class Claim:
    """A ``chainguard.claim/v1`` document: every field optional, unknown fields dropped."""

    deployment: str | None = None
    version: str | None = None
    patches: tuple[str, ...] = ()
    packages: tuple[tuple[str, str], ...] = ()  # (name as claimed, version), in claim order
    components: tuple[ClaimedComponent, ...] = ()

    @property
    def empty(self) -> bool:
        return self == Claim()


# --- reading ------------------------------------------------------------------------------------


def check_claim(
    source: str,
    measured: Measured,
    *,
    timeout: float,
    max_bytes: int,
    env_proxy: bool = False,
) -> list[Finding]:
    """The findings of the claim at ``source`` (a JSON file or an http(s):// URL) against
    ``measured``. Never raises for a bad source: that is one ``claim-unavailable`` finding."""
    from chainguard._strictjson import loads_strict
    from chainguard.collectors.claim import read_claim, shown_source

    shown = shown_source(source)
    try:
        data = read_claim(source, timeout=timeout, max_bytes=max_bytes, env_proxy=env_proxy)
        claim = parse_claim(loads_strict(data, shown, ClaimError), shown)
    except ClaimError as e:
        return [Finding("claim-unavailable", shown, f"claim unavailable: {e}")]
    return compare_claim(claim, measured, shown)


def parse_claim(doc: object, source: str) -> Claim:
    """A parsed JSON value as a Claim; a value of the wrong type is one ClaimError line."""
    if not isinstance(doc, dict):
        raise ClaimError(f"{source}: a {SCHEMA_ID} claim is a JSON object, not {_kind(doc)}")
    patches = _typed(doc, "patches", list, "an array of patch ids", source)
    packages = _typed(doc, "packages", dict, "an object of package name to version", source)
    components = _typed(doc, "components", dict, "an object of name to object", source)
    return Claim(
        deployment=_typed(doc, "deployment", str, "a string", source),
        version=_typed(doc, "version", str, "a string", source),
        patches=tuple(_text(p, f"patches[{i}]", source) for i, p in enumerate(patches or ())),
        packages=tuple(
            (name, _text(v, f"packages.{name}", source)) for name, v in (packages or {}).items()
        ),
        components=tuple(
            _component(name, value, source) for name, value in (components or {}).items()
        ),
    )


def _typed(
    doc: Mapping[str, object], key: str, kind: type[_T], what: str, source: str
) -> _T | None:
    """``doc[key]`` when it is a ``kind``; None when absent (null is a wrong type, not absent)."""
    if key not in doc:
        return None
    value = doc[key]
    if not isinstance(value, kind):
        raise ClaimError(f"{source}: {key} must be {what}, not {_kind(value)}")
    return value


def _text(value: object, where: str, source: str) -> str:
    if not isinstance(value, str):
        raise ClaimError(f"{source}: {where} must be a string, not {_kind(value)}")
    return value


def _component(name: str, value: object, source: str) -> ClaimedComponent:
    where = f"components.{name}"
    if not isinstance(value, dict):
        raise ClaimError(f"{source}: {where} must be an object, not {_kind(value)}")
    version = digest = None
    if "version" in value:
        version = _text(value["version"], f"{where}.version", source)
    if "digest" in value:
        digest = _text(value["digest"], f"{where}.digest", source)
        if not _DIGEST.fullmatch(digest):
            raise ClaimError(f"{source}: {where}.digest must be sha256:<64 hex digits>")
    return ClaimedComponent(name, version, digest)


def _kind(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "an object"
        case _:
            return type(value).__name__


# --- comparing ----------------------------------------------------------------------------------


def compare_claim(claim: Claim, measured: Measured, source: str = "claim") -> list[Finding]:
    """Each claimed fact against the signed SBOM and what this run measured: one finding per
    false fact and per fact this command cannot check, then ``claim-consistent`` when every
    fact that was checked is true (and at least one was)."""
    c = _Comparison(measured, source)
    c.deployment(claim)
    for i, patch in enumerate(claim.patches):
        c.patch(i, patch)
    for name, version in claim.packages:
        c.package(name, version)
    for component in claim.components:
        c.component(component)
    if claim.empty:
        c.unverified(
            "",
            f"{source}: the claim states none of the facts {SCHEMA_ID} defines "
            f"({', '.join(_FIELDS)}): nothing was checked",
        )
    return c.result()


@dataclass
class _Comparison:
    measured: Measured
    source: str
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    mismatches: int = 0
    unchecked: int = 0

    @property
    def command(self) -> str:
        return self.measured.command

    def true(self) -> None:
        self.checked += 1

    def false(
        self, path: str, message: str, expected: str, actual: str, component: str | None = None
    ) -> None:
        self.checked += 1
        self.mismatches += 1
        self.findings.append(
            Finding(
                "claim-mismatch",
                path,
                f"{self.source}: {message}",
                expected=expected,
                actual=actual,
                component=component,
            )
        )

    def unverified(self, path: str, message: str, component: str | None = None) -> None:
        self.unchecked += 1
        self.findings.append(Finding("claim-unverified", path, message, component=component))

    def result(self) -> list[Finding]:
        if self.checked and not self.mismatches:
            facts = f"{self.checked} fact{'s' if self.checked != 1 else ''} checked"
            if self.unchecked:
                facts += f"; {self.unchecked} this command cannot check, reported apart"
            self.findings.append(
                Finding(
                    "claim-consistent",
                    self.source,
                    f"{self.source}: claim consistent with what was measured ({facts})",
                )
            )
        return self.findings

    # --- one method per kind of fact ------------------------------------------------------------

    def deployment(self, claim: Claim) -> None:
        signed = self.measured.state.deployment
        if claim.deployment is not None:
            if claim.deployment == signed.name:
                self.true()
            else:
                self.false(
                    "deployment",
                    f"claims deployment {claim.deployment!r}, but the signed SBOM is for "
                    f"{signed.name!r}",
                    claim.deployment,
                    signed.name,
                )
        if claim.version is not None:
            if claim.version == signed.version:
                self.true()
            else:
                self.false(
                    "version",
                    f"claims version {claim.version!r}, but the signed release of "
                    f"{signed.name!r} is version {signed.version!r}",
                    claim.version,
                    signed.version,
                )

    def patch(self, index: int, patch_id: str) -> None:
        path = f"patches[{index}]"
        declared = [
            p for p in self.measured.state.patches if p.id.casefold() == patch_id.casefold()
        ]
        if not declared:
            self.false(
                path,
                f"claims patch {patch_id} applied, but the signed SBOM does not declare it",
                patch_id,
                "not declared in the signed SBOM",
            )
            return
        from chainguard.patches import patch_statuses

        statuses = [
            s for s in patch_statuses(self.measured) if s.id.casefold() == patch_id.casefold()
        ]
        not_applied = [s for s in statuses if s.applied is False]
        if not_applied:
            s = not_applied[0]
            self.false(
                path,
                f"claims patch {patch_id} applied, but {s.path} does not satisfy "
                f"{s.requirement} (measured: {s.actual})",
                patch_id,
                s.actual,
            )
        elif statuses and all(s.applied for s in statuses):
            self.true()
        else:
            requirement = statuses[0].requirement if statuses else declared[0].requirement
            self.unverified(
                path,
                f"{self.source}: claims patch {patch_id} applied ({requirement}); "
                f"{self.command} measures nothing it concerns: check it with "
                f"{_command_for(requirement)}",
            )

    def package(self, name: str, version: str) -> None:
        from packaging.utils import canonicalize_name

        path = f"packages.{name}"
        canonical = str(canonicalize_name(name))
        environments = [d for d in self.measured.dependencies if d.kind == "environment"]
        if not environments:
            observed = "observes no installed environment"
            if self.measured.dependencies:
                observed = "read a lockfile, not an installed environment"
            self.unverified(
                path,
                f"{self.source}: claims {name} {version} is installed; {self.command} "
                f"{observed}: check it with {CHECK_PACKAGES}",
                component=canonical,
            )
            return
        installed = [
            (env.name, d.version or "(no version)")
            for env in environments
            for d in env.dependencies
            if d.name == canonical
        ]
        wrong = [(env, v) for env, v in installed if not _same_version(v, version)]
        if installed and not wrong:
            self.true()
            return
        if not installed:
            where = ", ".join(env.name for env in environments)
            actual = "not installed"
            message = f"claims {name} {version} is installed, but it is not installed ({where})"
        else:
            actual = ", ".join(v for _, v in wrong)
            shown = ", ".join(f"{v} in {env}" for env, v in wrong)
            message = f"claims {name} {version} is installed, but {name} {shown} is"
        self.false(path, message, version, actual, component=canonical)

    def component(self, claimed: ClaimedComponent) -> None:
        path = f"components.{claimed.name}"
        matches = [
            c
            for c in self.measured.state.components
            if claimed.name in (c.name, f"{c.kind}:{c.name}", c.bom_ref)
        ]
        if len(matches) != 1:
            actual = f"no model or dataset named {claimed.name!r} in the signed SBOM"
            if matches:
                actual = (
                    f"{len(matches)} components named {claimed.name!r} in the signed SBOM "
                    f"(name one as model:{claimed.name} or dataset:{claimed.name})"
                )
            self.false(
                path,
                f"claims component {claimed.name!r}, but there is {actual}",
                claimed.name,
                actual,
            )
            return
        (signed,) = matches
        if claimed.version is None and claimed.digest is None:
            self.true()  # the claim that it exists: the signed SBOM has it
        if claimed.version is not None:
            self._component_version(path, claimed.version, signed)
        if claimed.digest is not None:
            self._component_digest(path, claimed.digest, signed)

    def _component_version(self, path: str, version: str, signed: ExpectedComponent) -> None:
        what = f"{signed.kind} {signed.name!r}"
        if signed.version is None:
            self.unverified(
                f"{path}.version",
                f"{self.source}: claims version {version!r} of {what}; the signed SBOM records "
                "no version for it, so no verify command can check it",
                component=signed.bom_ref,
            )
        elif version == signed.version:
            self.true()
        else:
            self.false(
                f"{path}.version",
                f"claims version {version!r} of {what}, but the signed SBOM says "
                f"{signed.version!r}",
                version,
                signed.version,
                component=signed.bom_ref,
            )

    def _component_digest(self, path: str, digest: str, signed: ExpectedComponent) -> None:
        from chainguard.patches import measured_digest

        what = f"{signed.kind} {signed.name!r}"
        measured = measured_digest(self.measured, f"{signed.kind}:{signed.name}")
        if measured is None:
            self.unverified(
                f"{path}.digest",
                f"{self.source}: claims {what} has digest {digest}; {self.command} did not "
                f"measure it: check it with {CHECK_TREE[signed.kind]}",
                component=signed.bom_ref,
            )
        elif digest.lower() == measured.lower():
            self.true()
        else:
            self.false(
                f"{path}.digest",
                f"claims {what} has digest {digest}, but its measured digest is {measured}",
                digest,
                measured,
                component=signed.bom_ref,
            )


def _command_for(requirement: str) -> str:
    """The command that measures what a patch requirement concerns."""
    kind, sep, _ = requirement.partition(":")
    if sep and kind in CHECK_TREE:
        return CHECK_TREE[kind]
    return CHECK_PACKAGES


def _same_version(installed: str, claimed: str) -> bool:
    """Equal as PEP 440 versions (2.6 == 2.6.0), else as written."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(installed) == Version(claimed)
    except InvalidVersion:
        return installed == claimed

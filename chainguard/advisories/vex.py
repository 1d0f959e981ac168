"""VEX statements: OpenVEX v0.2.0 documents and CycloneDX VEX (a BOM's ``vulnerabilities[]``),
reduced to one shape, ``VexStatement``: a vulnerability (its id and aliases), one PyPI package
(and version, when the statement names one) and a status.

Only PyPI packages are kept: a product or component named by a purl of another type (a
container image, a deb) is about something chainguard does not measure, and is passed over, as
is a CycloneDX ``affects[].ref`` that resolves to no PyPI purl (a BOM-Link to a BOM that is not
at hand). A document of the wrong shape is an AdvisoryError naming the file and the statement.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import unquote

from chainguard._strictjson import loads_strict, shown
from chainguard.errors import AdvisoryError

MAX_VEX_BYTES = 64 * 1024 * 1024

VexStatus = Literal["fixed", "not_affected", "affected", "under_investigation"]
OPENVEX_STATUSES: frozenset[str] = frozenset(
    {"fixed", "not_affected", "affected", "under_investigation"}
)
# CycloneDX analysis.state → the OpenVEX status it says (the CycloneDX VEX guidance's mapping).
CYCLONEDX_STATES: dict[str, VexStatus] = {
    "resolved": "fixed",
    "resolved_with_pedigree": "fixed",
    "not_affected": "not_affected",
    "false_positive": "not_affected",
    "exploitable": "affected",
    "in_triage": "under_investigation",
}
OPENVEX_CONTEXT = "https://openvex.dev/ns"


@dataclass(frozen=True, slots=True)
class VexStatement:
    vulnerability: str  # the id the statement names: CVE-…, GHSA-…, PYSEC-…
    aliases: tuple[str, ...]
    package: str  # PEP 503 normalised
    version: str | None  # from the purl; None: the statement is about every version
    status: VexStatus
    justification: str  # justification, impact statement or detail; "" when it gives none
    source: str  # "<file>: statements[3]", for messages

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(i.upper() for i in (self.vulnerability, *self.aliases))


def read_vex(path: Path, *, max_bytes: int = MAX_VEX_BYTES) -> list[VexStatement]:
    """The statements of one OpenVEX or CycloneDX VEX file that name a PyPI package."""
    try:
        with path.open("rb") as f:
            # the size first: a regular file over the cap is refused unread
            too_large = os.fstat(f.fileno()).st_size > max_bytes
            data = b"" if too_large else f.read(max_bytes + 1)
    except FileNotFoundError as e:
        raise AdvisoryError(f"{path}: no such VEX document") from e
    except IsADirectoryError as e:
        raise AdvisoryError(f"{path}: is a directory, not a VEX document") from e
    except OSError as e:
        raise AdvisoryError(f"{path}: cannot read VEX document: {e.strerror or e}") from e
    if too_large or len(data) > max_bytes:
        raise AdvisoryError(f"{path}: VEX document larger than {max_bytes} bytes (the cap)")
    return parse_vex(data, str(path))


def parse_vex(data: bytes, source: str) -> list[VexStatement]:
    doc = loads_strict(data, source, AdvisoryError)
    if not isinstance(doc, dict):
        raise AdvisoryError(f"{source}: a VEX document must be a JSON object")
    context = doc.get("@context")
    if isinstance(context, str) and context.startswith(OPENVEX_CONTEXT):
        return list(_openvex(doc, source))
    if doc.get("bomFormat") == "CycloneDX":
        return list(_cyclonedx(doc, source))
    raise AdvisoryError(
        f"{source}: neither OpenVEX (@context {OPENVEX_CONTEXT}/v0.2.0) nor CycloneDX VEX "
        '(bomFormat "CycloneDX")'
    )


# --- OpenVEX -----------------------------------------------------------------------------------


def _openvex(doc: dict[str, Any], source: str) -> Iterator[VexStatement]:
    statements = doc.get("statements")
    if not isinstance(statements, list):
        raise AdvisoryError(f"{source}: OpenVEX statements must be a list")
    for i, raw in enumerate(statements):
        where = f"{source}: statements[{i}]"
        if not isinstance(raw, dict):
            raise AdvisoryError(f"{where}: must be an object")
        name, aliases = _openvex_vulnerability(raw.get("vulnerability"), where)
        status = raw.get("status")
        if not isinstance(status, str) or status not in OPENVEX_STATUSES:  # a dict: unhashable
            raise AdvisoryError(
                f"{where}: status must be one of {', '.join(sorted(OPENVEX_STATUSES))}, "
                f"got {shown(status)}"
            )
        justification = _first_text(
            raw, ("justification", "impact_statement", "status_notes"), where
        )
        products = raw.get("products")
        if not isinstance(products, list) or not products:
            raise AdvisoryError(f"{where}: products must be a non-empty list")
        for package, version in _openvex_packages(products, f"{where}.products"):
            yield VexStatement(
                name, aliases, package, version, cast(VexStatus, status), justification, where
            )


def _openvex_vulnerability(raw: object, where: str) -> tuple[str, tuple[str, ...]]:
    """v0.2.0 names the vulnerability with an object (name, aliases); earlier drafts with a
    string, also accepted."""
    if isinstance(raw, str) and raw:
        return raw, ()
    if not isinstance(raw, dict):
        raise AdvisoryError(f"{where}: vulnerability must be an object with a name")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise AdvisoryError(f"{where}: vulnerability.name must be a non-empty string")
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise AdvisoryError(f"{where}: vulnerability.aliases must be a list of strings")
    return name, tuple(aliases)


def _openvex_packages(products: list[Any], where: str) -> Iterator[tuple[str, str | None]]:
    """The PyPI packages a statement's products name: each product's ``@id`` and
    ``identifiers.purl``, and those of its subcomponents (the product is often the deployment,
    and the subcomponent the distribution the vulnerability is in)."""
    for i, product in enumerate(products):
        here = f"{where}[{i}]"
        if isinstance(product, str):  # earlier drafts: products as a list of ids
            yield from _pypi(product, here)
            continue
        if not isinstance(product, dict):
            raise AdvisoryError(f"{here}: must be an object")
        yield from _component_packages(product, here)
        subcomponents = product.get("subcomponents", [])
        if not isinstance(subcomponents, list):
            raise AdvisoryError(f"{here}: subcomponents must be a list")
        for j, sub in enumerate(subcomponents):
            if not isinstance(sub, dict):
                raise AdvisoryError(f"{here}.subcomponents[{j}]: must be an object")
            yield from _component_packages(sub, f"{here}.subcomponents[{j}]")


def _component_packages(component: dict[str, Any], where: str) -> Iterator[tuple[str, str | None]]:
    names = []
    for key, value in (
        ("@id", component.get("@id")),
        ("identifiers.purl", _purl_of(component, where)),
    ):
        if value is None:
            continue
        if not isinstance(value, str):
            raise AdvisoryError(f"{where}: {key} must be a string")
        names.append(value)
    yield from dict.fromkeys(p for name in names for p in _pypi(name, where))


def _purl_of(component: dict[str, Any], where: str) -> object:
    identifiers = component.get("identifiers")
    if identifiers is None:
        return None
    if not isinstance(identifiers, dict):
        raise AdvisoryError(f"{where}: identifiers must be an object")
    return identifiers.get("purl")


# --- CycloneDX ---------------------------------------------------------------------------------


def _cyclonedx(doc: dict[str, Any], source: str) -> Iterator[VexStatement]:
    purls = _bom_refs(doc, source)
    vulnerabilities = doc.get("vulnerabilities", [])
    if not isinstance(vulnerabilities, list):
        raise AdvisoryError(f"{source}: vulnerabilities must be a list")
    for i, raw in enumerate(vulnerabilities):
        where = f"{source}: vulnerabilities[{i}]"
        if not isinstance(raw, dict):
            raise AdvisoryError(f"{where}: must be an object")
        name = raw.get("id")
        if not isinstance(name, str) or not name:
            raise AdvisoryError(f"{where}: id must be a non-empty string")
        aliases = tuple(_reference_ids(raw.get("references", []), where))
        analysis = raw.get("analysis")
        if analysis is None:
            continue  # a vulnerability listed without an analysis states nothing
        if not isinstance(analysis, dict):
            raise AdvisoryError(f"{where}: analysis must be an object")
        state = analysis.get("state")
        if state is None:
            continue
        if not isinstance(state, str) or state not in CYCLONEDX_STATES:
            raise AdvisoryError(
                f"{where}: analysis.state must be one of {', '.join(sorted(CYCLONEDX_STATES))}, "
                f"got {shown(state)}"
            )
        justification = _first_text(analysis, ("justification", "detail"), f"{where}.analysis")
        affects = raw.get("affects", [])
        if not isinstance(affects, list):
            raise AdvisoryError(f"{where}: affects must be a list")
        for j, affect in enumerate(affects):
            here = f"{where}.affects[{j}]"
            if not isinstance(affect, dict) or not isinstance(affect.get("ref"), str):
                raise AdvisoryError(f"{here}: must be an object with a ref (string)")
            for package, version in _resolve_ref(affect["ref"], purls, here):
                yield VexStatement(
                    name, aliases, package, version, CYCLONEDX_STATES[state], justification, where
                )


def _bom_refs(doc: dict[str, Any], source: str) -> dict[str, str]:
    """bom-ref → purl of every component of the BOM (metadata.component and nested ones)."""
    refs: dict[str, str] = {}
    metadata = doc.get("metadata", {})
    if not isinstance(metadata, dict):
        raise AdvisoryError(f"{source}: metadata must be an object")
    stack: list[tuple[object, str]] = [(metadata.get("component"), "metadata.component")]
    components = doc.get("components", [])
    if not isinstance(components, list):
        raise AdvisoryError(f"{source}: components must be a list")
    stack += [(c, f"components[{i}]") for i, c in enumerate(components)]
    while stack:
        component, where = stack.pop()
        if component is None:
            continue
        if not isinstance(component, dict):
            raise AdvisoryError(f"{source}: {where} must be an object")
        ref, purl = component.get("bom-ref"), component.get("purl")
        if isinstance(ref, str) and isinstance(purl, str):
            refs[ref] = purl
        nested = component.get("components", [])
        if not isinstance(nested, list):
            raise AdvisoryError(f"{source}: {where}.components must be a list")
        stack += [(c, f"{where}.components[{i}]") for i, c in enumerate(nested)]
    return refs


def _reference_ids(references: object, where: str) -> Iterator[str]:
    if not isinstance(references, list):
        raise AdvisoryError(f"{where}: references must be a list")
    for i, reference in enumerate(references):
        if not isinstance(reference, dict) or not isinstance(reference.get("id"), str):
            raise AdvisoryError(f"{where}.references[{i}]: must be an object with an id (string)")
        yield reference["id"]


def _resolve_ref(ref: str, purls: dict[str, str], where: str) -> Iterator[tuple[str, str | None]]:
    """A component of this BOM; else the ref itself as a purl (tools often make the purl the
    bom-ref); else the fragment of a BOM-Link (``urn:cdx:SERIAL/VERSION#REF``) read the same
    way."""
    if ref in purls:
        yield from _pypi(purls[ref], where)
    elif ref.startswith("pkg:"):
        yield from _pypi(ref, where)
    elif ref.startswith("urn:cdx:") and "#" in ref:
        fragment = unquote(ref.partition("#")[2])
        if not fragment.startswith("urn:"):
            yield from _resolve_ref(fragment, purls, where)


# --- shared --------------------------------------------------------------------------------------


def _pypi(purl: str, where: str) -> Iterator[tuple[str, str | None]]:
    """(normalised name, version or None) of a ``pkg:pypi/...`` purl; nothing for another kind
    of id (a URL, a purl of another type)."""
    if not purl.startswith("pkg:"):
        return
    from packageurl import PackageURL
    from packaging.utils import canonicalize_name

    try:
        parsed = PackageURL.from_string(purl)
    except ValueError as e:
        raise AdvisoryError(f"{where}: invalid purl {shown(purl)} ({e})") from e
    if parsed.type.lower() != "pypi":
        return
    yield str(canonicalize_name(parsed.name)), parsed.version or None


def _first_text(obj: dict[str, Any], keys: tuple[str, ...], where: str) -> str:
    for key in keys:
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise AdvisoryError(f"{where}: {key} must be a string")
        if value.strip():
            return value.strip()
    return ""

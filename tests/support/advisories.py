"""OSV records and VEX documents as tests write them: realistic shapes, no network.

``torch_ghsa()`` is GHSA-53q9-r3pm-6pq6 (CVE-2025-32434, torch.load with weights_only=True
still runs code) as the OSV PyPI export carries it, trimmed to the fields a reader meets.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TORCH_GHSA = "GHSA-53q9-r3pm-6pq6"
TORCH_CVE = "CVE-2025-32434"
TORCH_PYSEC = "PYSEC-2025-41"


def osv_record(
    record_id: str,
    package: str,
    events: Sequence[Mapping[str, str]],
    *,
    aliases: Sequence[str] = (),
    versions: Sequence[str] = (),
    summary: str = "",
    range_type: str = "ECOSYSTEM",
    ecosystem: str = "PyPI",
) -> dict[str, Any]:
    affected: dict[str, Any] = {
        "package": {"ecosystem": ecosystem, "name": package, "purl": f"pkg:pypi/{package}"},
        "ranges": [{"type": range_type, "events": [dict(e) for e in events]}],
    }
    if versions:
        affected["versions"] = list(versions)
    return {
        "schema_version": "1.6.0",
        "id": record_id,
        "modified": "2025-04-23T14:32:12Z",
        "published": "2025-04-18T15:58:46Z",
        "aliases": list(aliases),
        "summary": summary,
        "details": f"{summary}.",
        "affected": [affected],
        "references": [{"type": "ADVISORY", "url": f"https://osv.dev/vulnerability/{record_id}"}],
    }


def torch_ghsa() -> dict[str, Any]:
    record = osv_record(
        TORCH_GHSA,
        "torch",
        [{"introduced": "0"}, {"fixed": "2.6.0"}],
        aliases=[TORCH_CVE],
        summary="PyTorch: `torch.load` with `weights_only=True` leads to remote code execution",
    )
    record["severity"] = [
        {
            "type": "CVSS_V4",
            "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        }
    ]
    record["database_specific"] = {
        "cwe_ids": ["CWE-502"],
        "github_reviewed": True,
        "severity": "CRITICAL",
    }
    return record


def torch_pysec() -> dict[str, Any]:
    """The PYSEC record of the same CVE, as the PyPI export also carries it."""
    return osv_record(
        TORCH_PYSEC,
        "torch",
        [{"introduced": "0"}, {"fixed": "2.6.0"}],
        aliases=[TORCH_CVE, TORCH_GHSA],
        versions=["2.4.0", "2.4.1", "2.5.0", "2.5.1"],
    )


def write_records(directory: Path, *records: Mapping[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for record in records:
        (directory / f"{record['id']}.json").write_text(json.dumps(record, indent=2))
    return directory


def write_zip(path: Path, entries: Mapping[str, bytes | Mapping[str, Any]]) -> Path:
    """A zip like the OSV export (``<ID>.json`` entries, deflated)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            data = content if isinstance(content, bytes) else json.dumps(content).encode()
            archive.writestr(name, data)
    return path


def openvex(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/svc-2025-04",
        "author": "Release Engineering <release@example.com>",
        "timestamp": "2025-04-24T09:00:00Z",
        "version": 1,
        "statements": [dict(s) for s in statements],
    }


def openvex_statement(
    vulnerability: str,
    purl: str,
    status: str,
    *,
    aliases: Sequence[str] = (),
    justification: str | None = None,
    product: str | None = None,
) -> dict[str, Any]:
    """A statement about ``purl``: the product itself, or a subcomponent of ``product``."""
    vuln: dict[str, Any] = {"name": vulnerability}
    if aliases:
        vuln["aliases"] = list(aliases)
    if product is None:
        products: list[dict[str, Any]] = [{"@id": purl}]
    else:
        products = [{"@id": product, "subcomponents": [{"@id": purl}]}]
    statement: dict[str, Any] = {"vulnerability": vuln, "products": products, "status": status}
    if justification is not None:
        statement["justification"] = justification
    return statement


def cyclonedx_vex(
    vulnerability: str,
    components: Mapping[str, str],
    state: str,
    *,
    references: Sequence[str] = (),
    justification: str | None = None,
) -> dict[str, Any]:
    """A CycloneDX VEX BOM: ``components`` is bom-ref → purl, each affected."""
    analysis: dict[str, Any] = {"state": state}
    if justification is not None:
        analysis["justification"] = justification
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": [
            {"type": "library", "bom-ref": ref, "name": purl.split("/")[-1], "purl": purl}
            for ref, purl in components.items()
        ],
        "vulnerabilities": [
            {
                "id": vulnerability,
                "source": {"name": "NVD", "url": "https://nvd.nist.gov/"},
                "references": [{"id": r, "source": {"name": "GitHub"}} for r in references],
                "analysis": analysis,
                "affects": [{"ref": ref} for ref in components],
            }
        ],
    }


def write_json(path: Path, document: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path

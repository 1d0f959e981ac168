"""Reading VEX (chainguard/advisories/vex.py): OpenVEX v0.2.0 and CycloneDX VEX to one
statement shape; malformed documents are one line naming the file and statement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.advisories import (
    TORCH_CVE,
    TORCH_GHSA,
    cyclonedx_vex,
    openvex,
    openvex_statement,
    write_json,
)

from chainguard.advisories.vex import VexStatement, parse_vex, read_vex
from chainguard.errors import AdvisoryError


def parse(doc: dict[str, Any]) -> list[VexStatement]:
    return parse_vex(json.dumps(doc).encode(), "vex.json")


def test_openvex_statement() -> None:
    doc = openvex(
        openvex_statement(
            TORCH_CVE,
            "pkg:pypi/torch@2.5.1",
            "not_affected",
            aliases=[TORCH_GHSA],
            justification="vulnerable_code_not_in_execute_path",
        )
    )
    assert parse(doc) == [
        VexStatement(
            TORCH_CVE,
            (TORCH_GHSA,),
            "torch",
            "2.5.1",
            "not_affected",
            "vulnerable_code_not_in_execute_path",
            "vex.json: statements[0]",
        )
    ]


def test_openvex_products_subcomponents_identifiers_and_other_purl_types() -> None:
    statement = openvex_statement(
        TORCH_CVE, "pkg:pypi/Torch_Vision", "fixed", product="pkg:oci/svc@sha256%3Aabc"
    )
    statement["products"].append({"@id": "urn:x", "identifiers": {"purl": "pkg:pypi/numpy@2.1.3"}})
    found = [(s.package, s.version, s.status) for s in parse(openvex(statement))]
    assert found == [("torch-vision", None, "fixed"), ("numpy", "2.1.3", "fixed")]


def test_openvex_impact_statement_stands_for_a_missing_justification() -> None:
    statement = openvex_statement(TORCH_CVE, "pkg:pypi/torch", "not_affected")
    statement["impact_statement"] = "torch.load is never called on untrusted files"
    (found,) = parse(openvex(statement))
    assert found.justification == "torch.load is never called on untrusted files"


def test_openvex_earlier_draft_shapes() -> None:
    doc = openvex({"vulnerability": TORCH_CVE, "products": ["pkg:pypi/torch"], "status": "fixed"})
    doc["@context"] = "https://openvex.dev/ns"
    (found,) = parse(doc)
    assert (found.vulnerability, found.package, found.version) == (TORCH_CVE, "torch", None)


def test_cyclonedx_vex() -> None:
    doc = cyclonedx_vex(
        TORCH_CVE,
        {"torch-ref": "pkg:pypi/torch@2.5.1", "img": "pkg:oci/svc@sha256%3Aabc"},
        "resolved",
        references=[TORCH_GHSA],
    )
    doc["vulnerabilities"][0]["affects"].append({"ref": "pkg:pypi/numpy@2.1.3"})
    doc["vulnerabilities"][0]["affects"].append(
        {"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#pkg:pypi/idna@3.10"}
    )
    doc["vulnerabilities"][0]["affects"].append({"ref": "urn:cdx:other/1#unknown-ref"})
    found = [(s.vulnerability, s.aliases, s.package, s.version, s.status) for s in parse(doc)]
    assert found == [
        (TORCH_CVE, (TORCH_GHSA,), "torch", "2.5.1", "fixed"),
        (TORCH_CVE, (TORCH_GHSA,), "numpy", "2.1.3", "fixed"),
        (TORCH_CVE, (TORCH_GHSA,), "idna", "3.10", "fixed"),
    ]


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("resolved", "fixed"),
        ("resolved_with_pedigree", "fixed"),
        ("not_affected", "not_affected"),
        ("false_positive", "not_affected"),
        ("exploitable", "affected"),
        ("in_triage", "under_investigation"),
    ],
)
def test_cyclonedx_states(state: str, status: str) -> None:
    doc = cyclonedx_vex(
        TORCH_CVE, {"t": "pkg:pypi/torch@2.5.1"}, state, justification="code_not_reachable"
    )
    (found,) = parse(doc)
    assert found.status == status and found.justification == "code_not_reachable"


def test_cyclonedx_vulnerability_without_analysis_states_nothing() -> None:
    doc = cyclonedx_vex(TORCH_CVE, {"t": "pkg:pypi/torch@2.5.1"}, "resolved")
    del doc["vulnerabilities"][0]["analysis"]
    assert parse(doc) == []
    doc.pop("vulnerabilities")
    assert parse(doc) == []


def test_cyclonedx_nested_components_resolve() -> None:
    doc = cyclonedx_vex(TORCH_CVE, {}, "resolved")
    doc["metadata"] = {
        "component": {
            "type": "application",
            "bom-ref": "svc",
            "name": "svc",
            "components": [
                {"type": "library", "bom-ref": "t", "name": "torch", "purl": "pkg:pypi/torch@2.5.1"}
            ],
        }
    }
    doc["vulnerabilities"][0]["affects"] = [{"ref": "t"}, {"ref": "svc"}]
    assert [(s.package, s.version) for s in parse(doc)] == [("torch", "2.5.1")]


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ({"hello": 1}, "neither OpenVEX"),
        (
            openvex({"vulnerability": {}, "products": [], "status": "fixed"}),
            "statements[0]: vulnerability.name",
        ),
        (
            openvex(
                {
                    "vulnerability": {"name": "CVE-1"},
                    "products": [{"@id": "pkg:pypi/a"}],
                    "status": "patched",
                }
            ),
            "status must be one of affected, fixed, not_affected, under_investigation",
        ),
        (
            openvex({"vulnerability": {"name": "CVE-1"}, "status": "fixed"}),
            "products must be a non-empty list",
        ),
        (
            openvex(
                {
                    "vulnerability": {"name": "CVE-1"},
                    "products": [{"@id": "pkg:"}],
                    "status": "fixed",
                }
            ),
            "invalid purl",
        ),
        (
            openvex(
                {
                    "vulnerability": {"name": "CVE-1", "aliases": "x"},
                    "products": [{"@id": "pkg:pypi/a"}],
                    "status": "fixed",
                }
            ),
            "aliases must be a list of strings",
        ),
        ({**openvex(), "statements": {}}, "statements must be a list"),
        ({"bomFormat": "CycloneDX", "vulnerabilities": [{"id": 1}]}, "vulnerabilities[0]: id"),
        (
            {
                "bomFormat": "CycloneDX",
                "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": "fine"}}],
            },
            "analysis.state must be one of",
        ),
        (
            {
                "bomFormat": "CycloneDX",
                "vulnerabilities": [
                    {"id": "CVE-1", "analysis": {"state": "resolved"}, "affects": [{}]}
                ],
            },
            "affects[0]: must be an object with a ref",
        ),
        ({"bomFormat": "CycloneDX", "components": {}}, "components must be a list"),
    ],
)
def test_malformed_vex(tmp_path: Path, doc: dict[str, Any], says: str) -> None:
    path = write_json(tmp_path / "bad.vex.json", doc)
    with pytest.raises(AdvisoryError) as e:
        read_vex(path)
    message = str(e.value)
    assert message.startswith(f"{path}: ") and says in message and "\n" not in message


@pytest.mark.parametrize(
    ("content", "says"),
    [(b'{"statements": [], "statements": []}', "duplicate JSON key"), (b"{", "not valid JSON")],
)
def test_not_strict_json(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(AdvisoryError, match=says):
        read_vex(path)


def test_unreadable_and_oversized(tmp_path: Path) -> None:
    with pytest.raises(AdvisoryError, match="no such VEX document"):
        read_vex(tmp_path / "absent.json")
    with pytest.raises(AdvisoryError, match="is a directory"):
        read_vex(tmp_path)
    big = write_json(tmp_path / "big.json", openvex())
    with pytest.raises(AdvisoryError, match="larger than 10 bytes"):
        read_vex(big, max_bytes=10)

"""Declared patches in the SBOM: the CycloneDX shape of docs/formats.md (vulnerabilities[],
pedigree.patches[]), schema validity, both render paths byte-identical, the strict read back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from support.sbom_inputs import (
    DATASET,
    DEPLOYMENT,
    MODEL,
    SERIAL_NUMBER,
    TIMESTAMP,
    hexdigest,
)
from support.surgery import component_of

from chainguard.errors import SbomError
from chainguard.models import DeclaredPatch, Dependency, tree_digest
from chainguard.sbom.build import build_sbom
from chainguard.sbom.read import read_sbom

TORCH = (
    Dependency("torch", "2.6.0", manifest="environment:venv", record_sha256=hexdigest("r")),
    Dependency("torch", "2.6.0", purl="pkg:pypi/torch@2.6.0", manifest="uv-lock:uv.lock"),
    Dependency("numpy", "2.1.3", manifest="uv-lock:uv.lock"),
)
MODEL_ROOT = tree_digest(MODEL.files)
CONFIG_SHA = next(f.sha256 for f in MODEL.files if f.path == "config.json")
PATCHES = (
    DeclaredPatch("CVE-2025-32434", "torch>=2.6.0"),
    DeclaredPatch(
        "MODEL-2026-07-backdoor-removal", f"model:llama-mini/config.json@sha256:{CONFIG_SHA}"
    ),
    DeclaredPatch("DATA-1", f"dataset:llama-mini@sha256:{tree_digest(DATASET.files)}"),
)


def build(patches: tuple[DeclaredPatch, ...] = PATCHES, *, via_cyclonedx: bool = False) -> bytes:
    return build_sbom(
        DEPLOYMENT,
        (MODEL, DATASET),
        TORCH,
        timestamp=TIMESTAMP,
        serial_number=SERIAL_NUMBER,
        files_via_cyclonedx=via_cyclonedx,
        patches=patches,
    )


@pytest.fixture(scope="module")
def data() -> bytes:
    return build()


@pytest.fixture
def doc(data: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(data)
    return parsed


def test_valid_against_the_strict_cyclonedx_16_schema(data: bytes) -> None:
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode()) is None


def test_both_render_paths_write_the_same_bytes(data: bytes) -> None:
    assert build(via_cyclonedx=True) == data


def test_a_vulnerability_entry_per_declared_patch(doc: dict[str, Any]) -> None:
    by_id = {v["id"]: v for v in doc["vulnerabilities"]}
    assert by_id["CVE-2025-32434"] == {
        "affects": [
            {"ref": "pkg:pypi/torch@2.6.0#uv-lock:uv.lock"},
            {"ref": "pkg:torch@2.6.0#environment:venv"},
        ],
        "analysis": {"response": ["update"], "state": "resolved"},
        "bom-ref": "patch:CVE-2025-32434",
        "id": "CVE-2025-32434",
        "properties": [{"name": "chainguard:patch:requirement", "value": "torch>=2.6.0"}],
    }
    model_patch = by_id["MODEL-2026-07-backdoor-removal"]
    assert model_patch["affects"] == [{"ref": "model:llama-mini"}]
    assert model_patch["properties"][0]["value"].startswith("model:llama-mini/config.json@sha256:")
    assert by_id["DATA-1"]["affects"] == [{"ref": "dataset:llama-mini"}]
    assert list(doc)[-1] == "vulnerabilities"


def test_pedigree_patches_on_the_patched_model_and_dataset(doc: dict[str, Any]) -> None:
    assert component_of(doc, "model:llama-mini")["pedigree"] == {
        "patches": [
            {
                "resolves": [{"id": "MODEL-2026-07-backdoor-removal", "type": "security"}],
                "type": "unofficial",
            }
        ]
    }
    assert component_of(doc, "dataset:llama-mini")["pedigree"]["patches"][0]["resolves"][0] == {
        "id": "DATA-1",
        "type": "security",
    }
    libraries = [c for c in doc["components"] if c["type"] == "library"]
    assert all("pedigree" not in c for c in libraries)


def test_no_patches_no_vulnerabilities() -> None:
    doc = json.loads(build(()))
    assert "vulnerabilities" not in doc
    assert all("pedigree" not in c for c in doc["components"])


def test_round_trip(data: bytes) -> None:
    assert set(read_sbom(data, "sbom").patches) == set(PATCHES)


@pytest.mark.parametrize(
    ("patches", "says"),
    [
        ((DeclaredPatch("CVE-2025-1111", "scipy>=1"),), "no dependency named 'scipy'"),
        ((DeclaredPatch("M-1", f"model:other@sha256:{MODEL_ROOT}"),), "no component 'model:other'"),
        ((DeclaredPatch("M-1", "torch>=2"), DeclaredPatch("M-1", "numpy>=2")), "declared twice"),
        ((DeclaredPatch("cve-1", "torch>=2"),), "CVE-YYYY-NNNN"),
        ((DeclaredPatch("M-1", "torch"),), "no version specifier"),
    ],
)
def test_build_refuses_what_read_would_refuse(
    patches: tuple[DeclaredPatch, ...], says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        build(patches)


# --- the strict read ----------------------------------------------------------------------------


def vulnerability(doc: dict[str, Any], pid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(v for v in doc["vulnerabilities"] if v["id"] == pid)
    return found


def edited(data: bytes, edit: Callable[[dict[str, Any]], object]) -> bytes:
    doc = json.loads(data)
    edit(doc)
    return json.dumps(doc).encode()


def _set(node: dict[str, Any], key: str, value: object) -> None:
    node[key] = value


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda d: _set(d, "vulnerabilities", {}), "vulnerabilities must be a list"),
        (lambda d: d["vulnerabilities"].append("x"), "must be an object"),
        (
            lambda d: _set(vulnerability(d, "CVE-2025-32434"), "id", "cve-2025-32434"),
            "CVE-YYYY-NNNN",
        ),
        (lambda d: _set(vulnerability(d, "CVE-2025-32434"), "id", ""), "id must not be empty"),
        (
            lambda d: vulnerability(d, "CVE-2025-32434")["properties"][0].update(value="torch"),
            "no version specifier",
        ),
        (
            lambda d: vulnerability(d, "CVE-2025-32434")["properties"][0].update(value="scipy>=1"),
            "lists no library 'scipy'",
        ),
        (
            lambda d: vulnerability(d, "DATA-1")["properties"][0].update(
                value=f"model:nope@sha256:{MODEL_ROOT}"
            ),
            "lists no component 'model:nope'",
        ),
        (
            lambda d: vulnerability(d, "CVE-2025-32434")["analysis"].update(state="exploitable"),
            "analysis.state must be 'resolved'",
        ),
        (lambda d: vulnerability(d, "CVE-2025-32434").pop("analysis"), "analysis must be"),
        (lambda d: vulnerability(d, "CVE-2025-32434").pop("affects"), "affects must be a list"),
        (
            lambda d: vulnerability(d, "CVE-2025-32434")["affects"].pop(),
            "affects must be the components its requirement names",
        ),
        (
            lambda d: _set(vulnerability(d, "DATA-1"), "affects", [{"ref": "model:llama-mini"}]),
            "affects must be the components its requirement names",
        ),
        (
            lambda d: vulnerability(d, "DATA-1")["properties"].append(
                {"name": "chainguard:patch:requirement", "value": "torch>=2"}
            ),
            "appears twice",
        ),
        (
            lambda d: d["vulnerabilities"].append(vulnerability(d, "DATA-1")),
            "is declared twice",
        ),
    ],
)
def test_a_malformed_declaration_is_a_one_line_sbom_error(
    data: bytes, edit: Callable[[dict[str, Any]], object], says: str
) -> None:
    with pytest.raises(SbomError) as e:
        read_sbom(edited(data, edit), "signed payload")
    message = str(e.value)
    assert says in message and message.startswith("signed payload: ") and "\n" not in message
    assert e.value.exit_code == 3


def test_vulnerabilities_chainguard_did_not_declare_are_ignored(data: bytes) -> None:
    other = {"id": "CVE-2024-0001", "analysis": {"state": "exploitable"}, "affects": []}
    state = read_sbom(edited(data, lambda d: d["vulnerabilities"].append(other)), "sbom")
    assert {p.id for p in state.patches} == {p.id for p in PATCHES}


def test_the_pedigree_is_informational(data: bytes) -> None:
    """chainguard reads the vulnerabilities[] entries only: the pedigree may be absent."""

    def drop(d: dict[str, Any]) -> None:
        for c in d["components"]:
            c.pop("pedigree", None)

    assert set(read_sbom(edited(data, drop), "sbom").patches) == set(PATCHES)

"""build_sbom: the document shape of docs/formats.md, schema validity, determinism, refusals."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from support.sbom_inputs import (
    DATASET,
    DEPENDENCIES,
    DEPLOYMENT,
    MODEL,
    SERIAL_NUMBER,
    SHARD,
    TIMESTAMP,
    build,
    hexdigest,
    plain_file,
    sharded_file,
)
from support.surgery import component_of, file_node, props

import chainguard
from chainguard.errors import SbomError
from chainguard.models import Dependency, DeploymentInfo, FileDigest, Property, tree_digest
from chainguard.sbom.build import ComponentInput, build_sbom


@pytest.fixture(scope="module")
def data() -> bytes:
    return build()


@pytest.fixture(scope="module")
def doc(data: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(data)
    return parsed


def test_output_passes_the_strict_cyclonedx_16_schema(data: bytes) -> None:
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode()) is None


def test_output_is_pretty_utf8_with_trailing_newline(data: bytes) -> None:
    assert data.endswith(b"}\n")
    assert b'\n  "bomFormat": "CycloneDX"' in data
    assert "vocab été.txt".encode() in data  # written as UTF-8, not \u escapes


def test_header_and_metadata(doc: dict[str, Any]) -> None:
    assert list(doc)[:5] == ["$schema", "bomFormat", "specVersion", "serialNumber", "version"]
    assert doc["specVersion"] == "1.6"
    assert doc["serialNumber"] == f"urn:uuid:{SERIAL_NUMBER}"
    meta = doc["metadata"]
    assert meta["timestamp"] == "2026-11-26T21:00:00Z"
    assert meta["tools"]["components"] == [
        {"type": "application", "name": "chainguard", "version": chainguard.__version__}
    ]
    root = meta["component"]
    assert root["type"] == "application"
    assert root["bom-ref"] == "deployment:fraud-scorer"
    assert (root["name"], root["version"]) == ("fraud-scorer", "2.3.1")
    assert props(root) == {"chainguard:serial": "7", "chainguard:expires": "2027-01-01T00:00:00Z"}


def test_expires_is_optional() -> None:
    doc = json.loads(build(deployment=dataclasses.replace(DEPLOYMENT, expires=None)))
    assert props(doc["metadata"]["component"]) == {"chainguard:serial": "7"}


def test_model_and_dataset_components(doc: dict[str, Any]) -> None:
    model = component_of(doc, "model:llama-mini")
    assert model["type"] == "machine-learning-model"
    assert model["name"] == "llama-mini"
    assert model["hashes"] == [{"alg": "SHA-256", "content": tree_digest(MODEL.files)}]
    assert props(model) == {
        "chainguard:root-digest": "chainguard-tree-v1",
        "chainguard:file-count": "4",
        "chainguard:total-size": str(120 + 25 + 80 + 0),
    }
    names = [f["name"] for f in model["components"]]
    assert names == sorted(names, key=str.encode)
    assert all(f["type"] == "file" for f in model["components"])
    assert file_node(doc, "model:llama-mini", "config.json")["bom-ref"] == (
        "model:llama-mini/config.json"
    )
    dataset = component_of(doc, "dataset:llama-mini")
    assert dataset["type"] == "data"
    assert dataset["hashes"][0]["content"] == tree_digest(DATASET.files)


def test_file_hashes_and_size(doc: dict[str, Any]) -> None:
    config = file_node(doc, "model:llama-mini", "config.json")
    assert {h["alg"]: h["content"] for h in config["hashes"]} == {
        "SHA-256": MODEL.files[0].sha256,
        "BLAKE3": hexdigest("b3"),
    }
    assert props(config) == {"chainguard:size": "120"}


def test_shard_properties_only_on_sharded_files(doc: dict[str, Any]) -> None:
    big = file_node(doc, "model:llama-mini", "model.safetensors")
    shards = [hexdigest(f"model.safetensors#{i}") for i in range(3)]
    assert props(big) == {
        "chainguard:size": "25",
        "chainguard:shard-size": str(SHARD),
        "chainguard:shards": ",".join(shards),
    }
    exact = FileDigest(path="exact.bin", size=SHARD, sha256=hexdigest("x"), shard_size=SHARD)
    small = build(components=(ComponentInput("model", "m", (exact,)),), dependencies=())
    assert props(file_node(json.loads(small), "model:m", "exact.bin")) == {
        "chainguard:size": str(SHARD)
    }


def test_safetensors_properties(doc: dict[str, Any]) -> None:
    node = file_node(doc, "model:llama-mini", "weights/extra.safetensors")
    assert props(node) == {
        "chainguard:size": "80",
        "chainguard:safetensors:tensor-count": "3",
        "chainguard:safetensors:dtypes": "BF16,F32",
        "chainguard:safetensors:parameters": "1234",
        "chainguard:safetensors:metadata:empty": "",
        "chainguard:safetensors:metadata:format": "pt",
        "chainguard:safetensors:metadata:note": "line\nbreak, comma",
    }


def test_library_components(doc: dict[str, Any]) -> None:
    numpy = component_of(doc, "pkg:pypi/numpy@2.1.0")
    assert numpy["type"] == "library"
    assert (numpy["name"], numpy["version"], numpy["purl"]) == (
        "numpy",
        "2.1.0",
        "pkg:pypi/numpy@2.1.0",
    )
    # where cyclonedx-py puts them: the distribution reference, not the component's own hashes
    assert "hashes" not in numpy
    (distribution,) = numpy["externalReferences"]
    assert {k: v for k, v in distribution.items() if k != "hashes"} == {
        "type": "distribution",
        "url": "https://pypi.org/simple/numpy/",
        "comment": "implicit dist url",
    }
    assert sorted(h["content"] for h in distribution["hashes"]) == sorted(
        [hexdigest("np-sdist"), hexdigest("np-wheel")]
    )
    assert {h["alg"] for h in distribution["hashes"]} == {"SHA-256"}
    assert props(numpy) == {"chainguard:source": "requirements.lock"}
    st = component_of(doc, "pkg:safetensors@0.4.5")
    assert "purl" not in st
    assert props(st) == {"chainguard:record-sha256": hexdigest("record"), "installer": "pip"}


def test_dependency_graph_hangs_everything_off_the_deployment(doc: dict[str, Any]) -> None:
    root = next(d for d in doc["dependencies"] if d["ref"] == "deployment:fraud-scorer")
    assert sorted(root["dependsOn"]) == sorted(c["bom-ref"] for c in doc["components"])


def test_no_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build()
        build(dependencies=())
        build(components=(), dependencies=())


def test_deterministic_and_independent_of_input_order(data: bytes) -> None:
    assert build() == data
    shuffled = dataclasses.replace(MODEL, files=tuple(reversed(MODEL.files)))
    assert build(components=(DATASET, shuffled), dependencies=DEPENDENCIES[::-1]) == data


def test_serial_number_defaults_to_deployment_then_random() -> None:
    d = dataclasses.replace(DEPLOYMENT, bom_serial_number=None)
    first = json.loads(build_sbom(d, [MODEL], timestamp=TIMESTAMP))["serialNumber"]
    second = json.loads(build_sbom(d, [MODEL], timestamp=TIMESTAMP))["serialNumber"]
    assert first != second and first.startswith("urn:uuid:")
    kept = json.loads(build_sbom(DEPLOYMENT, [MODEL], timestamp=TIMESTAMP))["serialNumber"]
    assert kept == f"urn:uuid:{SERIAL_NUMBER}"


def test_timestamp_is_converted_to_utc_seconds() -> None:
    local = datetime(2026, 11, 27, 1, 0, 0, 999, tzinfo=timezone(timedelta(hours=4)))
    doc = json.loads(build_sbom(DEPLOYMENT, [], timestamp=local, serial_number=SERIAL_NUMBER))
    assert doc["metadata"]["timestamp"] == "2026-11-26T21:00:00Z"


def _model(*files: FileDigest) -> ComponentInput:
    return ComponentInput("model", "m", files)


BAD_INPUTS = [
    pytest.param(DEPLOYMENT, [_model(plain_file("../x"))], (), "unsafe path", id="unsafe-path"),
    pytest.param(
        DEPLOYMENT, [_model(plain_file("a"), plain_file("a"))], (), "twice", id="dup-path"
    ),
    pytest.param(DEPLOYMENT, [_model(), _model()], (), "twice", id="dup-component"),
    pytest.param(DEPLOYMENT, [ComponentInput("model", "", ())], (), "non-empty", id="no-name"),
    pytest.param(
        DEPLOYMENT,
        [_model(FileDigest(path="a", size=1))],
        (),
        "sha256",
        id="missing-sha256",
    ),
    pytest.param(
        DEPLOYMENT,
        [_model(FileDigest(path="a", size=1, sha256="AB" * 32))],
        (),
        "lowercase",
        id="uppercase-sha256",
    ),
    pytest.param(
        DEPLOYMENT,
        [_model(dataclasses.replace(sharded_file("a", 25), shards=(hexdigest("s"),) * 2))],
        (),
        "2 shard digests for 3 shards",
        id="shard-count",
    ),
    pytest.param(
        DEPLOYMENT,
        [_model(dataclasses.replace(plain_file("a"), shard_size=0))],
        (),
        "shard size",
        id="zero-shard-size",
    ),
    pytest.param(
        dataclasses.replace(DEPLOYMENT, expires="next tuesday"),
        [],
        (),
        "RFC 3339",
        id="bad-expires",
    ),
    pytest.param(dataclasses.replace(DEPLOYMENT, serial=-1), [], (), "serial", id="neg-serial"),
    pytest.param(
        dataclasses.replace(DEPLOYMENT, serial=2**63), [], (), "serial", id="serial-2**63"
    ),
    pytest.param(
        DEPLOYMENT,
        [dataclasses.replace(MODEL, files=(dataclasses.replace(MODEL.files[0], size=2**63),))],
        (),
        "size",
        id="size-2**63",
    ),
    pytest.param(dataclasses.replace(DEPLOYMENT, version=""), [], (), "version", id="no-version"),
    pytest.param(
        DEPLOYMENT,
        [],
        (Dependency("x", "1", hashes=("crc32:abcd",)),),
        "unsupported hash",
        id="dep-hash-alg",
    ),
    pytest.param(
        DEPLOYMENT,
        [],
        (Dependency("x", "1", hashes=("sha256:abcd",)),),
        "right length",
        id="dep-hash-length",
    ),
    pytest.param(
        DEPLOYMENT,
        [],
        (Dependency("x", "1"), Dependency("x", "1", source="other.lock")),
        "twice",
        id="dup-dependency",
    ),
    pytest.param(
        DEPLOYMENT,
        [],
        (Dependency("x", "1", extras=(Property("chainguard:source", "x"),)),),
        "extras may not use",
        id="reserved-extra",
    ),
    pytest.param(
        DEPLOYMENT, [], (Dependency("x", "1", purl="not a purl"),), "invalid purl", id="bad-purl"
    ),
]


@pytest.mark.parametrize(("deployment", "components", "dependencies", "message"), BAD_INPUTS)
def test_refuses_what_cannot_be_recorded_faithfully(
    deployment: DeploymentInfo,
    components: list[ComponentInput],
    dependencies: tuple[Dependency, ...],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        build_sbom(deployment, components, dependencies, timestamp=TIMESTAMP)
    assert "\n" not in str(info.value)


def test_refuses_naive_timestamp() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_sbom(DEPLOYMENT, [], timestamp=datetime(2026, 1, 1))


def test_verify_path_modules_import_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import chainguard.sbom.read, chainguard.sbom.build, chainguard.collectors.safetensors\n"
        "heavy = {'cyclonedx', 'jsonschema', 'packageurl', 'packaging', 'safetensors', 'numpy'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_schema_is_checked_in_pieces_that_cover_every_entry() -> None:
    from chainguard.sbom.build import _schema_parts, _validate

    many = ComponentInput("dataset", "big", tuple(plain_file(f"f{i:03}") for i in range(333)))
    doc = json.loads(build(components=(MODEL, many)))
    parts = list(_schema_parts(doc))
    nested = [f for p in parts for c in p.get("components", []) for f in c.get("components", [])]
    assert len(nested) == 333 + len(MODEL.files)
    assert max(len(c.get("components", [])) for p in parts for c in p.get("components", [])) <= 50

    last = component_of(doc, "dataset:big")["components"][-1]
    last["hashes"][0]["alg"] = "SHA-999"  # in the last piece
    with pytest.raises(SbomError, match=r"does not conform to CycloneDX 1\.6"):
        _validate(doc)


@pytest.mark.parametrize("serial", [2**63, -1])
def test_the_library_refuses_a_serial_outside_64_bits_before_hashing(
    tmp_path: Path, serial: int
) -> None:
    from chainguard import api
    from chainguard.errors import UsageError

    with pytest.raises(UsageError, match=r"outside 0\.\.9223372036854775807"):
        api.build_sbom(
            name="svc", version="1", models=[tmp_path / "absent"], output=tmp_path / "x.json",
            serial=serial,
        )  # fmt: skip
    assert not (tmp_path / "x.json").exists()

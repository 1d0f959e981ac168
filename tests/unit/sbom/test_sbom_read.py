"""read_sbom: round trip with build_sbom, unsafe paths, and every malformed document."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from support.sbom_inputs import (
    DATASET,
    DEPENDENCIES,
    DEPLOYMENT,
    MODEL,
    build,
    hexdigest,
    mutated,
    plain_file,
)
from support.surgery import component_of, file_node, props, reseal_all, set_prop

from chainguard.errors import SbomError
from chainguard.models import FileDigest, tree_digest
from chainguard.sbom.read import read_sbom, read_sbom_file

MODEL_REF = "model:llama-mini"


def by_path(files: tuple[FileDigest, ...]) -> tuple[FileDigest, ...]:
    return tuple(sorted(files, key=lambda f: f.path.encode()))


# --- round trip ----------------------------------------------------------------------------------


def test_round_trip_preserves_everything() -> None:
    data = build()
    state = read_sbom(data, "sbom.json")
    assert state.deployment == DEPLOYMENT
    assert state.sbom_sha256 == hashlib.sha256(data).hexdigest()
    model, dataset = sorted(state.components, key=lambda c: c.kind, reverse=True)
    for got, want in ((model, MODEL), (dataset, DATASET)):
        assert (got.kind, got.name, got.bom_ref) == (
            want.kind,
            want.name,
            f"{want.kind}:{want.name}",
        )
        assert got.files == by_path(want.files)  # every FileDigest field, shards and all
        assert got.root_digest == tree_digest(want.files)
        assert got.unsafe_paths == ()
        assert got.version is None
        assert {p.name for p in got.properties} == {
            "chainguard:root-digest",
            "chainguard:file-count",
            "chainguard:total-size",
        }
    assert sorted(state.dependencies, key=lambda d: d.name) == list(DEPENDENCIES)


def test_round_trip_of_an_empty_deployment() -> None:
    state = read_sbom(build(components=(), dependencies=()), "x")
    assert state.components == () and state.dependencies == ()


def test_library_names_are_normalised() -> None:
    def rename(doc: dict[str, Any]) -> None:
        component_of(doc, "pkg:safetensors@0.4.5")["name"] = "Safe_Tensors.Lib"

    state = read_sbom(mutated(rename), "x")
    assert "safe-tensors-lib" in {d.name for d in state.dependencies}


def test_unknown_hash_algorithms_and_component_types_are_ignored() -> None:
    def add(doc: dict[str, Any]) -> None:
        doc["components"].append({"type": "container", "name": "whatever"})
        numpy_distribution(doc)["hashes"].append({"alg": "Streebog-256", "content": "00"})

    state = read_sbom(mutated(add), "x")
    assert len(state.components) == 2 and len(state.dependencies) == 2


def test_spec_version_15_is_accepted() -> None:
    read_sbom(mutated(lambda d: d.update(specVersion="1.5")), "x")


def test_read_sbom_file(tmp_path: Path) -> None:
    path = tmp_path / "sbom.json"
    path.write_bytes(build())
    data, state = read_sbom_file(path)
    assert data == build() and state.deployment.name == "fraud-scorer"
    with pytest.raises(SbomError, match="cannot read SBOM") as info:
        read_sbom_file(tmp_path / "missing.json")
    assert str(info.value).startswith(str(tmp_path / "missing.json"))


# --- tree digest ---------------------------------------------------------------------------------

BASE = (plain_file("a"), plain_file("b/c", 7))


@pytest.mark.parametrize(
    "changed",
    [
        (dataclasses.replace(BASE[0], path="A"), BASE[1]),
        (dataclasses.replace(BASE[0], size=4), BASE[1]),
        (dataclasses.replace(BASE[0], sha256=hexdigest("other")), BASE[1]),
        (BASE[0],),
        (*BASE, plain_file("d")),
    ],
    ids=["path", "size", "digest", "removed", "added"],
)
def test_tree_digest_binds_every_path_size_and_digest(changed: tuple[FileDigest, ...]) -> None:
    assert tree_digest(changed) != tree_digest(BASE)


def test_tree_digest_ignores_listing_order_and_other_fields() -> None:
    assert tree_digest(BASE[::-1]) == tree_digest(BASE)
    assert tree_digest((dataclasses.replace(BASE[0], blake3=hexdigest("x")), BASE[1])) == (
        tree_digest(BASE)
    )


# --- unsafe paths --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["../../etc/shadow", "/etc/passwd", "a\\b", "a\x00b", "C:x"])
def test_unsafe_paths_are_collected_not_listed(path: str) -> None:
    def plant(doc: dict[str, Any]) -> None:
        file_node(doc, MODEL_REF, "config.json")["name"] = path

    state = read_sbom(mutated(plant), "x")
    model = next(c for c in state.components if c.kind == "model")
    assert model.unsafe_paths == (path,)
    assert path not in {f.path for f in model.files}
    assert len(model.files) == len(MODEL.files) - 1


def test_root_digest_covers_unsafe_paths_too() -> None:
    def plant(doc: dict[str, Any]) -> None:
        file_node(doc, MODEL_REF, "config.json")["name"] = "../x"

    with pytest.raises(SbomError, match="root digest does not match"):
        read_sbom(mutated(plant, seal=False), "x")


# --- malformed documents -------------------------------------------------------------------------


def model_node(doc: dict[str, Any]) -> dict[str, Any]:
    return component_of(doc, MODEL_REF)


def config_node(doc: dict[str, Any]) -> dict[str, Any]:
    return file_node(doc, MODEL_REF, "config.json")


def big_node(doc: dict[str, Any]) -> dict[str, Any]:
    return file_node(doc, MODEL_REF, "model.safetensors")


def st_node(doc: dict[str, Any]) -> dict[str, Any]:
    return file_node(doc, MODEL_REF, "weights/extra.safetensors")


def deployment_node(doc: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = doc["metadata"]["component"]
    return node


def numpy_distribution(doc: dict[str, Any]) -> dict[str, Any]:
    """The distribution reference carrying numpy's hashes (where cyclonedx-py puts them)."""
    node: dict[str, Any] = component_of(doc, "pkg:pypi/numpy@2.1.0")["externalReferences"][0]
    return node


def to_legacy_layout(doc: dict[str, Any]) -> None:
    """numpy's hashes as SBOMs written before carried them: the component's own."""
    numpy = component_of(doc, "pkg:pypi/numpy@2.1.0")
    numpy["hashes"] = numpy.pop("externalReferences")[0]["hashes"]


def test_library_hashes_in_the_older_layout_are_read_the_same() -> None:
    legacy, current = read_sbom(mutated(to_legacy_layout), "x"), read_sbom(build(), "x")
    assert legacy.dependencies == current.dependencies
    numpy = next(d for d in current.dependencies if d.name == "numpy")
    assert len(numpy.hashes) == 2


def test_library_hashes_in_both_places_are_refused() -> None:
    def both(doc: dict[str, Any]) -> None:
        component_of(doc, "pkg:pypi/numpy@2.1.0")["hashes"] = numpy_distribution(doc)["hashes"]

    with pytest.raises(SbomError) as e:
        read_sbom(mutated(both), "x")
    assert "both on the library and on its distribution reference" in str(e.value)
    assert "\n" not in str(e.value)


def drop_hash(node: dict[str, Any], alg: str) -> None:
    node["hashes"] = [h for h in node["hashes"] if h["alg"] != alg]


def set_hash(node: dict[str, Any], alg: str, content: str) -> None:
    drop_hash(node, alg)
    node["hashes"].append({"alg": alg, "content": content})


def duplicate_file(doc: dict[str, Any]) -> None:
    model_node(doc)["components"].append(dict(config_node(doc)))


def duplicate_model(doc: dict[str, Any]) -> None:
    doc["components"].append(json.loads(json.dumps(model_node(doc))))


MUTATIONS = [
    # document level
    ("not-object", lambda d: d.clear() or d.update(x=1), "bomFormat"),
    ("bom-format", lambda d: d.update(bomFormat="SPDX"), "bomFormat must be 'CycloneDX'"),
    ("spec-version", lambda d: d.update(specVersion="1.4"), "unsupported specVersion '1.4'"),
    ("spec-version-num", lambda d: d.update(specVersion=1.6), "unsupported specVersion"),
    ("metadata", lambda d: d.pop("metadata"), "metadata must be an object"),
    ("components-type", lambda d: d.update(components={}), "components must be a list"),
    ("component-not-object", lambda d: d["components"].append(3), r"components\[\d\] must be"),
    ("component-no-type", lambda d: d["components"].append({}), r"type must be a string"),
    ("serial-number", lambda d: d.update(serialNumber=5), "serialNumber must be a string"),
    # deployment
    ("no-name", lambda d: deployment_node(d).pop("name"), "metadata.component: name must be"),
    ("empty-version", lambda d: deployment_node(d).update(version=""), "version must not be empty"),
    ("no-version", lambda d: deployment_node(d).pop("version"), "version must be a string"),
    ("no-serial", lambda d: set_prop(deployment_node(d), "chainguard:serial", None), "serial"),
    ("neg-serial", lambda d: set_prop(deployment_node(d), "chainguard:serial", "-1"), "non-neg"),
    ("text-serial", lambda d: set_prop(deployment_node(d), "chainguard:serial", "seven"), "non-n"),
    ("plus-serial", lambda d: set_prop(deployment_node(d), "chainguard:serial", "+7"), "non-neg"),
    ("uni-serial", lambda d: set_prop(deployment_node(d), "chainguard:serial", "\u0667"), "non-n"),
    ("huge-serial", lambda d: set_prop(deployment_node(d), "chainguard:serial", "9" * 30), "non"),
    # 2**63 fits the 20 digits once allowed, but not SQLite's INTEGER (the rollback state)
    (
        "serial-2**63",
        lambda d: set_prop(deployment_node(d), "chainguard:serial", str(2**63)),
        "2\\*\\*63-1",
    ),
    (
        "serial-20-digits",
        lambda d: set_prop(deployment_node(d), "chainguard:serial", "9" * 20),
        "up to",
    ),
    (
        "dup-serial",
        lambda d: deployment_node(d)["properties"].append(
            {"name": "chainguard:serial", "value": "9"}
        ),
        "appears twice",
    ),
    (
        "expires",
        lambda d: set_prop(deployment_node(d), "chainguard:expires", "2027-13-01T00:00:00Z"),
        "RFC 3339",
    ),
    (
        "expires-naive",
        lambda d: set_prop(deployment_node(d), "chainguard:expires", "2027-01-01T00:00:00"),
        "RFC 3339",
    ),
    (
        "props-not-list",
        lambda d: deployment_node(d).update(properties={}),
        "properties must be a list",
    ),
    (
        "prop-name",
        lambda d: deployment_node(d)["properties"].append({"value": "x"}),
        r"\.name must be",
    ),
    (
        "prop-value",
        lambda d: deployment_node(d)["properties"].append({"name": "n", "value": 1}),
        "value must be",
    ),
    # model / dataset
    ("model-no-name", lambda d: model_node(d).pop("name"), "name must be a string"),
    (
        "model-bom-ref",
        lambda d: model_node(d).update({"bom-ref": "model:other"}),
        "bom-ref must be",
    ),
    ("model-no-hash", lambda d: model_node(d).pop("hashes"), "SHA-256 root digest missing"),
    (
        "model-two-hashes",
        lambda d: model_node(d)["hashes"].append(dict(model_node(d)["hashes"][0])),
        "more than one SHA-256",
    ),
    (
        "model-no-scheme",
        lambda d: set_prop(model_node(d), "chainguard:root-digest", None),
        "root-digest property missing",
    ),
    (
        "model-scheme",
        lambda d: set_prop(model_node(d), "chainguard:root-digest", "merkle-v9"),
        "unknown root digest scheme",
    ),
    (
        "model-files-type",
        lambda d: model_node(d).update(components={}),
        "components must be a list",
    ),
    (
        "nested-not-file",
        lambda d: config_node(d).update(type="library"),
        "nested components must be files",
    ),
    ("duplicate-model", duplicate_model, "model 'llama-mini' appears twice"),
    # files
    ("file-no-sha", lambda d: drop_hash(config_node(d), "SHA-256"), "SHA-256 hash missing"),
    ("file-sha-upper", lambda d: set_hash(config_node(d), "SHA-256", "A" * 64), "64 lowercase hex"),
    ("file-sha-short", lambda d: set_hash(config_node(d), "SHA-256", "a" * 63), "64 lowercase hex"),
    ("file-blake3", lambda d: set_hash(config_node(d), "BLAKE3", "xyz"), "BLAKE3 must be 64"),
    ("file-hash-content", lambda d: set_hash(config_node(d), "BLAKE3", 5), "content must be"),
    (
        "file-no-size",
        lambda d: set_prop(config_node(d), "chainguard:size", None),
        "chainguard:size property missing",
    ),
    (
        "file-neg-size",
        lambda d: set_prop(config_node(d), "chainguard:size", "-5"),
        "non-negative integer",
    ),
    (
        "file-size-2**63",
        lambda d: set_prop(config_node(d), "chainguard:size", str(2**63)),
        "size must be a non-negative integer up to 9223372036854775807",
    ),
    (
        "shard-size-2**63",
        lambda d: set_prop(big_node(d), "chainguard:shard-size", str(2**63)),
        "shard-size must be a non-negative integer up to",
    ),
    (
        "st-parameters-2**63",
        lambda d: set_prop(st_node(d), "chainguard:safetensors:parameters", str(2**64)),
        "parameters must be a non-negative integer up to",
    ),
    (
        "file-float-size",
        lambda d: set_prop(config_node(d), "chainguard:size", "1.5"),
        "non-negative integer",
    ),
    ("file-name", lambda d: config_node(d).update(name=7), "name must be a string"),
    ("dup-path", duplicate_file, "listed twice"),
    (
        "shards-alone",
        lambda d: set_prop(big_node(d), "chainguard:shard-size", None),
        "must appear together",
    ),
    (
        "shards-count",
        lambda d: set_prop(big_node(d), "chainguard:shard-size", "5"),
        "3 shard digests, but 25 bytes make 5 shards",
    ),
    (
        "shards-hex",
        lambda d: set_prop(big_node(d), "chainguard:shards", "ab,cd,ef"),
        "shard digest",
    ),
    (
        "shards-unneeded",
        lambda d: set_prop(big_node(d), "chainguard:shard-size", "100"),
        "no larger than one shard",
    ),
    (
        "shard-size-zero",
        lambda d: set_prop(big_node(d), "chainguard:shard-size", "0"),
        "must be positive",
    ),
    (
        "st-incomplete",
        lambda d: set_prop(st_node(d), "chainguard:safetensors:parameters", None),
        "missing chainguard:safetensors:parameters",
    ),
    (
        "st-count",
        lambda d: set_prop(st_node(d), "chainguard:safetensors:tensor-count", "x"),
        "tensor-count must be",
    ),
    (
        "st-dtypes",
        lambda d: set_prop(st_node(d), "chainguard:safetensors:dtypes", "F32,,BF16"),
        "empty entry",
    ),
    ("lone-surrogate", lambda d: config_node(d).update(name="a\ud800"), "lone surrogate"),
    # consistency
    (
        "file-count",
        lambda d: set_prop(model_node(d), "chainguard:file-count", "9"),
        "file-count does not match",
    ),
    (
        "total-size",
        lambda d: set_prop(model_node(d), "chainguard:total-size", "9"),
        "total-size does not match",
    ),
    (
        "total-size-2**63",
        lambda d: set_prop(model_node(d), "chainguard:total-size", str(2**63)),
        "total-size must be a non-negative integer up to",
    ),
    # libraries
    (
        "lib-hash",
        lambda d: set_hash(numpy_distribution(d), "SHA-512", "ab"),
        "SHA-512 must be 128",
    ),
    (
        "lib-record",
        lambda d: set_prop(
            component_of(d, "pkg:safetensors@0.4.5"), "chainguard:record-sha256", "x"
        ),
        "record-sha256 must be",
    ),
    (
        "lib-name",
        lambda d: component_of(d, "pkg:safetensors@0.4.5").update(name=""),
        "name must not be empty",
    ),
]

UNSEALED = {"file-count", "total-size", "total-size-2**63", "model-two-hashes", "model-no-hash"}


@pytest.mark.parametrize(
    ("mutate", "message"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_malformed_documents_raise_one_line_sbom_errors(
    mutate: Any, message: str, request: pytest.FixtureRequest
) -> None:
    seal = request.node.callspec.id not in UNSEALED
    with pytest.raises(SbomError, match=message) as info:
        read_sbom(mutated(mutate, seal=seal), "sbom.json")
    assert str(info.value).startswith("sbom.json: ")
    assert "\n" not in str(info.value)


def test_root_digest_mismatch() -> None:
    def tamper(doc: dict[str, Any]) -> None:
        set_hash(config_node(doc), "SHA-256", hexdigest("tampered"))

    with pytest.raises(SbomError, match="root digest does not match the listed files"):
        read_sbom(mutated(tamper, seal=False), "x")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"", "not JSON"),
        (b"{", "not JSON"),
        (b"\xef\xbb\xbf{}", "not JSON"),  # a UTF-8 BOM is not JSON
        (b"[]", "document must be an object"),
        (b'"CycloneDX"', "document must be an object"),
        (b'{"bomFormat": "CycloneDX", "bomFormat": "CycloneDX"}', "duplicate JSON key 'bomFormat'"),
        (b'{"x": NaN}', "not JSON"),
        (b'{"x": Infinity}', "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'{"x": ' + b"1" * 5000 + b"}", "not JSON|bomFormat"),  # 3.10 has no digit limit
    ],
    ids=[
        "utf8",
        "empty",
        "truncated",
        "bom",
        "array",
        "string",
        "dup-key",
        "nan",
        "inf",
        "deep",
        "bigint",
    ],
)
def test_unparseable_bytes(data: bytes, message: str) -> None:
    with pytest.raises(SbomError, match=message) as info:
        read_sbom(data, "sbom.json")
    assert str(info.value).startswith("sbom.json: ")
    assert "\n" not in str(info.value)


def test_duplicate_keys_are_rejected_at_any_depth() -> None:
    text = build().decode()
    tampered = text.replace(
        '"name": "config.json"', '"name": "config.json", "name": "evil.json"', 1
    )
    assert tampered != text
    with pytest.raises(SbomError, match="duplicate JSON key 'name'"):
        read_sbom(tampered.encode(), "x")


def test_reseal_helper_keeps_a_valid_document_valid() -> None:
    doc = json.loads(build())
    reseal_all(doc)
    assert read_sbom(json.dumps(doc).encode(), "x").components
    assert props(model_node(doc))["chainguard:file-count"] == "4"

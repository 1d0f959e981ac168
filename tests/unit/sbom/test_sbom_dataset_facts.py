"""Dataset scale in the SBOM: direct file rendering equals cyclonedx's, Parquet facts round-trip,
and the plain-file fast path of the reader accepts exactly what the general path accepts."""

from __future__ import annotations

import json
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
    TIMESTAMP,
    hexdigest,
    mutated,
    plain_file,
)
from support.surgery import file_node, props, reseal_all

from chainguard.errors import SbomError
from chainguard.models import ParquetInfo
from chainguard.sbom.build import ComponentInput, build_sbom
from chainguard.sbom.read import read_sbom

PARQUET = ParquetInfo(
    rows=1234,
    columns=(("id", "INT64"), ("text, raw: 100%", "BYTE_ARRAY/STRING"), ("été\n", "GROUP/LIST")),
)
FACTS = ComponentInput(
    "dataset",
    "corpus",
    (
        plain_file("train/part-0.parquet", 4096, parquet=PARQUET),
        plain_file("empty.parquet", 20, parquet=ParquetInfo(rows=0, columns=())),
        plain_file('odd "quoted" name €', 1, blake3=hexdigest("b3")),
        plain_file("README.md", 10),
    ),
)
EMPTY = ComponentInput("model", "nothing", ())


def both(components: tuple[ComponentInput, ...]) -> tuple[bytes, bytes]:
    kw: dict[str, Any] = {"timestamp": TIMESTAMP, "serial_number": SERIAL_NUMBER}
    direct = build_sbom(DEPLOYMENT, components, DEPENDENCIES, **kw)
    reference = build_sbom(DEPLOYMENT, components, DEPENDENCIES, files_via_cyclonedx=True, **kw)
    return direct, reference


def test_direct_file_rendering_is_byte_identical_to_cyclonedx() -> None:
    direct, reference = both((MODEL, DATASET, FACTS, EMPTY))
    assert direct == reference
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(direct.decode()) is None


def test_many_files_render_identically() -> None:
    files = tuple(plain_file(f"d{i % 7}/f{i:04d}.bin", i) for i in range(300))
    direct, reference = both((ComponentInput("dataset", "many", files),))
    assert direct == reference


@pytest.mark.parametrize("batch", [1, 2, 7, 299, 300, 301])
def test_files_rendered_in_batches_are_byte_identical(
    batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large file list is rendered, joined and encoded in batches and written as pieces
    # (build_sbom_chunks): the same bytes, whatever the batch size and component order.
    from chainguard.sbom import build

    monkeypatch.setattr(build, "_RENDER_BATCH", batch)
    files = tuple(plain_file(f"d{i % 7}/f{i:04d}.bin", i) for i in range(300))
    components = (ComponentInput("dataset", "zz-many", files), MODEL, DATASET, FACTS, EMPTY)
    direct, reference = both(components)
    assert direct == reference
    kw: dict[str, Any] = {"timestamp": TIMESTAMP, "serial_number": SERIAL_NUMBER}
    chunks = list(build.build_sbom_chunks(DEPLOYMENT, components, DEPENDENCIES, **kw))
    assert b"".join(chunks) == direct and len(chunks) > 300 // batch


def test_parquet_properties_are_written() -> None:
    direct, _ = both((FACTS,))
    doc = json.loads(direct)
    node = file_node(doc, "dataset:corpus", "train/part-0.parquet")
    assert props(node) == {
        "chainguard:size": "4096",
        "chainguard:parquet:rows": "1234",
        "chainguard:parquet:columns": "id:INT64,text%2C raw%3A 100%25:BYTE_ARRAY/STRING,"
        "été%0A:GROUP/LIST",
    }
    assert props(file_node(doc, "dataset:corpus", "empty.parquet"))[
        "chainguard:parquet:columns"
    ] == ("")


def test_parquet_facts_round_trip() -> None:
    direct, _ = both((FACTS,))
    [corpus] = read_sbom(direct, "x").components
    facts = {f.path: f.parquet for f in corpus.files}
    assert facts["train/part-0.parquet"] == PARQUET
    assert facts["empty.parquet"] == ParquetInfo(0, ())
    assert facts["README.md"] is None


def test_parquet_type_outside_the_vocabulary_is_refused_at_build() -> None:
    bad = plain_file("x.parquet", 1, parquet=ParquetInfo(1, (("a", "int64; drop"),)))
    with pytest.raises(ValueError, match="type"):
        build_sbom(DEPLOYMENT, (ComponentInput("dataset", "d", (bad,)),))


def _parquet_doc_mutation(name: str, value: str | None) -> bytes:
    def mutate(doc: dict[str, Any]) -> None:
        node = file_node(doc, "dataset:llama-mini", "train/part-0.parquet")
        node["properties"].append({"name": "chainguard:parquet:rows", "value": "5"})
        if value is not None:
            node["properties"].append({"name": name, "value": value})
        reseal_all(doc)

    return mutated(mutate)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "must appear together"),
        ("id", "name:TYPE"),
        ("id:int64", "name:TYPE"),
        ("a%zz:INT64", "name:TYPE"),
        ("a%2c:INT64", "name:TYPE"),  # lower-case escape: not the one spelling
        ("a,b:INT64", "name:TYPE"),
        ("%FF:INT64", "name:TYPE"),  # not UTF-8
    ],
)
def test_malformed_parquet_properties(value: str | None, reason: str) -> None:
    data = _parquet_doc_mutation("chainguard:parquet:columns", value)
    with pytest.raises(SbomError, match=reason) as info:
        read_sbom(data, "sbom.json")
    assert "\n" not in str(info.value)


PLAIN_NODE = {
    "bom-ref": "dataset:d/a",
    "hashes": [{"alg": "SHA-256", "content": hexdigest("a")}],
    "name": "a",
    "properties": [{"name": "chainguard:size", "value": "12"}],
    "type": "file",
}


@pytest.mark.parametrize(
    "mutate",
    [
        lambda n: n["hashes"][0].update(content="A" * 64),
        lambda n: n["hashes"][0].update(content="0" * 63),
        lambda n: n["hashes"][0].update(alg="SHA-512"),
        lambda n: n["properties"][0].update(value="01"),
        lambda n: n["properties"][0].update(value="1_000"),
        lambda n: n["properties"][0].update(value=4),
        lambda n: n.update(name=7),
        lambda n: n.update(name="\udc80"),
        lambda n: n.update(type="library"),
        lambda n: n["hashes"].append({"alg": "SHA-256", "content": "0" * 64}),
        lambda n: n["hashes"].insert(0, {"alg": "BLAKE3", "content": "0" * 64}),
        lambda n: n["hashes"][0].update(extra="x"),
        lambda n: n["properties"][0].update(name="chainguard:sizes"),
        lambda n: n["properties"].append({"name": "chainguard:shard-size", "value": "1"}),
        lambda n: n.update(hashes={}),
        lambda n: n.update(properties=[["chainguard:size", "12"]]),
    ],
)
def test_fast_path_agrees_with_the_general_path(mutate: Any) -> None:
    import copy

    from chainguard.sbom import read

    node = copy.deepcopy(PLAIN_NODE)
    mutate(node)
    fast = read._plain_file(node)
    try:
        general: object = read._any_file(node, "dataset 'd'", 0)
    except read._Malformed:
        general = "rejected"
    assert fast is None or fast == general


def test_fast_path_is_taken_for_a_plain_file() -> None:
    from chainguard.sbom import read

    fast = read._plain_file(PLAIN_NODE)
    assert fast is not None and fast == read._any_file(PLAIN_NODE, "dataset 'd'", 0)

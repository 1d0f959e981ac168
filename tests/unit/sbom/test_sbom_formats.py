"""Each file's format in the SBOM (chainguard:format): written alike by every render path, read
back by the general and the plain-file readers alike, optional (SBOMs written before formats were
recorded), and checked when present."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.sbom_inputs import DEPENDENCIES, DEPLOYMENT, SERIAL_NUMBER, TIMESTAMP, plain_file
from support.surgery import file_node, props, reseal_all

from chainguard.errors import SbomError
from chainguard.sbom import fileshape
from chainguard.sbom.build import ComponentInput, build_sbom
from chainguard.sbom.read import read_sbom

FILES = (
    plain_file("a/model.safetensors", 4096, format="safetensors"),
    plain_file("b/weights.bin", 100, format="pickle"),
    plain_file("c/no-format.txt", 3),  # as an SBOM written before formats were recorded
    plain_file('d/odd "name" €.json', 7, format="json"),
)
COMPONENT = ComponentInput("dataset", "mixed", FILES)


def both() -> tuple[bytes, bytes]:
    kw: dict[str, Any] = {"timestamp": TIMESTAMP, "serial_number": SERIAL_NUMBER}
    direct = build_sbom(DEPLOYMENT, (COMPONENT,), DEPENDENCIES, **kw)
    reference = build_sbom(DEPLOYMENT, (COMPONENT,), DEPENDENCIES, files_via_cyclonedx=True, **kw)
    return direct, reference


def test_direct_rendering_with_formats_is_byte_identical_to_cyclonedx() -> None:
    direct, reference = both()
    assert direct == reference
    doc = json.loads(direct)
    assert props(file_node(doc, "dataset:mixed", "b/weights.bin"))["chainguard:format"] == "pickle"
    assert "chainguard:format" not in props(file_node(doc, "dataset:mixed", "c/no-format.txt"))


def test_formats_round_trip() -> None:
    direct, _ = both()
    [component] = read_sbom(direct, "x").components
    assert {f.path: f.format for f in component.files} == {f.path: f.format for f in FILES}


@pytest.mark.parametrize("fmt", [None, "safetensors", "numpy-pickle", "7z"])
def test_render_element_is_the_compact_entry(fmt: str | None) -> None:
    f = plain_file("p/q.bin", 12, format=fmt)
    assert f.sha256 is not None
    element = fileshape.render_element("dataset:d", f.path, f.size, f.sha256, fmt)
    entry = fileshape.file_dict("dataset:d", f)
    assert element == json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
    m = fileshape.plain_file_pattern().match(element + ",")
    assert m is not None and m.groups() == (f.sha256, f.path, fmt, "12", ",")
    assert fileshape.plain_file_parser()(entry) == f


@pytest.mark.parametrize("value", ["", "Pickle", 'a"b', "x" * 41, "-pickle", "a b"])
def test_a_value_outside_the_format_ids_is_refused(value: str) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        node = file_node(doc, "dataset:mixed", "b/weights.bin")
        for p in node["properties"]:
            if p["name"] == "chainguard:format":
                p["value"] = value
        reseal_all(doc)

    direct, _ = both()
    doc = json.loads(direct)
    mutate(doc)
    with pytest.raises(SbomError, match="chainguard:format is not a format id") as info:
        read_sbom(json.dumps(doc).encode(), "sbom.json")
    assert "\n" not in str(info.value)
    entry = file_node(doc, "dataset:mixed", "b/weights.bin")
    text = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
    assert fileshape.plain_file_pattern().match(text + "]") is None
    assert fileshape.plain_file_parser()(entry) is None


def test_a_format_given_twice_is_refused() -> None:
    direct, _ = both()
    doc = json.loads(direct)
    node = file_node(doc, "dataset:mixed", "b/weights.bin")
    node["properties"].insert(0, {"name": "chainguard:format", "value": "zip"})
    reseal_all(doc)
    with pytest.raises(SbomError):
        read_sbom(json.dumps(doc).encode(), "sbom.json")


def test_build_refuses_a_format_that_is_not_an_id() -> None:
    bad = plain_file("x.bin", 1, format="Not An Id")
    with pytest.raises(ValueError, match="format"):
        build_sbom(DEPLOYMENT, (ComponentInput("dataset", "d", (bad,)),))

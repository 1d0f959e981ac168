"""The verify path's compact reading of a signed SBOM (sbom/packed.py, _strictjson streaming,
sbom/read.py on packed file lists) means exactly what the plain strict reading means."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest
from support.sbom_inputs import build, mutated
from support.surgery import file_node
from test_sbom_read import MUTATIONS, UNSEALED

from chainguard._strictjson import (
    ANY_INDEX,
    JsonPath,
    Packer,
    TextWindow,
    loads_strict,
    loads_strict_packed,
)
from chainguard.errors import BundleError, SbomError
from chainguard.models import ExpectedState, FileList, Subject
from chainguard.sbom.packed import PackedFiles, pack_file_array
from chainguard.sbom.read import read_sbom, read_sbom_document
from chainguard.trust.statement import build_statement, parse_statement

CYCLONEDX = "https://cyclonedx.org/bom"
SUBJECTS = [Subject("deployment:fraud-scorer", (("sha256", "ab" * 32),))]
PACKED_PATH: dict[JsonPath, Packer] = {
    ("predicate", "components", ANY_INDEX, "components"): pack_file_array
}


def statement(sbom: bytes) -> bytes:
    predicate = json.loads(sbom)
    try:
        return build_statement(SUBJECTS, CYCLONEDX, predicate)
    except UnicodeEncodeError:  # a lone surrogate: only an escape can carry it
        doc: dict[str, object] = {"_type": "https://in-toto.io/Statement/v1"}
        doc["predicateType"] = CYCLONEDX
        doc["subject"] = [{"name": s.name, "digest": dict(s.digest)} for s in SUBJECTS]
        doc["predicate"] = predicate
        return json.dumps(doc, separators=(",", ":")).encode()


def via_statement(sbom: bytes) -> ExpectedState:
    """What verify reads: the SBOM as the predicate of a compact signed statement."""
    parsed = parse_statement(statement(sbom), "bundle")
    return read_sbom_document(parsed.predicate, hashlib.sha256(sbom).hexdigest(), "sbom.json")


def outcome(read: Any, sbom: bytes) -> object:
    try:
        return read(sbom)
    except SbomError as e:
        return ("error", str(e))


def unpacked(value: object) -> object:
    """The packed parse with every PackedFiles turned back into the JSON it stands for."""
    if isinstance(value, dict):
        return {k: unpacked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unpacked(v) for v in value]
    if isinstance(value, PackedFiles):
        plain: list[object] = [_plain_node(line) for line in value.lines]
        for index, other in zip(value.other_index, value.other, strict=True):
            plain.insert(index, unpacked(other))
        return plain
    return value


def _plain_node(line: str) -> dict[str, object]:
    name, size, sha256 = line[:-1].split("\0")
    return {
        "hashes": [{"alg": "SHA-256", "content": sha256}],
        "name": name,
        "properties": [{"name": "chainguard:size", "value": size}],
        "type": "file",
    }


def _without_file_refs(value: object) -> object:
    """Plain elements keep no bom-ref (nothing reads it): drop it from the reference too."""
    if isinstance(value, dict):
        drop = value.get("type") == "file"
        return {k: _without_file_refs(v) for k, v in value.items() if not (drop and k == "bom-ref")}
    if isinstance(value, list):
        return [_without_file_refs(v) for v in value]
    return value


# --- the same expected state, or the same error ----------------------------------------------


def test_signed_sbom_reads_the_same_as_the_file_and_packs_its_file_lists() -> None:
    sbom = build()
    parsed = parse_statement(statement(sbom), "bundle")
    components: Any = parsed.predicate["components"]
    lists = [c["components"] for c in components if "components" in c]
    assert lists and all(isinstance(x, PackedFiles) for x in lists)
    assert any(x.other for x in lists) and any(x.lines for x in lists)  # both kinds of element
    expected = via_statement(sbom)
    assert expected == read_sbom(sbom, "sbom.json")
    assert all(isinstance(c.files, FileList) for c in expected.components)


@pytest.mark.parametrize(
    ("mutate", "message"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_every_malformed_document_fails_the_same_way(
    mutate: Any, message: str, request: pytest.FixtureRequest
) -> None:
    sbom = mutated(mutate, seal=request.node.callspec.id not in UNSEALED)
    plain = outcome(lambda b: read_sbom(b, "sbom.json"), sbom)
    assert plain[0] == "error"  # type: ignore[index]
    assert outcome(via_statement, sbom) == plain


def rename_dataset_file(path: str, to: str, *, seal: bool = True) -> bytes:
    def plant(doc: dict[str, Any]) -> None:
        file_node(doc, "dataset:llama-mini", path)["name"] = to

    return mutated(plant, seal=seal)


@pytest.mark.parametrize(
    "path",
    ["../../etc/shadow", "/etc/passwd", "a\\b", "a\x00b", "C:x", "a//b", "./x", "x/..", "", "é/ü"],
)
def test_unsafe_and_unusual_paths_read_the_same(path: str) -> None:
    sbom = rename_dataset_file("README.md", path)
    assert outcome(via_statement, sbom) == outcome(lambda b: read_sbom(b, "sbom.json"), sbom)
    unsealed = rename_dataset_file("README.md", path, seal=False)
    assert outcome(via_statement, unsealed) == outcome(
        lambda b: read_sbom(b, "sbom.json"), unsealed
    )


def test_duplicate_path_among_plain_files() -> None:
    sbom = rename_dataset_file("README.md", "train/part-0.parquet")
    with pytest.raises(SbomError, match=r"file 'train/part-0\.parquet' listed twice"):
        via_statement(sbom)
    assert outcome(via_statement, sbom) == outcome(lambda b: read_sbom(b, "sbom.json"), sbom)


# --- the streaming parser against the plain strict one ----------------------------------------


def payload() -> bytes:
    return statement(build())


def test_streaming_parse_equals_the_plain_parse() -> None:
    data = payload()
    packed = loads_strict_packed(data, "s", BundleError, PACKED_PATH)
    assert _without_file_refs(unpacked(packed)) == _without_file_refs(
        loads_strict(data, "s", BundleError)
    )


@pytest.mark.parametrize(
    "edit",
    [
        # a duplicate key inside a file element, at the top, in a component
        lambda t: t.replace('"type":"file"}', '"type":"file","type":"dir"}', 1),
        lambda t: t.replace('{"_type"', '{"predicateType":"x","_type"', 1),
        lambda t: t.replace('"bom-ref":"model:', '"name":"x","bom-ref":"model:', 1),
        lambda t: t.replace('"value":"120"', '"value":NaN', 1),
        lambda t: t.replace('"type":"file"}', '"type":"file"},', 1),  # trailing comma
        lambda t: t.replace('"type":"file"}]', '"type":"file"}', 1),  # unclosed array
        lambda t: t[:-1],
        lambda t: t + "x",
        lambda t: t.replace('"name":"config.json"', '"name":"conf\tig.json"', 1),  # raw tab
        lambda t: t.replace('"name":"config.json"', '"name":"conf\\u0069g.json"', 1),
        lambda t: t.replace('"name":"config.json"', '"name" : "config.json" ', 1),
        lambda t: t.replace("[{", "[ \n{", 3),
        lambda t: "\ufeff" + t,
    ],
)
def test_edited_statements_parse_or_fail_exactly_like_the_plain_parser(edit: Any) -> None:
    data = edit(payload().decode()).encode()
    try:
        want: object = _without_file_refs(loads_strict(data, "s", BundleError))
    except BundleError as e:
        want = ("error", str(e))
    try:
        got: object = _without_file_refs(
            unpacked(loads_strict_packed(data, "s", BundleError, PACKED_PATH))
        )
    except BundleError as e:
        got = ("error", str(e))
    assert got == want


def test_random_cuts_and_splices_never_disagree() -> None:
    data = payload().decode()
    rng = random.Random(7)
    for _ in range(300):
        i, j = sorted(rng.randrange(len(data)) for _ in range(2))
        text = data[:i] + rng.choice(["", '"', ",", "}", "]", "{", ":", "\\", " "]) + data[j:]
        raw = text.encode()
        try:
            want: object = _without_file_refs(loads_strict(raw, "s", BundleError))
        except BundleError as e:
            want = str(e)
        try:
            got: object = _without_file_refs(
                unpacked(loads_strict_packed(raw, "s", BundleError, PACKED_PATH))
            )
        except BundleError as e:
            got = str(e)
        assert got == want, (i, j)


# --- pack_file_array on its own -----------------------------------------------------------------


def _decode(text: str, pos: int) -> tuple[object, int]:
    return json.JSONDecoder().raw_decode(text, pos)


def test_plain_elements_become_lines_and_others_stay_json() -> None:
    sha = "0" * 64
    plain = (
        '{"bom-ref":"d:a","hashes":[{"alg":"SHA-256","content":"' + sha + '"}],"name":"a",'
        '"properties":[{"name":"chainguard:size","value":"5"}],"type":"file"}'
    )
    other = '{"name":"b","type":"file","hashes":[]}'
    third = plain.replace('"name":"a"', '"name":"c"')
    text = f"[{plain}, {other} ,{third}]"
    packed, end = pack_file_array(TextWindow(text), 0, _decode)
    assert end == len(text)
    assert packed.names == ["a", "c"] and packed.total_size == 10
    assert packed.lines == [f"a\x005\x00{sha}\n", f"c\x005\x00{sha}\n"]
    assert packed.other == [json.loads(other)] and packed.other_index == [1]
    assert len(packed) == 3


@pytest.mark.parametrize("size", [str(2**63 - 1), str(2**63), "9" * 20])
def test_sizes_of_19_digits_and_more_are_left_to_the_bounded_reader(size: str) -> None:
    """Only sizes that are surely below 2**63 are taken as lines; read.py bounds the others."""
    element = (
        '{"bom-ref":"d:a","hashes":[{"alg":"SHA-256","content":"' + "0" * 64 + '"}],"name":"a",'
        '"properties":[{"name":"chainguard:size","value":"' + size + '"}],"type":"file"}'
    )
    packed, _ = pack_file_array(TextWindow(f"[{element}]"), 0, _decode)
    assert packed.lines == [] and packed.other == [json.loads(element)]


@pytest.mark.parametrize("text", ["[]", "[ ]", "[\n]"])
def test_empty_arrays(text: str) -> None:
    packed, end = pack_file_array(TextWindow(text + "tail"), 0, _decode)
    assert len(packed) == 0 and end == len(text)


@pytest.mark.parametrize("text", ["[", "[1,", "[1 2]", "[1,]", '[{"a":1}'])
def test_malformed_arrays_raise(text: str) -> None:
    with pytest.raises((ValueError, IndexError)):
        pack_file_array(TextWindow(text), 0, _decode)


# --- the same, from text arriving in pieces (a payload streamed from its bundle) ----------------


def _streamed(data: bytes, piece: int, monkeypatch: pytest.MonkeyPatch) -> object:
    """loads_strict_packed_stream over ``piece``-byte chunks, with small windows that move."""
    from chainguard import _strictjson as _json

    monkeypatch.setattr(_json, "LOOKAHEAD", 1024)
    monkeypatch.setattr(_json, "_REFILL", 512)
    chunks = (data[i : i + piece] for i in range(0, len(data), piece))
    try:
        value = _json.loads_strict_packed_stream(
            chunks, "s", BundleError, PACKED_PATH, lambda: data
        )
    except BundleError as e:
        return ("error", str(e))
    return _without_file_refs(unpacked(value))


def _whole(data: bytes) -> object:
    try:
        return _without_file_refs(loads_strict(data, "s", BundleError))
    except BundleError as e:
        return ("error", str(e))


@pytest.mark.parametrize("piece", [1, 3, 64, 1000, 1 << 20])
def test_streamed_parse_equals_the_plain_parse(piece: int, monkeypatch: pytest.MonkeyPatch) -> None:
    data = payload()
    assert _streamed(data, piece, monkeypatch) == _whole(data)
    # multi-byte characters cut between chunks
    accented = data.replace(b'"name":"config.json"', '"name":"cönfig€.json"'.encode(), 1)
    assert _streamed(accented, piece, monkeypatch) == _whole(accented)


def test_streamed_cuts_and_splices_never_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    data = payload().decode()
    rng = random.Random(11)
    for _ in range(150):
        i, j = sorted(rng.randrange(len(data)) for _ in range(2))
        text = data[:i] + rng.choice(["", '"', ",", "}", "]", "{", ":", "\\", " ", "1"]) + data[j:]
        raw = text.encode()
        assert _streamed(raw, rng.choice([1, 7, 100, 5000]), monkeypatch) == _whole(raw), (i, j)


def test_streamed_invalid_utf8_and_long_values_fall_back_to_the_whole_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = payload()
    bad = data.replace(b'"name":"config.json"', b'"name":"conf\xffig.json"', 1)
    assert _streamed(bad, 50, monkeypatch)[0] == "error"  # type: ignore[index]
    assert _streamed(bad, 50, monkeypatch) == _whole(bad)
    # a value longer than the window's look-ahead, and a number cut at a window's end
    long = data.replace(b'"name":"config.json"', b'"name":"' + b"c" * 5000 + b'.json"', 1)
    assert _streamed(long, 100, monkeypatch) == _whole(long)
    number = json.dumps({"a": [1] * 300, "n": 12345678901234567890}).encode()
    for piece in (1, 2, 5, 600, 605):
        assert _streamed(number, piece, monkeypatch) == _whole(number)

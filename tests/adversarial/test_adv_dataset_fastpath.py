"""Attacks on verify's fast path for many-file datasets (sbom/packed.py taking a signed chunk of
the file list whole when its SHA-256 is that of the directory chunk as hashed).

A signed file list that is almost, but not exactly, what the directory renders must be read as
the plain parser reads it; duplicates and disorder must be caught whether or not chunks were
taken whole. The fast path may change how fast a verify is, never what it finds."""

from __future__ import annotations

import copy
import dataclasses
import os
import random
from pathlib import Path
from typing import Any

import pytest
from support.fastpath import CHUNK, observe, read_both, read_statement, verify_outcome
from support.release import Release, make_release
from support.surgery import component_of, reseal, signed_variant

from chainguard.hashing_runs import RenderedRuns
from chainguard.models import FileList

NEVER = 1 << 62  # an overlap threshold no bundle reaches: the plain path
REF = "dataset:ds"
SECOND = f"d/{CHUNK:04d}"  # the first path of d/'s second chunk


def files() -> dict[str, bytes]:
    # d/: two chunks (the second of 18 files); e/: one; top-level files around them
    tree = {f"d/{i:04d}": b"d%d" % i for i in range(CHUNK + 18)}
    tree |= {f"e/{i:02d}.txt": b"e%d" % i for i in range(20)}
    tree |= {"a.txt": b"a", "z.txt": b"z"}
    return tree


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Release:
    return make_release(
        tmp_path_factory.mktemp("base"), datasets={"ds": files()}, sbom_name="ds.cdx.json"
    )


@pytest.fixture(scope="module")
def runs(base: Release) -> RenderedRuns:
    """The base directory as hashed, unchanged: the runs a verify of it would read with."""
    _, observed = observe(base.data)
    return observed


def both_verifies(release: Release, monkeypatch: pytest.MonkeyPatch) -> tuple[object, ...]:
    plain = verify_outcome(release, overlap_from_bytes=NEVER)
    fast = verify_outcome(release, overlap_from_bytes=0)
    assert fast == plain
    return plain


def node(path: str, content: bytes, *, sha256: str | None = None) -> dict[str, Any]:
    """A file element in the key order `sbom build` writes (the shape taken in bulk)."""
    import hashlib

    return {
        "bom-ref": f"{REF}/{path}",
        "hashes": [{"alg": "SHA-256", "content": sha256 or hashlib.sha256(content).hexdigest()}],
        "name": path,
        "properties": [{"name": "chainguard:size", "value": str(len(content))}],
        "type": "file",
    }


def generic(path: str, content: bytes) -> dict[str, Any]:
    """The same file in another key order: decoded as JSON, not matched in bulk."""
    element = node(path, content)
    return {k: element[k] for k in ("type", "name", "bom-ref", "properties", "hashes")}


def test_the_base_release_takes_its_chunks_whole(
    base: Release, runs: RenderedRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, fast = read_both(base.payload(), base.sbom_sha256(), runs)
    # [a.txt], d/ (two chunks), e/, [z.txt]: the walk hands out files in path order, so each
    # top-level file is a chunk of its own (a.txt before d/, z.txt after e/), like the array
    # holds it. The attacks below start from here.
    assert fast.runs_taken == 5
    assert both_verifies(base, monkeypatch)[0] is True


# --- almost the rendered text -------------------------------------------------------------------

_SWAP = {'"': "'", "{": "[", "}": "]", "[": "{", "]": "}", ",": ";", ":": ";", "/": "\\"}


def _other_char(char: str) -> str:
    if char in "0123456789abcdef":
        return "0123456789abcdef"[("0123456789abcdef".index(char) + 1) % 16]
    if char.isalpha():
        return "x" if char != "x" else "y"
    return _SWAP.get(char, "#")


def test_one_byte_off_anywhere_in_a_chunk_is_never_taken(base: Release, runs: RenderedRuns) -> None:
    payload = base.payload()
    text = payload.decode()
    run = runs.starting_at(REF, SECOND)  # the second chunk of d/: 18 elements
    assert run is not None
    start = text.index(f'{{"bom-ref":"dataset:ds/{SECOND}"')
    end = start + run.json_length
    assert text[end] == ","  # e/ follows
    baseline = read_statement(payload, base.sbom_sha256(), runs.starting_at).runs_taken
    element = text.index("},{", start) + 2  # the second element
    # every other byte of the first element, the end of the last, a sample of the rest
    positions = [*range(start, element + 10, 2), *range(end - 40, end + 1)]
    positions += random.Random(7).sample(range(element + 10, end - 40), 10)
    assert text[start:end].isascii()
    for pos in positions:
        mutated = (text[:pos] + _other_char(text[pos]) + text[pos + 1 :]).encode()
        plain = read_statement(mutated, base.sbom_sha256())
        fast = read_statement(mutated, base.sbom_sha256(), runs.starting_at)
        fast.same_as(plain)
        assert fast.runs_taken < baseline, (pos, text[pos])


def test_a_signed_digest_one_digit_off_is_reported_alike(
    base: Release, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = base.document()
    component = component_of(doc, "dataset:ds")
    victim = next(f for f in component["components"] if f["name"] == "d/0200")
    digest = victim["hashes"][0]["content"]
    victim["hashes"][0]["content"] = digest[:31] + _other_char(digest[31]) + digest[32:]
    reseal(component)
    outcome = both_verifies(signed_variant(base, tmp_path, doc), monkeypatch)
    assert [(f.rule, f.path) for f in outcome[1]] == [("artifact-modified", "d/0200")]  # type: ignore[attr-defined]


def test_a_signed_size_one_digit_off_is_reported_alike(
    base: Release, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = base.document()
    component = component_of(doc, "dataset:ds")
    victim = next(f for f in component["components"] if f["name"] == "d/0007")
    size = next(p for p in victim["properties"] if p["name"] == "chainguard:size")
    size["value"] = "3"  # the file holds 2 bytes ("d7")
    reseal(component)
    outcome = both_verifies(signed_variant(base, tmp_path, doc), monkeypatch)
    assert [(f.rule, f.path) for f in outcome[1]] == [("artifact-modified", "d/0007")]  # type: ignore[attr-defined]


def test_elements_naming_another_component_are_not_taken_as_its_run(
    base: Release, runs: RenderedRuns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bom-refs of e/ say another component; the plain parser ignores bom-refs of plain
    # elements, so the files read the same either way.
    doc = base.document()
    for f in component_of(doc, "dataset:ds")["components"]:
        if f["name"].startswith("e/"):
            f["bom-ref"] = f["bom-ref"].replace("dataset:ds/", "dataset:ds2/")
    variant = signed_variant(base, tmp_path, doc)
    _, fast = read_both(variant.payload(), variant.sbom_sha256(), runs)
    assert fast.runs_taken == 4  # all but e/: [a.txt], d/ (two chunks), [z.txt]
    assert both_verifies(variant, monkeypatch)[0] is True


@pytest.mark.parametrize(
    ("first", "spacing"),
    [("d/0000", "}\n,"), ("d/0000", "}, \n "), ("d/0000", "} , "), ("z.txt", "}\n]")],
    ids=["before the comma", "after the comma", "around the comma", "before the bracket"],
)
def test_whitespace_after_a_chunk_is_taken_and_verifies_the_same(
    base: Release,
    runs: RenderedRuns,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    first: str,
    spacing: str,
) -> None:
    # A statement not written by `sign` (any JSON is valid): whitespace between a chunk's
    # last element and the separator, or after it. The packer skips it after a run.
    run = runs.starting_at(REF, first)
    assert run is not None

    def respell(payload: bytes) -> bytes:
        # the run's closing "}" and the separator after it, spaced out
        text = payload.decode()
        end = text.index(f'{{"bom-ref":"{REF}/{first}"') + run.json_length
        assert text[end - 1 : end + 1] == "".join(spacing.split())
        return (text[: end - 1] + spacing + text[end + 1 :]).encode()

    variant = signed_variant(base, tmp_path, base.document(), raw=True, respell=respell)
    assert spacing.encode() in variant.payload()
    plain, fast = read_both(variant.payload(), variant.sbom_sha256(), runs, lines=False)
    assert fast.runs_taken == 5  # every chunk, the one followed by whitespace too
    # The plain pattern wants "," or "]" right after an element's "}": where whitespace
    # stands there, that element is decoded as JSON and kept as a FileDigest. The same file,
    # held otherwise (lines=False above); the fast reading took it as part of its run.
    assert fast.state is not None and plain.state is not None
    fast_files, plain_files = fast.state.components[0].files, plain.state.components[0].files
    assert isinstance(fast_files, FileList) and isinstance(plain_files, FileList)
    assert fast_files.extra == ()
    spaced_element = spacing[1].isspace()  # d/1023 or z.txt, the run's last file
    assert [f.path for f in plain_files.extra] == ([run.last] if spaced_element else [])
    assert both_verifies(variant, monkeypatch)[0] is True


# --- duplicates ---------------------------------------------------------------------------------


def _listed_twice(outcome: tuple[object, ...], path: str) -> None:
    assert outcome[0] == "error", outcome
    assert outcome[1] == "SbomError"
    assert f"file '{path}' listed twice" in str(outcome[2]), outcome


@pytest.mark.parametrize("where", ["after the run", "at the end", "before the run"])
def test_a_generic_element_repeating_a_path_of_a_taken_run_is_refused(
    base: Release,
    runs: RenderedRuns,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    doc = base.document()
    component = component_of(doc, "dataset:ds")
    listed = component["components"]
    duplicate = generic("d/0100", files()["d/0100"])
    index = {
        "after the run": next(i for i, f in enumerate(listed) if f["name"] == SECOND),
        "at the end": len(listed),
        "before the run": next(i for i, f in enumerate(listed) if f["name"] == "d/0000"),
    }[where]
    listed.insert(index, duplicate)
    reseal(component)
    variant = signed_variant(base, tmp_path, doc, raw=True)
    plain, fast = read_both(variant.payload(), variant.sbom_sha256(), runs)
    assert plain.error is not None and "'d/0100' listed twice" in plain.error[1]
    # every chunk's text is intact wherever the generic element stands: all 5 taken
    assert fast.runs_taken == 5
    _listed_twice(both_verifies(variant, monkeypatch), "d/0100")


def test_a_plain_element_repeating_a_path_inside_a_taken_run_is_refused(
    base: Release, runs: RenderedRuns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Right after the first chunk of d/ (taken whole): its path sorts inside that chunk.
    doc = base.document()
    component = component_of(doc, "dataset:ds")
    listed = component["components"]
    at = next(i for i, f in enumerate(listed) if f["name"] == SECOND)
    listed.insert(at, node("d/0300", files()["d/0300"]))
    reseal(component)
    variant = signed_variant(base, tmp_path, doc, raw=True)
    _, fast = read_both(variant.payload(), variant.sbom_sha256(), runs)
    assert fast.runs_taken == 5  # every chunk was taken whole, and the duplicate still caught
    _listed_twice(both_verifies(variant, monkeypatch), "d/0300")


def test_a_whole_chunk_listed_twice_is_refused(
    base: Release, runs: RenderedRuns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same text twice matches the same run twice.
    doc = base.document()
    component = component_of(doc, "dataset:ds")
    listed = component["components"]
    chunk = [f for f in listed if f["name"].startswith("e/")]
    at = listed.index(chunk[-1]) + 1
    listed[at:at] = copy.deepcopy(chunk)
    reseal(component)
    variant = signed_variant(base, tmp_path, doc, raw=True)
    _, fast = read_both(variant.payload(), variant.sbom_sha256(), runs)
    assert fast.runs_taken == 6  # the base release's 5, e/ taken twice
    _listed_twice(both_verifies(variant, monkeypatch), "e/00.txt")


# --- disorder -----------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["chunks swapped", "reversed", "shuffled", "top files last"])
def test_a_file_list_out_of_path_order_reads_and_verifies_the_same(
    base: Release,
    runs: RenderedRuns,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    order: str,
) -> None:
    doc = base.document()
    component = component_of(doc, "dataset:ds")
    listed = component["components"]
    if order == "chunks swapped":  # each chunk's text intact: taken whole, out of order
        first = [f for f in listed if f["name"] < SECOND and f["name"].startswith("d/")]
        second = [f for f in listed if f["name"] >= SECOND and f["name"].startswith("d/")]
        others = [f for f in listed if not f["name"].startswith("d/")]
        component["components"] = [*others[:1], *second, *first, *others[1:]]
    elif order == "reversed":
        listed.reverse()
    elif order == "shuffled":
        random.Random(3).shuffle(listed)
    else:
        component["components"] = sorted(listed, key=lambda f: "/" not in f["name"])
    reseal(component)
    variant = signed_variant(base, tmp_path, doc)
    plain, fast = read_both(variant.payload(), variant.sbom_sha256(), runs)
    assert plain.state is not None
    # Chunks taken whole out of order are still read as the plain parser reads them. The
    # one-file chunks [a.txt] and [z.txt] are taken wherever they stand; the others only
    # where their elements still stand together in order (swapped, top files last: all 5).
    assert fast.runs_taken == {"chunks swapped": 5, "top files last": 5}.get(order, 2)
    assert both_verifies(variant, monkeypatch)[0] is True


def test_a_tree_changed_since_signing_with_a_list_out_of_order(
    base: Release, runs: RenderedRuns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = base.document()
    component = component_of(doc, "dataset:ds")
    component["components"].reverse()
    reseal(component)
    variant = signed_variant(base, tmp_path, doc)
    victim = base.data / "d" / "0513"
    before = victim.read_bytes()
    victim.write_bytes(b"tampered")
    try:
        outcome = both_verifies(variant, monkeypatch)
    finally:
        victim.write_bytes(before)
    assert [(f.rule, f.path) for f in outcome[1]] == [("artifact-modified", "d/0513")]  # type: ignore[attr-defined]


# --- paths a signed SBOM may not hold ------------------------------------------------


def _long_path_tree(root: Path) -> tuple[Path, str]:
    """ds/ holding a file whose relative path is 4,280 UTF-8 bytes (2,248 characters): 16
    directories of 127 'é' and a 200-character ASCII name. Made relative to the working
    directory: the absolute path of the deepest directory would not fit PATH_MAX."""
    deep = "/".join(["é" * 127] * 16)
    os.makedirs(f"ds/{deep}")
    fd = os.open(f"ds/{deep}", os.O_RDONLY)
    try:
        out = os.open("f" * 200, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, b"long")
        os.close(out)
    finally:
        os.close(fd)
    (root / "ds" / "a.txt").write_bytes(b"a")
    rel = f"{deep}/{'f' * 200}"
    assert len(rel.encode()) > 4096 >= len(rel)
    return Path("ds"), rel


def test_a_path_longer_than_4096_bytes_is_unsafe_with_or_without_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `sbom build` refuses such a path; a hand-made signed SBOM may list it. The plain
    # reading reports it (sbom-path-unsafe, never opened); the fast path must too.
    monkeypatch.chdir(tmp_path)
    data, rel = _long_path_tree(tmp_path)
    # built for a stand-in file, then the path put in its place
    made = make_release(
        tmp_path / "placeholder",
        datasets={"ds": {"a.txt": b"a", "zz": b"long"}},
        sbom_name="ds.cdx.json",
    )
    doc = made.document()
    component = component_of(doc, "dataset:ds")
    for f in component["components"]:
        if f["name"] == "zz":
            f["name"], f["bom-ref"] = rel, f"{REF}/{rel}"
    component["components"].sort(key=lambda f: f["name"].encode())
    reseal(component)
    release = signed_variant(dataclasses.replace(made, datasets=(data,)), tmp_path, doc)

    _, observed = observe(data)
    plain = read_statement(release.payload(), release.sbom_sha256())
    assert plain.state is not None and plain.state.components[0].unsafe_paths == (rel,)
    slow = verify_outcome(release, data, overlap_from_bytes=NEVER)
    assert ("sbom-path-unsafe", rel) in [(f.rule, f.path) for f in slow[1]]  # type: ignore[attr-defined]
    assert verify_outcome(release, data, overlap_from_bytes=0) == slow
    read_both(release.payload(), release.sbom_sha256(), observed)

"""A file's mode in the SBOM (chainguard:mode): recorded only for a file with a setuid, setgid,
sticky or execute bit, written alike by both render paths, read back by the general reader (an
entry with a mode is never plain), checked when present; and the pure comparison of the bits."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from support.sbom_inputs import DEPENDENCIES, DEPLOYMENT, SERIAL_NUMBER, TIMESTAMP, plain_file
from support.surgery import file_node, props, reseal_all

from chainguard.compare import compare_tree
from chainguard.errors import SbomError
from chainguard.models import ExpectedComponent, FileDigest, FileList, ObservedTree, tree_digest
from chainguard.sbom import fileshape
from chainguard.sbom.build import ComponentInput, build_sbom
from chainguard.sbom.read import read_sbom

FILES = (
    plain_file("bin/run.sh", 10, format="text", mode=0o755),
    plain_file("bin/suid", 10, mode=0o4750),
    plain_file("bin/sticky", 10, mode=0o1644),  # sticky only: recorded too
    plain_file("data/x.txt", 3, format="text"),  # an ordinary file: no mode property
)
COMPONENT = ComponentInput("dataset", "tools", FILES)


def both() -> tuple[bytes, bytes]:
    kw: dict[str, Any] = {"timestamp": TIMESTAMP, "serial_number": SERIAL_NUMBER}
    direct = build_sbom(DEPLOYMENT, (COMPONENT,), DEPENDENCIES, **kw)
    reference = build_sbom(DEPLOYMENT, (COMPONENT,), DEPENDENCIES, files_via_cyclonedx=True, **kw)
    return direct, reference


def test_direct_rendering_with_modes_is_byte_identical_to_cyclonedx() -> None:
    direct, reference = both()
    assert direct == reference
    doc = json.loads(direct)
    node = file_node(doc, "dataset:tools", "bin/run.sh")
    assert props(node)["chainguard:mode"] == "0755"
    names = [p["name"] for p in node["properties"]]
    assert names == ["chainguard:format", "chainguard:mode", "chainguard:size"]
    assert props(file_node(doc, "dataset:tools", "bin/suid"))["chainguard:mode"] == "4750"
    assert "chainguard:mode" not in props(file_node(doc, "dataset:tools", "data/x.txt"))


def test_modes_round_trip() -> None:
    direct, _ = both()
    [component] = read_sbom(direct, "x").components
    assert {f.path: f.mode for f in component.files} == {f.path: f.mode for f in FILES}


@pytest.mark.parametrize(
    ("st_mode", "recorded"),
    [
        (0o100644, 0),
        (0o100755, 0o755),
        (0o100600, 0),
        (0o104700, 0o4700),
        (0o102644, 0o2644),
        (0o100001, 0o1),
    ],
)
def test_recorded_mode_keeps_permission_bits_only_with_an_execute_like_bit(
    st_mode: int, recorded: int
) -> None:
    assert fileshape.recorded_mode(st_mode) == recorded


def test_an_entry_with_a_mode_is_not_plain() -> None:
    """The fast path's shapes (the signed text a worker renders, the plain parser) never take
    an executable file: its entry goes to the general reader, which keeps the mode."""
    f = FILES[0]
    entry = fileshape.file_dict("dataset:tools", f)
    text = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
    assert fileshape.plain_file_pattern().match(text + ",") is None
    assert fileshape.plain_file_parser()(entry) is None
    assert f.sha256 is not None
    assert text != fileshape.render_element("dataset:tools", f.path, f.size, f.sha256, "text")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("755", "4 octal digits"),
        ("07555", "4 octal digits"),
        ("0855", "4 octal digits"),
        ("+755", "4 octal digits"),
        ("0644", "has no setuid, setgid, sticky or execute bit"),
        ("0000", "has no setuid, setgid, sticky or execute bit"),
    ],
)
def test_a_malformed_mode_is_refused_in_one_line(value: str, message: str) -> None:
    direct, _ = both()
    doc = json.loads(direct)
    for p in file_node(doc, "dataset:tools", "bin/run.sh")["properties"]:
        if p["name"] == "chainguard:mode":
            p["value"] = value
    reseal_all(doc)
    with pytest.raises(SbomError, match=message) as info:
        read_sbom(json.dumps(doc).encode(), "sbom.json")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("mode", [0o644, 0o10755, -1])
def test_build_refuses_a_mode_read_would_refuse(mode: int) -> None:
    bad = ComponentInput("dataset", "bad", (plain_file("x", 3, mode=mode),))
    with pytest.raises(ValueError, match="mode"):
        build_sbom(DEPLOYMENT, (bad,), DEPENDENCIES)


# --- the pure comparison ---------------------------------------------------------------------


def fd(path: str, content: bytes, mode: int = 0) -> FileDigest:
    return FileDigest(path, len(content), hashlib.sha256(content).hexdigest(), mode=mode)


def signed(*files: FileDigest, modes: bool = True) -> ExpectedComponent:
    return ExpectedComponent(
        "dataset", "d", "dataset:d", tree_digest(list(files)), tuple(files), modes_recorded=modes
    )


def seen(*files: FileDigest, modes: bool = True) -> ObservedTree:
    return ObservedTree("/d", FileList((), files), modes_observed=modes)


def test_execute_bit_added_removed_and_setuid_are_found_where_they_are() -> None:
    expected = signed(fd("a", b"a"), fd("run", b"r", 0o755), fd("s", b"s", 0o750))
    observed = seen(fd("a", b"a", 0o700), fd("run", b"r"), fd("s", b"s", 0o4750))
    found = {(f.rule, f.path, f.expected, f.actual) for f in compare_tree(expected, observed)}
    assert found == {
        ("mode-changed", "a", "0000", "0100"),
        ("mode-changed", "run", "0111", "0000"),
        ("mode-changed", "s", "0110", "4110"),
    }
    messages = {f.path: f.message for f in compare_tree(expected, observed)}
    assert messages["s"] == "file mode changed: setuid added"
    assert messages["run"].endswith("removed")


def test_read_and_write_bits_are_not_compared() -> None:
    # 0o755 signed, 0o711 now: the same execute bits (group/others read differ: umask)
    assert compare_tree(signed(fd("run", b"r", 0o755)), seen(fd("run", b"r", 0o711))) == []


def test_a_mode_change_with_a_content_change_reports_both() -> None:
    found = compare_tree(signed(fd("a", b"a")), seen(fd("a", b"b", 0o755)))
    assert {f.rule for f in found} == {"artifact-modified", "mode-changed"}


def test_nothing_is_compared_where_a_side_has_no_modes() -> None:
    """An OMS manifest records none, an object store has none."""
    run = fd("run", b"r", 0o755)
    assert compare_tree(signed(fd("run", b"r"), modes=False), seen(run)) == []
    assert compare_tree(signed(run), seen(fd("run", b"r"), modes=False)) == []


def test_a_renamed_executable_is_renamed_not_mode_changed() -> None:
    found = compare_tree(signed(fd("a", b"x", 0o755)), seen(fd("b", b"x")))
    assert [(f.rule, f.path) for f in found] == [("artifact-renamed", "b")]

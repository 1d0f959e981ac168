"""Properties of verify model / verify dataset over generated trees (Hypothesis).

For any tree (nested directories, odd names, empty files, large files across the shard size,
links inside the tree): a release built and signed from it verifies. After exactly one
mutation (a byte replaced at any offset, truncation, append, rename of a file or a directory,
delete, add, a file replaced by a link or a directory, a directory by a file, a mode change),
verify reports exactly the findings the reference model in support/trees.py predicts: the
right rules, at the right paths. A mode change that adds or removes a setuid, setgid, sticky or
execute bit is `mode-changed` at that file (and at each link to it); one of read/write bits only
passes (sbom/fileshape.py MODE). A byte changed to any value is reported at its file, whatever
else is.

Everything is real: files written, keys generated, the SBOM built and signed, verified through
the library API (trust first, and hashing during the trust check on worker processes) and the
CLI. Each example works in its own temporary directory (Hypothesis runs many examples per test
function, so pytest's tmp_path would be shared).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st
from support.release import Release, make_release
from support.trees import (
    MIB,
    Tree,
    apply,
    chmods,
    examples,
    expected_findings,
    mutated,
    mutations,
    trees,
    view,
    write_tree,
)

from chainguard import api
from chainguard.findings import Report
from chainguard.hashing import PROCESS_MIN_FILES_ENV
from chainguard.models import ComponentKind

pytestmark = pytest.mark.slow  # a release built and verified per example

KINDS: st.SearchStrategy[ComponentKind] = st.sampled_from(["model", "dataset"])
SHARD_SIZES = st.sampled_from([MIB, 2 * MIB])
NEVER = 1 << 62  # overlap_from_bytes: check trust first, then hash


def release_of(root: Path, tree: Tree, kind: ComponentKind, shard_size: int) -> Release:
    directory = write_tree(root / kind, tree)
    models, datasets = ([directory], []) if kind == "model" else ([], [directory])
    return make_release(
        root,
        models=models,
        datasets=datasets,
        version="1",
        sbom_name="r.cdx.json",
        shard_size=shard_size,
    )


def verify(release: Release, kind: ComponentKind) -> list[Report]:
    """The directory verified both ways verify_tree can run: trust first, then hashing in the
    calling thread; and hashing on worker processes while trust is checked."""
    directory = release.models[0] if kind == "model" else release.datasets[0]
    first = api.verify_tree(directory, kind=kind, trust=release.trust(), overlap_from_bytes=NEVER)
    with _env(PROCESS_MIN_FILES_ENV, "1"):
        during = api.verify_tree(directory, kind=kind, trust=release.trust(), overlap_from_bytes=0)
    return [first, during]


class _env:
    """An environment variable set for a block (monkeypatch is per test, not per example)."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def __enter__(self) -> None:
        import os

        self.saved = os.environ.get(self.name)
        os.environ[self.name] = self.value

    def __exit__(self, *exc: object) -> None:
        import os

        if self.saved is None:
            os.environ.pop(self.name, None)
        else:
            os.environ[self.name] = self.saved


def rules(report: Report) -> set[tuple[str, str]]:
    return {(f.rule, f.path) for f in report.findings}


@examples(25)
@given(data=st.data(), kind=KINDS, shard_size=SHARD_SIZES)
def test_a_built_release_verifies_and_one_mutation_is_found_where_it_is(
    data: st.DataObject, kind: ComponentKind, shard_size: int
) -> None:
    tree = data.draw(trees(shard_size), label="tree")
    with tempfile.TemporaryDirectory() as tmp:
        release = release_of(Path(tmp), tree, kind, shard_size)
        for report in verify(release, kind):
            assert report.ok and report.findings == (), report.findings
        mutation = data.draw(mutations(tree), label="mutation")
        event(mutation.kind)
        apply(release.root / kind, mutation)
        after = mutated(tree, mutation)
        expected = expected_findings(tree, after)
        for report in verify(release, kind):
            assert rules(report) == expected, (mutation, report.findings)
            assert report.ok is (not expected)
            for f in report.findings:
                assert f.component == f"{kind}:{kind}"
                if f.rule == "artifact-renamed":  # names a missing file with this content
                    assert f.expected is not None and f.expected not in after.paths()
                    assert view(tree)[f.expected] == view(after)[f.path]
        outcome = release.verify(json=True)  # the CLI: exit 1 exactly when something is found
        assert set(outcome.rules) == expected
        assert outcome.code == (1 if expected else 0)


@examples(10)
@given(data=st.data(), kind=KINDS)
def test_a_mode_change_is_found_at_the_file_and_each_link_to_it(
    data: st.DataObject, kind: ComponentKind
) -> None:
    """The mutation above, drawn every time: execute or setuid bits added or removed are
    mode-changed (links carry their target's mode); read/write bits alone pass."""
    tree = data.draw(trees(MIB), label="tree")
    with tempfile.TemporaryDirectory() as tmp:
        release = release_of(Path(tmp), tree, kind, MIB)
        mutation = data.draw(chmods(tree), label="mutation")
        apply(release.root / kind, mutation)
        expected = expected_findings(tree, mutated(tree, mutation))
        event("mode-changed" if expected else "passes")
        assert {rule for rule, _ in expected} <= {"mode-changed"}
        for report in verify(release, kind):
            assert rules(report) == expected, (mutation, report.findings)
            assert report.ok is (not expected)


@examples(10)
@given(data=st.data(), kind=KINDS, mask=st.integers(1, 255))
def test_any_byte_changed_to_any_value_is_reported_at_its_file(
    data: st.DataObject, kind: ComponentKind, mask: int
) -> None:
    """Any value, not only text: the detected format may change too (a pickle's opcode, a zip's
    magic), and whatever else is reported, it is reported at that file, with the change."""
    tree = data.draw(trees(MIB, links=False), label="tree")
    nonempty = sorted(p for p, content in tree.files.items() if content)
    assume(nonempty)
    path = data.draw(st.sampled_from(nonempty), label="path")
    offset = data.draw(st.integers(0, len(tree.files[path]) - 1), label="offset")
    with tempfile.TemporaryDirectory() as tmp:
        release = release_of(Path(tmp), tree, kind, MIB)
        with (release.root / kind / path).open("r+b") as f:
            f.seek(offset)
            byte = f.read(1)[0]
            f.seek(offset)
            f.write(bytes([byte ^ mask]))
        for report in verify(release, kind):
            assert not report.ok
            assert {f.path for f in report.findings} == {path}, report.findings
            assert "artifact-modified" in {f.rule for f in report.findings}


@st.composite
def wide_trees(draw: st.DrawFn) -> Tree:
    """A dataset directory of more files than one directory chunk holds (the hashing engine
    hands a directory out 1,024 names at a time; verify reads the signed list in step with
    those chunks), with a subdirectory sorting among them and an odd name or two."""
    count = draw(st.integers(1000, 2100))
    files = {f"{i:05d}.txt": b"%d\n" % i for i in range(count)}
    # a file of a subdirectory (its name taken from a file's) sorting among them
    inside = draw(st.sampled_from(["01023.txt/x", "01024.txt/y", "00999.txt/z é"]))
    files.pop(inside.split("/")[0], None)
    files[inside] = b"inside\n"
    files["ｚ 数据.txt"] = b""
    return Tree(files)


@examples(4)
@given(data=st.data())
def test_one_mutation_among_thousands_of_files_is_found_where_it_is(data: st.DataObject) -> None:
    tree = data.draw(wide_trees(), label="tree")
    with tempfile.TemporaryDirectory() as tmp:
        release = release_of(Path(tmp), tree, "dataset", MIB)
        for report in verify(release, "dataset"):
            assert report.ok and report.findings == (), report.findings[:5]
        mutation = data.draw(mutations(tree), label="mutation")
        apply(release.root / "dataset", mutation)
        expected = expected_findings(tree, mutated(tree, mutation))
        for report in verify(release, "dataset"):
            assert rules(report) == expected, (mutation, report.findings[:5])

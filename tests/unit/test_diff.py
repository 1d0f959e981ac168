"""chainguard.diff: two expected states → a ReleaseDiff (pure, offline)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import replace

import pytest

from chainguard.diff import (
    FileChange,
    FileState,
    diff_dependencies,
    diff_files,
    diff_patches,
    diff_releases,
    version_change,
)
from chainguard.models import (
    DeclaredPatch,
    Dependency,
    DeploymentInfo,
    ExpectedComponent,
    ExpectedState,
    FileDigest,
    FileList,
    tree_digest,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def f(path: str, content: str = "", size: int | None = None) -> FileDigest:
    content = content or path
    return FileDigest(path, len(content) if size is None else size, sha(content))


def component(
    name: str, files: Sequence[FileDigest], *, kind: str = "model", version: str | None = None
) -> ExpectedComponent:
    return ExpectedComponent(
        kind,  # type: ignore[arg-type]
        name,
        f"{kind}:{name}",
        tree_digest(files),
        tuple(files),
        version=version,
    )


def state(
    *,
    version: str = "1.0",
    serial: int = 1,
    components: Sequence[ExpectedComponent] = (),
    dependencies: Sequence[Dependency] = (),
    patches: Sequence[DeclaredPatch] = (),
    expires: str | None = None,
    name: str = "svc",
) -> ExpectedState:
    return ExpectedState(
        DeploymentInfo(name, version, serial, expires),
        tuple(components),
        tuple(dependencies),
        patches=tuple(patches),
    )


def dep(name: str, version: str | None, *hashes: str, record: str | None = None) -> Dependency:
    return Dependency(name, version, tuple(hashes), record_sha256=record)


BASE = state(
    components=[component("weights", [f("a.bin"), f("b.bin")])],
    dependencies=[dep("torch", "2.6.0"), dep("numpy", "2.1.3")],
    patches=[DeclaredPatch("CVE-2025-32434", "torch>=2.6.0")],
)


# --- identical ----------------------------------------------------------------------------------


def test_identical_states_are_the_same() -> None:
    diff = diff_releases(BASE, BASE)
    assert diff.same
    assert diff.count() == 0
    assert (diff.components, diff.dependencies, diff.patches) == ((), (), ())
    assert diff.deployment.serial_change == "same"


def test_what_a_rebuild_varies_is_not_a_difference() -> None:
    rebuilt = replace(
        BASE,
        deployment=replace(BASE.deployment, bom_serial_number="urn:uuid:other"),
        sbom_sha256="f" * 64,
    )
    assert diff_releases(BASE, rebuilt).same


def test_a_compact_file_list_equals_the_same_files_as_objects() -> None:
    files = [f("a.bin"), f("b.bin")]
    lines = "".join(f"{x.path}\0{x.size}\0{x.sha256}\n" for x in files)
    compact = replace(BASE.components[0], files=FileList(lines))
    assert diff_releases(BASE, replace(BASE, components=(compact,))).same


# --- deployment ---------------------------------------------------------------------------------


def test_version_and_serial_up() -> None:
    diff = diff_releases(BASE, replace(BASE, deployment=DeploymentInfo("svc", "1.1", 2)))
    assert diff.deployment.changed_fields == ("version", "serial")
    assert diff.deployment.serial_change == "increase"
    assert not diff.same


def test_a_lower_serial_is_a_rollback() -> None:
    newer = replace(BASE, deployment=DeploymentInfo("svc", "1.1", 7))
    diff = diff_releases(newer, BASE)
    assert diff.deployment.serial_change == "rollback"
    assert diff.deployment.changed_fields == ("version", "serial")


def test_deployment_name_and_expiry_are_compared() -> None:
    other = replace(BASE, deployment=DeploymentInfo("other", "1.0", 1, "2030-01-01T00:00:00Z"))
    assert diff_releases(BASE, other).deployment.changed_fields == ("name", "expires")


# --- components and files -----------------------------------------------------------------------


def test_components_added_removed_and_changed() -> None:
    old = state(components=[component("weights", [f("a.bin")]), component("gone", [f("x")])])
    new = state(
        components=[
            component("weights", [f("a.bin", "new bytes")]),
            component("corpus", [f("d/1"), f("d/2")], kind="dataset"),
        ]
    )
    diff = diff_releases(old, new)
    got = [(c.bom_ref, c.change) for c in diff.components]
    assert got == [
        ("dataset:corpus", "added"),
        ("model:gone", "removed"),
        ("model:weights", "changed"),
    ]
    added, removed, changed = diff.components
    assert added.old is None and added.new is not None and added.new.files == 2
    assert added.files == ()  # a whole new component is counted, not listed
    assert removed.new is None and removed.old is not None
    assert changed.old is not None and changed.new is not None
    assert changed.old.root_digest != changed.new.root_digest
    (file_change,) = changed.files
    assert file_change == FileChange(
        "a.bin", "changed", FileState(5, sha("a.bin")), FileState(9, sha("new bytes"))
    )
    assert diff.count() == 4  # three components, one file


def test_files_added_removed_changed_in_path_order() -> None:
    old = [f("keep"), f("z-removed"), f("b-changed"), f("same-size", "abc")]
    new = [f("keep"), f("b-changed", "other"), f("a-added"), f("same-size", "abd")]
    changes = diff_files(old, new)
    assert [(c.path, c.change) for c in changes] == [
        ("a-added", "added"),
        ("b-changed", "changed"),
        ("same-size", "changed"),  # same size, other content
        ("z-removed", "removed"),
    ]
    added = changes[0]
    assert added.old is None and added.new == FileState(7, sha("a-added"))


def test_only_the_version_of_a_component_changed() -> None:
    old = state(components=[component("weights", [f("a")], version="1")])
    new = state(components=[component("weights", [f("a")], version="2")])
    (change,) = diff_releases(old, new).components
    assert change.change == "changed" and change.files == ()
    assert change.old is not None and change.old.version == "1"


def test_compact_lists_of_100000_files_diff_in_linear_time() -> None:
    n = 100_000
    files = [f"d{i // 1000:03}/f{i:06}\0{i % 997}\0{sha(str(i))}\n" for i in range(n)]
    old = FileList("".join(files))
    changed = list(files)
    changed[5] = f"d000/f000005\0{5}\0{sha('tampered')}\n"
    del changed[n // 2]
    changed.append(f"zz/new\0{1}\0{sha('new')}\n")
    new = FileList("".join(changed), extra=(FileDigest("d000/extra", 3, sha("e")),))
    started = time.perf_counter()
    result = diff_files(old, new)
    elapsed = time.perf_counter() - started
    assert [(c.path, c.change) for c in result] == [
        ("d000/extra", "added"),
        ("d000/f000005", "changed"),
        ("d050/f050000", "removed"),
        ("zz/new", "added"),
    ]
    assert elapsed < 5, elapsed  # a dict per side, no pairwise work (about 0.1 s here)


# --- dependencies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"2.6.0"}, {"2.5.1"}, "downgrade"),
        ({"2.5.1"}, {"2.6.0"}, "upgrade"),
        ({"1.0"}, {"1.0.0"}, "changed"),  # equal versions, spelled otherwise
        ({"2.0"}, {"2.0rc1"}, "downgrade"),  # a pre-release sorts below its release
        ({"1.9"}, {"1.10"}, "upgrade"),  # not string order
        ({"abc"}, {"abd"}, "changed"),  # not a version: compared as text
        ({None}, {"1.0"}, "changed"),  # unpinned
        ({"1.0", "2.0"}, {"1.0", "2.1"}, "upgrade"),  # forks: the highest went up
        ({"1.0", "2.0"}, {"0.9", "2.1"}, "downgrade"),  # ... the lowest went down
        ({"1.0", "3.0"}, {"1.0", "2.0", "3.0"}, "changed"),  # one in between
    ],
)
def test_version_change(old: set[str | None], new: set[str | None], expected: str) -> None:
    assert version_change(old, new) == expected


def test_dependencies_added_removed_up_down() -> None:
    old = [dep("torch", "2.6.0"), dep("numpy", "1.26.4"), dep("idna", "3.10"), dep("x", "weird")]
    new = [dep("torch", "2.5.1"), dep("numpy", "2.1.3"), dep("requests", "2.32.3"), dep("x", "odd")]
    got = [(d.name, d.change, d.old, d.new) for d in diff_dependencies(old, new)]
    assert got == [
        ("idna", "removed", ("3.10",), ()),
        ("numpy", "upgrade", ("1.26.4",), ("2.1.3",)),
        ("requests", "added", (), ("2.32.3",)),
        ("torch", "downgrade", ("2.6.0",), ("2.5.1",)),
        ("x", "changed", ("weird",), ("odd",)),
    ]


def test_same_version_other_hashes_is_rehashed() -> None:
    old = [dep("torch", "2.6.0", "sha256:" + "a" * 64), dep("six", "1.16.0", record="1" * 64)]
    new = [dep("torch", "2.6.0", "sha256:" + "b" * 64), dep("six", "1.16.0", record="2" * 64)]
    six, torch = diff_dependencies(old, new)
    assert (six.change, six.hashes_added, six.hashes_removed) == (
        "rehashed",
        ("record-sha256:" + "2" * 64,),
        ("record-sha256:" + "1" * 64,),
    )
    assert (torch.change, torch.old, torch.new) == ("rehashed", ("2.6.0",), ("2.6.0",))
    assert torch.hashes_added == ("sha256:" + "b" * 64,)


def test_one_name_from_several_manifests_is_one_package() -> None:
    old = [dep("torch", "2.6.0"), replace(dep("torch", "2.6.0"), manifest="uv-lock:uv.lock")]
    assert diff_dependencies(old, [dep("torch", "2.6.0")]) == ()


def test_unpinned_versions_sort_first() -> None:
    (change,) = diff_dependencies([dep("a", "2.0"), dep("a", None)], [dep("a", "10.0")])
    assert change.old == (None, "2.0")
    assert change.change == "changed"


# --- patches ------------------------------------------------------------------------------------


def test_patches_declared_withdrawn_changed() -> None:
    old = [DeclaredPatch("CVE-1", "torch>=2.6.0"), DeclaredPatch("GHSA-x", "numpy>=2")]
    new = [
        DeclaredPatch("CVE-1", "torch>=2.6.1"),
        DeclaredPatch("MODEL-2026-07", "model:m@sha256:" + "a" * 64),
    ]
    got = [(p.id, p.change, p.old, p.new) for p in diff_patches(old, new)]
    assert got == [
        ("CVE-1", "changed", "torch>=2.6.0", "torch>=2.6.1"),
        ("GHSA-x", "withdrawn", "numpy>=2", None),
        ("MODEL-2026-07", "declared", None, "model:m@sha256:" + "a" * 64),
    ]


def test_a_withdrawn_patch_makes_the_releases_differ() -> None:
    diff = diff_releases(BASE, replace(BASE, patches=()))
    assert not diff.same and diff.count() == 1
    assert diff.patches[0].change == "withdrawn"

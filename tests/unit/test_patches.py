"""chainguard/patches.py: every requirement form and every bad one, and the evaluation of a
declared patch against what one verify measured (pure: no files)."""

from __future__ import annotations

import hashlib

import pytest

from chainguard.errors import ExitCode, UsageError
from chainguard.models import (
    DeclaredPatch,
    Dependency,
    DeploymentInfo,
    ExpectedComponent,
    ExpectedState,
    FileDigest,
    FileList,
    Measured,
    ObservedDependencies,
    ObservedTree,
    tree_digest,
)
from chainguard.patches import (
    DependencyRequirement,
    TreeRequirement,
    declared_patches,
    measured_digest,
    parse_declaration,
    parse_patch_id,
    parse_requirement,
    patch_findings,
    patch_statuses,
)


def h(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


HEX = h("patched")

# --- ids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pid",
    [
        "CVE-2025-32434",
        "CVE-2021-1234567",
        "GHSA-53q9-r3pm-6pq6",
        "PYSEC-2025-41",
        "MODEL-2026-07-backdoor-removal",
        "internal.fix_1",
        "X" * 128,
    ],
)
def test_valid_patch_ids(pid: str) -> None:
    assert parse_patch_id(pid) == pid


@pytest.mark.parametrize(
    ("pid", "says"),
    [
        ("", "use letters"),
        ("-leading-dash", "use letters"),
        ("has space", "use letters"),
        ("A=B", "use letters"),
        ("CVE/1", "use letters"),
        ("été-1", "use letters"),
        ("X" * 129, "at most 128"),
        ("line\nbreak", "use letters"),
        ("cve-2025-32434", "CVE-YYYY-NNNN"),
        ("CVE-25-32434", "CVE-YYYY-NNNN"),
        ("CVE-2025-123", "CVE-YYYY-NNNN"),
        ("GHSA-53q9-r3pm", "GHSA-xxxx-xxxx-xxxx"),
        ("GHSA-53Q9-R3PM-6PQ6", "GHSA-xxxx-xxxx-xxxx"),
        ("PYSEC-2025", "PYSEC-YYYY-N"),
    ],
)
def test_bad_patch_ids_are_one_line_usage_errors(pid: str, says: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_patch_id(pid)
    assert e.value.exit_code is ExitCode.USAGE
    assert says in str(e.value) and "\n" not in str(e.value)


# --- requirements -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("torch>=2.6.0", DependencyRequirement("torch", ">=2.6.0")),
        (
            "Torch_Vision >= 0.21, != 0.21.1",
            DependencyRequirement("torch-vision", "!=0.21.1,>=0.21"),
        ),
        ("numpy==2.1.*", DependencyRequirement("numpy", "==2.1.*")),
        ("numpy===2.1.3", DependencyRequirement("numpy", "===2.1.3")),
        (f"model:weights@sha256:{HEX}", TreeRequirement("model", "weights", None, HEX)),
        (f"dataset:corpus@sha256:{HEX}", TreeRequirement("dataset", "corpus", None, HEX)),
        (
            f"model:weights/sub dir/model.safetensors@sha256:{HEX}",
            TreeRequirement("model", "weights", "sub dir/model.safetensors", HEX),
        ),
        (
            f"dataset:d/part-0.parquet@sha256:{HEX}",
            TreeRequirement("dataset", "d", "part-0.parquet", HEX),
        ),
        (f"model:bert@v2@sha256:{HEX}", TreeRequirement("model", "bert@v2", None, HEX)),
    ],
)
def test_requirement_forms(text: str, parsed: object) -> None:
    assert parse_requirement(text) == parsed


def test_tree_requirement_names_what_it_is_of() -> None:
    root = parse_requirement(f"model:weights@sha256:{HEX}")
    one = parse_requirement(f"model:weights/a/b.bin@sha256:{HEX}")
    assert isinstance(root, TreeRequirement) and isinstance(one, TreeRequirement)
    assert (root.bom_ref, root.subject) == ("model:weights", "model:weights")
    assert (one.bom_ref, one.subject) == ("model:weights", "model:weights/a/b.bin")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        (" torch>=2.6.0", "spaces"),
        ("torch>=2.6.0 ", "spaces"),
        ("torch", "no version specifier"),
        ("torch>=>2.6", "not a PEP 508 requirement"),
        ("torch 2.6.0", "not a PEP 508 requirement"),
        ("torch>=2.6.0; python_version < '3.12'", "marker"),
        ("torch[cuda]>=2.6.0", "extras"),
        ("torch @ https://example.org/torch-2.6.0-py3-none-any.whl", "URL"),
        ("model:weights", "model:NAME@sha256:HEX"),
        (f"model:weights@sha512:{HEX}", "model:NAME@sha256:HEX"),
        (f"model:weights@{HEX}", "model:NAME@sha256:HEX"),
        (f"model:@sha256:{HEX}", "model:NAME@sha256:HEX"),
        (f"model:/x@sha256:{HEX}", "name is empty"),
        (f"model:we\x01ights@sha256:{HEX}", "not printable"),
        (f"model:weights@sha256:{HEX.upper()}", "64 lowercase hex"),
        (f"model:weights@sha256:{HEX[:-1]}", "64 lowercase hex"),
        (f"model:weights@sha256:{HEX} ", "spaces"),
        (f"model:weights/@sha256:{HEX}", "empty path"),
        (f"model:weights/../x@sha256:{HEX}", "file path"),
        (f"model:weights//x@sha256:{HEX}", "file path"),
        (f"model:weights//etc/passwd@sha256:{HEX}", "file path"),
        (f"model:weights/a\\b@sha256:{HEX}", "file path"),
        (f"dataset:d/./x@sha256:{HEX}", "file path"),
    ],
)
def test_bad_requirements_are_one_line_usage_errors(text: str, says: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_requirement(text)
    assert e.value.exit_code is ExitCode.USAGE
    assert says in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_declaration_splits_at_the_first_equals_sign() -> None:
    assert parse_declaration("CVE-2025-32434=torch==2.6.0") == ("CVE-2025-32434", "torch==2.6.0")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("torch>=2.6.0", "patch id"),  # no ID= in front: "torch>" is no id
        ("CVE-2025-32434", "ID=REQUIREMENT"),
        ("CVE-2025-32434=", "empty"),
        ("=torch>=2.6.0", "patch id"),
    ],
)
def test_bad_declarations(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        parse_declaration(text)


def test_declared_patches_keep_order_and_refuse_two_requirements_for_one_id() -> None:
    pairs = [("B-1", "torch>=2.6"), ("A-1", "numpy>=2"), ("B-1", "torch>=2.6")]
    assert declared_patches(pairs) == (
        DeclaredPatch("B-1", "torch>=2.6"),
        DeclaredPatch("A-1", "numpy>=2"),
    )
    assert declared_patches({"A-1": "numpy>=2"}) == (DeclaredPatch("A-1", "numpy>=2"),)
    with pytest.raises(UsageError, match="declared twice"):
        declared_patches([("A-1", "numpy>=2"), ("A-1", "numpy>=2.1")])
    with pytest.raises(UsageError, match="patch id"):
        declared_patches([("a b", "numpy>=2")])


# --- evaluation: dependencies -------------------------------------------------------------------

TORCH_FIX = DeclaredPatch("CVE-2025-32434", "torch>=2.6.0")


def state(
    *patches: DeclaredPatch,
    dependencies: tuple[Dependency, ...] = (),
    components: tuple[ExpectedComponent, ...] = (),
) -> ExpectedState:
    return ExpectedState(DeploymentInfo("svc", "1"), components, dependencies, patches=patches)


def env(*pins: tuple[str, str | None], name: str = "venv") -> ObservedDependencies:
    deps = tuple(Dependency(n, v, manifest=f"environment:{name}") for n, v in pins)
    return ObservedDependencies("environment", name, f"/srv/{name}", deps)


def lock(*pins: tuple[str, str | None], name: str = "uv.lock") -> ObservedDependencies:
    deps = tuple(Dependency(n, v, manifest=f"uv-lock:{name}") for n, v in pins)
    return ObservedDependencies("uv-lock", name, name, deps)


SIGNED_TORCH = (Dependency("torch", "2.6.0", manifest="environment:venv"),)


def one_status(
    *manifests: ObservedDependencies, patch: DeclaredPatch = TORCH_FIX
) -> tuple[bool | None, str]:
    measured = Measured(
        "verify deps", state(patch, dependencies=SIGNED_TORCH), dependencies=manifests
    )
    (status,) = patch_statuses(measured)
    assert (status.id, status.requirement, status.path) == (patch.id, patch.requirement, "torch")
    return status.applied, status.actual


@pytest.mark.parametrize(
    ("version", "applied", "actual"),
    [
        ("2.6.0", True, "torch 2.6.0"),
        ("2.7.1", True, "torch 2.7.1"),
        ("2.7.0rc1", True, "torch 2.7.0rc1"),  # an installed pre-release past the fix
        ("2.6.0rc1", False, "torch 2.6.0rc1"),
        ("2.5.1", False, "torch 2.5.1"),
        ("2.5.1+cu121", False, "torch 2.5.1+cu121"),
        ("not-a-version", False, "torch not-a-version (not a PEP 440 version)"),
        (None, False, "torch (no single version pinned)"),
    ],
)
def test_a_dependency_version_against_the_requirement(
    version: str | None, applied: bool, actual: str
) -> None:
    assert one_status(env(("torch", version))) == (applied, actual)


def test_an_absent_package_is_not_applied() -> None:
    assert one_status(env(("numpy", "2.1.3"))) == (False, "not installed")
    assert one_status(lock(("numpy", "2.1.3"), name="venv")) == (False, "not listed")


def test_every_manifest_measured_must_satisfy_it() -> None:
    applied, actual = one_status(env(("torch", "2.6.0")), lock(("torch", "2.5.1")))
    assert applied is False
    assert actual == "torch 2.6.0 (environment:venv); torch 2.5.1 (uv-lock:uv.lock)"
    assert one_status(env(("torch", "2.6.0")), lock(("torch", "2.6.0"))) == (True, "torch 2.6.0")


def test_a_manifest_the_package_was_never_signed_in_says_nothing() -> None:
    """A sidecar's environment, without torch, is not the one the patch concerns."""
    assert one_status(env(("requests", "2.32.0"), name="sidecar"))[0] is None
    # but where it holds the package, it counts
    assert one_status(env(("torch", "2.5.1"), name="sidecar")) == (False, "torch 2.5.1")


def test_names_are_compared_normalised() -> None:
    patch = DeclaredPatch("PYSEC-2024-1", "Torch_Vision>=0.21")
    measured = Measured("verify deps", state(patch), dependencies=(env(("torch-vision", "0.20")),))
    (status,) = patch_statuses(measured)
    assert (status.applied, status.actual, status.path) == (
        False,
        "torch-vision 0.20",
        "torch-vision",
    )


def test_a_dependency_patch_is_not_judged_where_no_dependency_was_measured() -> None:
    (status,) = patch_statuses(Measured("verify model", state(TORCH_FIX)))
    assert status.applied is None and "verify model" in status.actual
    assert patch_findings(Measured("verify model", state(TORCH_FIX)), ()) == []


# --- evaluation: models and datasets ------------------------------------------------------------

SMALL = FileDigest("config.json", 10, h("config"))
BIG_SHARDS = (h("s0"), h("s1"), h("s2"))
BIG_SIGNED = FileDigest("model.bin", 25, h("big"), shard_size=10, shards=BIG_SHARDS)
BIG_MEASURED = FileDigest("model.bin", 25, None, shard_size=10, shards=BIG_SHARDS)  # shards only
ROOT = tree_digest([SMALL, BIG_SIGNED])
SIGNED_MODEL = ExpectedComponent("model", "weights", "model:weights", ROOT, (SMALL, BIG_SIGNED))


def measure(
    *files: FileDigest, patch: str, command: str = "verify model"
) -> tuple[bool | None, str, str]:
    declared = DeclaredPatch("MODEL-1", patch)
    tree = ObservedTree("/srv/weights", files)
    measured = Measured(
        command, state(declared, components=(SIGNED_MODEL,)), (("model:weights", tree),)
    )
    (status,) = patch_statuses(measured)
    return status.applied, status.actual, status.path


def test_a_file_patch_applied_and_not() -> None:
    patch = f"model:weights/config.json@sha256:{SMALL.sha256}"
    assert measure(SMALL, BIG_MEASURED, patch=patch) == (
        True,
        f"sha256:{SMALL.sha256}",
        "config.json",
    )
    old = FileDigest("config.json", 10, h("old config"))
    assert measure(old, BIG_MEASURED, patch=patch) == (False, f"sha256:{old.sha256}", "config.json")
    assert measure(BIG_MEASURED, patch=patch) == (False, "missing", "config.json")


def test_a_large_file_measured_by_shards_has_the_signed_digest_when_its_shards_match() -> None:
    patch = f"model:weights/model.bin@sha256:{BIG_SIGNED.sha256}"
    assert measure(SMALL, BIG_MEASURED, patch=patch)[:2] == (True, f"sha256:{BIG_SIGNED.sha256}")
    other = FileDigest("model.bin", 25, None, shard_size=10, shards=(h("s0"), h("s1"), h("x")))
    applied, actual, _ = measure(SMALL, other, patch=patch)
    assert applied is False and actual.startswith("not the signed content of model.bin")
    longer = FileDigest("model.bin", 26, None, shard_size=10, shards=BIG_SHARDS)
    assert measure(SMALL, longer, patch=patch)[0] is False


def test_a_root_digest_patch() -> None:
    patch = f"model:weights@sha256:{ROOT}"
    assert measure(SMALL, BIG_MEASURED, patch=patch) == (True, f"sha256:{ROOT}", "model:weights")
    extra = FileDigest("extra.txt", 1, h("extra"))
    other_root = tree_digest([SMALL, BIG_SIGNED, extra])
    assert measure(SMALL, BIG_MEASURED, extra, patch=patch) == (
        False,
        f"sha256:{other_root}",
        "model:weights",
    )
    other = FileDigest("model.bin", 25, None, shard_size=10, shards=(h("x"), h("s1"), h("s2")))
    applied, actual, _ = measure(SMALL, other, patch=patch)
    assert applied is False and "not the signed content of model.bin" in actual


def test_a_compact_file_list_is_searched_without_expanding_it() -> None:
    lines = "".join(f"d/{i:03}.txt\0{i}\0{h(str(i))}\n" for i in range(100))
    files = FileList(("a\0" + f"1\0{h('a')}\n", lines), [BIG_MEASURED])
    tree = ObservedTree("/srv/weights", files)
    signed = ExpectedComponent("model", "weights", "model:weights", "", (BIG_SIGNED,))
    measured = Measured("verify model", state(components=(signed,)), (("model:weights", tree),))
    assert measured_digest(measured, "model:weights/d/042.txt") == f"sha256:{h('42')}"
    assert measured_digest(measured, "model:weights/a") == f"sha256:{h('a')}"
    assert measured_digest(measured, "model:weights/model.bin") == f"sha256:{BIG_SIGNED.sha256}"
    assert measured_digest(measured, "model:weights/d/042") == "missing"
    everything = [
        FileDigest("a", 1, h("a")),
        *(FileDigest(f"d/{i:03}.txt", i, h(str(i))) for i in range(100)),
        BIG_SIGNED,
    ]
    assert measured_digest(measured, "model:weights") == f"sha256:{tree_digest(everything)}"


def test_measured_digest_is_none_for_what_was_not_measured() -> None:
    tree = ObservedTree("/srv/weights", (SMALL,))
    measured = Measured("verify model", state(), (("model:weights", tree),))
    assert measured_digest(measured, "model:weights") == f"sha256:{tree_digest([SMALL])}"
    assert measured_digest(measured, "model:weights/config.json") == f"sha256:{SMALL.sha256}"
    for ref in ("model:other", "dataset:weights", "model:other/config.json", "pkg:torch", "model:"):
        assert measured_digest(measured, ref) is None


def test_a_tree_patch_on_another_component_is_not_judged() -> None:
    applied, actual, _ = measure(SMALL, patch=f"dataset:corpus@sha256:{HEX}")
    assert applied is None and "dataset:corpus" in actual


# --- findings -----------------------------------------------------------------------------------


def test_patch_not_applied_finding() -> None:
    measured = Measured(
        "verify deps",
        state(TORCH_FIX, dependencies=SIGNED_TORCH),
        dependencies=(env(("torch", "2.5.1")),),
    )
    (finding,) = patch_findings(measured, ())
    assert (finding.rule, finding.path, finding.component) == (
        "patch-not-applied",
        "torch",
        "torch",
    )
    assert (finding.expected, finding.actual) == ("torch>=2.6.0", "torch 2.5.1")
    assert "CVE-2025-32434" in finding.message


def test_patch_missing_findings() -> None:
    measured = Measured("verify deps", state(TORCH_FIX), dependencies=(env(("torch", "2.6.0")),))
    assert patch_findings(measured, ["CVE-2025-32434"]) == []
    (missing,) = patch_findings(measured, ["CVE-2025-1111", "CVE-2025-1111"])
    assert (missing.rule, missing.path) == ("patch-missing", "CVE-2025-1111")
    assert (missing.expected, missing.actual) == ("CVE-2025-1111", "CVE-2025-32434")
    (none,) = patch_findings(Measured("verify model", state()), ["MODEL-1"])
    assert none.actual == "no patches declared"

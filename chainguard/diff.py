"""Drift between two releases, for a reviewer: (old, new ExpectedState) → ReleaseDiff.

Pure: no I/O, no trust. What is compared, and how:
- the deployment's name, version, serial and expiry (a lower serial is a ``rollback``);
- components by kind and name; a component whose root digest differs lists its files added,
  removed and changed (a changed file: same path, other size or SHA-256). Equal root digests
  mean equal files (the digest covers every path, size and SHA-256), so two large components
  that match are never listed file by file. Files of a component that is added or removed as a
  whole are counted, not listed;
- dependencies by (normalised) name, each as the set of versions it is pinned at (a lock may
  pin one name at several versions, one per fork): ``upgrade`` / ``downgrade`` compare the
  lowest and highest versions with packaging's ordering (either one lower is a downgrade);
  a version that does not parse (or is unpinned) is compared as a string and marked
  ``changed``; the same versions with other distribution hashes (or another RECORD digest)
  are ``rehashed``;
- declared patches by id: ``declared``, ``withdrawn``, or ``changed`` (another requirement).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from chainguard.models import (
    ComponentKind,
    DeclaredPatch,
    Dependency,
    DeploymentInfo,
    ExpectedComponent,
    ExpectedState,
    FileDigest,
    FileList,
)

if TYPE_CHECKING:
    from packaging.version import Version

Change = Literal["added", "removed", "changed"]
SerialChange = Literal["same", "increase", "rollback"]
DependencyChangeKind = Literal["added", "removed", "upgrade", "downgrade", "changed", "rehashed"]
PatchChangeKind = Literal["declared", "withdrawn", "changed"]

# The digest of an installed distribution's RECORD, among a dependency's hashes (rehashed).
RECORD_PREFIX = "record-sha256:"


@dataclass(frozen=True, slots=True)
class DeploymentDiff:
    old: DeploymentInfo
    new: DeploymentInfo

    @property
    def serial_change(self) -> SerialChange:
        if self.new.serial < self.old.serial:
            return "rollback"
        return "increase" if self.new.serial > self.old.serial else "same"

    @property
    def changed_fields(self) -> tuple[str, ...]:
        """Which of name, version, serial, expires differ, in that order."""
        old, new = self.old, self.new
        pairs = (
            ("name", old.name, new.name),
            ("version", old.version, new.version),
            ("serial", old.serial, new.serial),
            ("expires", old.expires, new.expires),
        )
        return tuple(name for name, a, b in pairs if a != b)


@dataclass(frozen=True, slots=True)
class FileState:
    size: int
    sha256: str | None
    mode: int = 0  # the recorded permission bits (models.FileDigest.mode); 0: none recorded


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    change: Change
    old: FileState | None  # None when added
    new: FileState | None  # None when removed


@dataclass(frozen=True, slots=True)
class ComponentState:
    version: str | None
    root_digest: str
    files: int
    size: int


@dataclass(frozen=True, slots=True)
class ComponentChange:
    kind: ComponentKind
    name: str
    change: Change
    old: ComponentState | None  # None when added
    new: ComponentState | None  # None when removed
    files: tuple[FileChange, ...] = ()  # a changed component's files, in path order

    @property
    def bom_ref(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class DependencyChange:
    name: str
    change: DependencyChangeKind
    old: tuple[str | None, ...]  # the versions pinned, sorted (None: unpinned); () when added
    new: tuple[str | None, ...]
    hashes_added: tuple[str, ...] = ()  # rehashed only: the hashes only the new release lists
    hashes_removed: tuple[str, ...] = ()  # ... and those only the old one lists


@dataclass(frozen=True, slots=True)
class PatchChange:
    id: str
    change: PatchChangeKind
    old: str | None  # the requirement; None when declared
    new: str | None  # None when withdrawn


@dataclass(frozen=True, slots=True)
class ReleaseDiff:
    deployment: DeploymentDiff
    components: tuple[ComponentChange, ...]
    dependencies: tuple[DependencyChange, ...]
    patches: tuple[PatchChange, ...]

    @property
    def same(self) -> bool:
        """The two SBOMs describe the same release (what a build may vary, such as its
        timestamp or serialNumber, is not compared)."""
        return not (
            self.deployment.changed_fields or self.components or self.dependencies or self.patches
        )

    def count(self) -> int:
        """How many things differ: each deployment field, component, file, dependency, patch
        (a changed component counts once plus once per file)."""
        return (
            len(self.deployment.changed_fields)
            + sum(1 + len(c.files) for c in self.components)
            + len(self.dependencies)
            + len(self.patches)
        )


# --- signatures (filled in by api/diff.py; here so that reporters need not import the api) ---


@dataclass(frozen=True, slots=True)
class SignatureNote:
    rule: str  # a finding rule id (signature-invalid, sbom-mismatch, sbom-expired, ...)
    message: str
    error: bool  # True: why the signature was not accepted; False: a warning


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    signature: str  # the bundle, as given
    verified: bool
    signers: tuple[str, ...]  # who signed the SBOM (only meaningful when verified)
    notes: tuple[SignatureNote, ...] = ()


@dataclass(frozen=True, slots=True)
class ReleaseSide:
    sbom: str  # the SBOM file, as given
    sha256: str  # of its bytes
    signature: SignatureCheck | None = None  # None: no signature was asked for


@dataclass(frozen=True, slots=True)
class DiffReport:
    """What ``chainguard diff`` shows: both SBOMs, who signed them, and the diff."""

    old: ReleaseSide
    new: ReleaseSide
    diff: ReleaseDiff

    @property
    def signatures_ok(self) -> bool:
        return all(s.signature is None or s.signature.verified for s in (self.old, self.new))

    @property
    def ok(self) -> bool:
        """Exit 0: the same release, and every signature asked for verified."""
        return self.diff.same and self.signatures_ok


# --- the diff -----------------------------------------------------------------------------------


def diff_releases(old: ExpectedState, new: ExpectedState) -> ReleaseDiff:
    return ReleaseDiff(
        deployment=DeploymentDiff(old.deployment, new.deployment),
        components=diff_components(old.components, new.components),
        dependencies=diff_dependencies(old.dependencies, new.dependencies),
        patches=diff_patches(old.patches, new.patches),
    )


def diff_components(
    old: Sequence[ExpectedComponent], new: Sequence[ExpectedComponent]
) -> tuple[ComponentChange, ...]:
    before = {(c.kind, c.name): c for c in old}
    after = {(c.kind, c.name): c for c in new}
    changes: list[ComponentChange] = []
    for key in sorted(before.keys() | after.keys(), key=lambda k: (k[0], k[1].encode())):
        a, b = before.get(key), after.get(key)
        if a is None and b is not None:
            changes.append(ComponentChange(b.kind, b.name, "added", None, _state(b)))
        elif b is None and a is not None:
            changes.append(ComponentChange(a.kind, a.name, "removed", _state(a), None))
        elif a is not None and b is not None:
            # the root digest binds paths, sizes and contents, not the recorded modes
            same_files = a.root_digest == b.root_digest and _modes(a.files) == _modes(b.files)
            if same_files and a.version == b.version:
                continue
            files = () if same_files else diff_files(a.files, b.files)
            changes.append(ComponentChange(a.kind, a.name, "changed", _state(a), _state(b), files))
    return tuple(changes)


def _modes(files: Sequence[FileDigest]) -> dict[str, int]:
    """The recorded modes (only files with one have one: a FileList keeps them in extra)."""
    listed = files.extra if isinstance(files, FileList) else files
    return {f.path: f.mode for f in listed if f.mode}


def _state(c: ExpectedComponent) -> ComponentState:
    files = c.files
    size = files.total_size() if isinstance(files, FileList) else sum(f.size for f in files)
    return ComponentState(c.version, c.root_digest, len(files) + len(c.unsafe_paths), size)


def diff_files(old: Sequence[FileDigest], new: Sequence[FileDigest]) -> tuple[FileChange, ...]:
    """Files added, removed and changed (content or recorded mode: an execute or setuid bit
    that appears is a change), in byte order of their paths. Each side becomes one dict
    (path → "size\\0sha256\\0mode"), read straight from a FileList's lines: linear in the file
    count, and FileState objects are made only for the files that differ."""
    before, after = _index(old), _index(new)
    changes: list[FileChange] = []
    for path, facts in before.items():
        other = after.get(path)
        if other is None:
            changes.append(FileChange(path, "removed", _file_state(facts), None))
        elif other != facts:
            changes.append(FileChange(path, "changed", _file_state(facts), _file_state(other)))
    changes.extend(
        FileChange(path, "added", None, _file_state(facts))
        for path, facts in after.items()
        if path not in before
    )
    changes.sort(key=lambda c: c.path.encode())
    return tuple(changes)


def _index(files: Sequence[FileDigest]) -> dict[str, str]:
    if not isinstance(files, FileList):
        return {f.path: f"{f.size}\0{f.sha256}\0{f.mode}" for f in files}
    index: dict[str, str] = {}
    for piece in files.plain_pieces:  # plain: no mode recorded
        for line in piece.split("\n"):
            if line:
                path, _, facts = line.partition("\0")
                index[path] = facts + "\0" + "0"
    index.update((f.path, f"{f.size}\0{f.sha256}\0{f.mode}") for f in files.extra)
    return index


def _file_state(facts: str) -> FileState:
    size, sha256, mode = facts.split("\0")
    return FileState(int(size), None if sha256 == "None" else sha256, int(mode))


# --- dependencies -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Pins:
    versions: set[str | None]
    hashes: set[str]


def _pins(dependencies: Iterable[Dependency]) -> dict[str, _Pins]:
    pins: dict[str, _Pins] = {}
    for d in dependencies:
        entry = pins.setdefault(d.name, _Pins(set(), set()))
        entry.versions.add(d.version)
        entry.hashes.update(d.hashes)
        if d.record_sha256 is not None:
            entry.hashes.add(f"{RECORD_PREFIX}{d.record_sha256}")
    return pins


def diff_dependencies(
    old: Sequence[Dependency], new: Sequence[Dependency]
) -> tuple[DependencyChange, ...]:
    before, after = _pins(old), _pins(new)
    changes: list[DependencyChange] = []
    for name in sorted(before.keys() | after.keys()):
        a, b = before.get(name), after.get(name)
        if a is None and b is not None:
            changes.append(DependencyChange(name, "added", (), _sorted(b.versions)))
        elif b is None and a is not None:
            changes.append(DependencyChange(name, "removed", _sorted(a.versions), ()))
        elif a is not None and b is not None:
            if a.versions != b.versions:
                kind = version_change(a.versions, b.versions)
                changes.append(
                    DependencyChange(name, kind, _sorted(a.versions), _sorted(b.versions))
                )
            elif a.hashes != b.hashes:
                versions = _sorted(a.versions)
                changes.append(
                    DependencyChange(
                        name,
                        "rehashed",
                        versions,
                        versions,
                        hashes_added=tuple(sorted(b.hashes - a.hashes)),
                        hashes_removed=tuple(sorted(a.hashes - b.hashes)),
                    )
                )
    return tuple(changes)


def version_change(
    old: set[str | None], new: set[str | None]
) -> Literal["upgrade", "downgrade", "changed"]:
    """Between two different sets of versions of one package: ``downgrade`` when the lowest
    or the highest version is lower than before, ``upgrade`` when neither is lower and one is
    higher, else ``changed`` (a version in between added or removed, an equal version spelled
    otherwise, or a version packaging cannot parse)."""
    before, after = _parsed(old), _parsed(new)
    if before is None or after is None:
        return "changed"
    if min(after) < min(before) or max(after) < max(before):
        return "downgrade"
    if min(after) > min(before) or max(after) > max(before):
        return "upgrade"
    return "changed"


def _parsed(versions: set[str | None]) -> list[Version] | None:
    from packaging.version import InvalidVersion, Version

    parsed = []
    for v in versions:
        if v is None:
            return None
        try:
            parsed.append(Version(v))
        except InvalidVersion:
            return None
    return parsed


def _sorted(versions: set[str | None]) -> tuple[str | None, ...]:
    """Unpinned first, then by packaging's order where every version parses, else as text."""
    pinned = [v for v in versions if v is not None]
    parsed = _parsed(set(pinned))
    if parsed is not None:
        from packaging.version import Version

        pinned.sort(key=lambda v: (Version(v), v))
    else:
        pinned.sort()
    return (*((None,) if None in versions else ()), *pinned)


# --- patches ------------------------------------------------------------------------------------


def diff_patches(
    old: Sequence[DeclaredPatch], new: Sequence[DeclaredPatch]
) -> tuple[PatchChange, ...]:
    before = {p.id: p.requirement for p in old}
    after = {p.id: p.requirement for p in new}
    changes: list[PatchChange] = []
    for patch_id in sorted(before.keys() | after.keys()):
        a, b = before.get(patch_id), after.get(patch_id)
        if a is None:
            changes.append(PatchChange(patch_id, "declared", None, b))
        elif b is None:
            changes.append(PatchChange(patch_id, "withdrawn", a, None))
        elif a != b:
            changes.append(PatchChange(patch_id, "changed", a, b))
    return tuple(changes)

"""Frozen value types passed between pipeline stages.

collectors -> ObservedTree / ObservedDependencies
sbom       -> ExpectedState (parsed only from verified, signed bytes)
compare    -> Findings
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, overload

# One SHA-256 digest is written down per shard of SHARD_SIZE bytes, so that verify can hash
# one large file on every core. 64 MiB keeps the shard list short (16 per GiB) while giving
# enough pieces to balance two to sixteen workers.
DEFAULT_SHARD_SIZE = 64 * 1024 * 1024
# The largest integer the SBOM may hold (serial, sizes, counts): a signed 64-bit integer, which
# is what SQLite stores (the rollback state's serials) and what a file size or offset can be.
# A larger value would be accepted by Python and fail much later, in the middle of a verify.
MAX_DECIMAL = 2**63 - 1

ComponentKind = Literal["model", "dataset"]
AnomalyKind = Literal[
    "symlink-escape",
    "special-file",
    "changed-during-hash",
    "unreadable",
]


@dataclass(frozen=True, slots=True)
class SafetensorsInfo:
    """Facts read from a safetensors header (never from the tensor bytes)."""

    tensor_count: int
    dtypes: tuple[str, ...]
    parameters: int
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ParquetInfo:
    """Facts read from a Parquet file's footer (never from its pages)."""

    rows: int
    # top-level columns in schema order: (name, type) where type is the physical type, or
    # "GROUP" for a nested column, plus "/<logical type>" when one is annotated
    # (e.g. ("id", "INT64"), ("text", "BYTE_ARRAY/STRING"), ("tags", "GROUP/LIST"))
    columns: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class FileDigest:
    """One regular file of a tree, as recorded in an SBOM or as observed on disk.

    ``sha256`` is the whole-file digest. For files larger than ``shard_size`` the SBOM also
    records ``shards``: the SHA-256 of each consecutive ``shard_size`` slice. Verify hashes
    only the shards (in parallel); a file whose size and every shard match has exactly the
    signed content, so the whole-file digest need not be recomputed.
    An observed file carries either ``sha256`` (small or unsharded) or ``shards``.
    """

    path: str  # relative POSIX path, validated by paths.py
    size: int
    sha256: str | None = None
    blake3: str | None = None
    shard_size: int = DEFAULT_SHARD_SIZE
    shards: tuple[str, ...] = ()
    safetensors: SafetensorsInfo | None = None
    parquet: ParquetInfo | None = None
    # what the bytes are (chainguard.formats.detect's vocabulary); None: not recorded (an SBOM
    # written before formats were) or not detected
    format: str | None = None
    # permission bits (st_mode & 0o7777) of a file with a setuid, setgid, sticky or execute bit
    # (sbom/fileshape.MODE_BITS), 0 for any other file (recorded only then: fileshape.MODE)
    mode: int = 0

    def content_id(self) -> str:
        """A digest that identifies the content however it was measured.

        Unsharded files (size <= shard_size) are identified by their SHA-256; sharded files by
        the digest of their size, shard size and ordered shard digests. Two FileDigests with
        equal content_id hold the same bytes (up to SHA-256 collisions).
        """
        if self.size <= self.shard_size or not self.shards:
            if self.sha256 is None:
                raise ValueError(f"{self.path}: no digest recorded")
            return self.sha256
        h = hashlib.sha256(f"shards\0{self.size}\0{self.shard_size}\0".encode())
        for s in self.shards:
            h.update(s.encode())
        return h.hexdigest()

    @property
    def sharded(self) -> bool:
        return self.size > self.shard_size


# --- many files, compactly (the dataset verify path) -------------------------------------------


def _path_key(f: FileDigest) -> bytes:
    return f.path.encode()


@dataclass(frozen=True, slots=True)
class RenderedFiles:
    """A run of plain files as a signed statement lists them: verify's fast path.

    The hashing workers render each directory chunk they hash (in path order) exactly as
    ``chainguard sign`` writes those files into the in-toto statement (compact JSON file
    components under the component ``bom-ref``, joined by ",") and keep only the SHA-256 and
    length of that text (25 MB for 100,000 files, not worth sending between processes or
    keeping). Where the signed file array holds text of that digest, sbom/packed.py takes
    ``lines`` for it instead of parsing it. Every path here passed the walk's name checks
    (collectors/tree.py), which refuse whatever paths.unsafe_reason refuses.
    """

    bom_ref: str  # the component the JSON was rendered for
    first: str  # the first and last path, in byte order of their UTF-8
    last: str
    count: int
    size: int  # the files' sizes added up
    lines: str  # their chainguard-tree-v1 lines (path \0 size \0 sha256 \n), in path order
    formats: str  # their format lines (path \0 format \n; see FileList)
    json_sha256: bytes  # of the rendered JSON's UTF-8
    json_length: int  # its length in characters


class FileList(Sequence[FileDigest]):
    """An immutable list of files in byte order of their UTF-8 paths, held compactly.

    Datasets list 100,000s of files that have nothing but a path, a size and a SHA-256. As
    FileDigest objects they cost about a microsecond and 300 bytes each, on both sides of a
    verify; here those "plain" files are one string of their ``chainguard-tree-v1`` lines
    (``path \\0 size \\0 sha256 \\n``, sorted; see tree_digest), and only files that carry more
    (shards, BLAKE3, format facts, an executable mode) are FileDigest objects. Iterating or
    indexing makes the FileDigest objects once (a report of differences, an SBOM being
    written); compare's fast path hashes the lines instead (``tree_digest``).

    Every path here is safe (paths.py): no NUL, newline or other control character, so
    the lines split and sort exactly like the paths.

    The lines may come in pieces (a sequence of texts, in order): the chunks a dataset was
    hashed in, which a verify's signed side shares (sbom/packed.py). They are joined only if
    something asks for ``plain_lines``; a matching verify never does, so a 1,000,000-file
    dataset's listing exists once (~100 MB), not three times.
    """

    __slots__ = (
        "_digest",
        "_extra",
        "_format_pieces",
        "_items",
        "_pieces",
        "_plain",
        "_plain_count",
        "_plain_size",
        "_shard_size",
    )

    def __init__(
        self,
        plain_lines: str | Sequence[str] = "",
        extra: Iterable[FileDigest] = (),
        *,
        shard_size: int = DEFAULT_SHARD_SIZE,
        plain_size: int | None = None,  # the sizes in plain_lines added up, if known
        plain_count: int | None = None,  # how many lines plain_lines holds, if known
        plain_digest: str | None = None,  # tree_digest() of plain_lines alone, if known
        format_pieces: Sequence[str] = (),  # "path \0 format \n" lines of the plain files
    ) -> None:
        pieces = (plain_lines,) if isinstance(plain_lines, str) else tuple(plain_lines)
        self._pieces = pieces
        self._plain = pieces[0] if len(pieces) == 1 else "" if not pieces else None
        if plain_count is None:
            plain_count = sum(piece.count("\n") for piece in pieces)
        self._plain_count = plain_count
        self._plain_size = plain_size
        self._extra = tuple(sorted(extra, key=_path_key))
        self._shard_size = shard_size  # what FileDigest.shard_size is for the plain files
        self._items: tuple[FileDigest, ...] | None = None
        self._digest = plain_digest if not self._extra else None
        # The plain files' formats, as "path \0 format \n" lines in any order (a file without
        # a recorded format has none): kept apart from the root-digest lines, which they do not
        # enter, and read only when FileDigest objects are made.
        self._format_pieces = tuple(p for p in format_pieces if p)

    @property
    def format_pieces(self) -> tuple[str, ...]:
        return self._format_pieces

    def _formats(self) -> dict[str, str]:
        return dict(
            line.split("\0") for piece in self._format_pieces for line in piece.split("\n") if line
        )

    @property
    def plain_lines(self) -> str:
        if self._plain is None:
            self._plain = "".join(self._pieces)
        return self._plain

    @property
    def plain_pieces(self) -> tuple[str, ...]:
        """plain_lines, in the pieces it was made of (joined, they are plain_lines)."""
        return self._pieces

    @property
    def extra(self) -> tuple[FileDigest, ...]:
        """The files kept as FileDigest objects (everything that is not plain)."""
        return self._extra

    def total_size(self) -> int:
        if self._plain_size is None:
            self._plain_size = sum(
                int(line.split("\0", 2)[1]) for line in self.plain_lines.split("\n") if line
            )
        return self._plain_size + sum(f.size for f in self._extra)

    def tree_digest(self) -> str:
        """tree_digest() of these files, from the lines (no FileDigest objects are made)."""
        if self._digest is None:
            self._digest = self._tree_digest()
        return self._digest

    def _tree_digest(self) -> str:
        if not self._extra:
            h = hashlib.sha256(b"chainguard-tree-v1\n")
            for piece in self._pieces:
                h.update(piece.encode())
            return h.hexdigest()
        lines = self.plain_lines.split("\n")
        lines.pop()  # after the last newline
        for f in self._extra:
            if f.sha256 is None:
                raise ValueError(f"{f.path}: whole-file sha256 required for the root digest")
            lines.append(f"{f.path}\0{f.size}\0{f.sha256}")
        lines.sort()  # code point order of a str is the byte order of its UTF-8
        lines.append("")
        return hashlib.sha256(b"chainguard-tree-v1\n" + "\n".join(lines).encode()).hexdigest()

    def _all(self) -> tuple[FileDigest, ...]:
        if self._items is None:
            shard_size = self._shard_size
            formats = self._formats()
            plain = [
                FileDigest(path, int(size), sha256, None, shard_size, format=formats.get(path))
                for path, size, sha256 in (
                    line.split("\0") for line in self.plain_lines.split("\n") if line
                )
            ]
            if self._extra:
                plain = sorted([*plain, *self._extra], key=_path_key)
            self._items = tuple(plain)
        return self._items

    def __len__(self) -> int:
        return self._plain_count + len(self._extra)

    def __iter__(self) -> Iterator[FileDigest]:
        return iter(self._all())

    @overload
    def __getitem__(self, index: int) -> FileDigest: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[FileDigest, ...]: ...

    def __getitem__(self, index: int | slice) -> FileDigest | tuple[FileDigest, ...]:
        return self._all()[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FileList) and (
            (self.plain_lines, self._extra, self._shard_size)
            == (other.plain_lines, other._extra, other._shard_size)
            and self._formats() == other._formats()
        ):
            return True
        if isinstance(other, (FileList, tuple, list)):
            return self._all() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return f"FileList({len(self)} files, {len(self._extra)} kept as FileDigest)"


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something in a tree that is not a plain regular file we could hash consistently."""

    path: str
    kind: AnomalyKind
    detail: str


@dataclass(frozen=True, slots=True)
class ObservedTree:
    """What a collector saw in a directory (model or dataset)."""

    root: str  # absolute path as given, for messages only
    files: Sequence[FileDigest]  # a tuple, or a FileList (compact) from collect_tree
    anomalies: tuple[Anomaly, ...] = ()
    bytes_hashed: int = 0
    # False where the source has no file modes (an object store, the Hub): none is compared
    modes_observed: bool = True

    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True, slots=True)
class Property:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class ExpectedComponent:
    """A model or dataset component as signed in the SBOM."""

    kind: ComponentKind
    name: str
    bom_ref: str
    root_digest: str  # see tree_digest()
    files: Sequence[FileDigest]  # a tuple, or a FileList (compact) from the verify path
    version: str | None = None
    properties: tuple[Property, ...] = ()
    # paths in the SBOM that were unsafe (escape, absolute, NUL...): reported, never opened
    unsafe_paths: tuple[str, ...] = ()
    # False where the signed source records no file modes (an OMS manifest): none is compared
    modes_recorded: bool = True


@dataclass(frozen=True, slots=True)
class Dependency:
    """A Python distribution, as pinned in a lockfile or found installed."""

    name: str  # PEP 503 normalised
    version: str | None
    hashes: tuple[str, ...] = ()  # "sha256:<hex>" distribution hashes from a lock
    record_sha256: str | None = None  # installed environment: digest of RECORD
    source: str = ""  # file the pin came from, for messages
    purl: str = ""
    extras: tuple[Property, ...] = ()
    # "<kind>:<name>" of the manifest it was read from (e.g. "uv-lock:uv.lock",
    # "environment:.venv"); "" in SBOMs written before manifests were recorded.
    manifest: str = ""


@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    name: str
    version: str
    serial: int = 0
    expires: str | None = None  # RFC 3339
    bom_serial_number: str | None = None


@dataclass(frozen=True, slots=True)
class DeclaredPatch:
    """A patch the signed SBOM declares applied: an advisory or change id (``CVE-…``,
    ``GHSA-…``, ``PYSEC-…``, an internal id) and the requirement that measurably makes it
    applied, as written (``torch>=2.6.0``, ``model:NAME@sha256:HEX``,
    ``model:NAME/PATH@sha256:HEX``); chainguard/patches.py parses and evaluates it."""

    id: str
    requirement: str


@dataclass(frozen=True, slots=True)
class ExpectedState:
    """Everything the signed SBOM says. Built only from verified bytes."""

    deployment: DeploymentInfo
    components: tuple[ExpectedComponent, ...]
    dependencies: tuple[Dependency, ...] = ()
    sbom_sha256: str = ""
    patches: tuple[DeclaredPatch, ...] = ()


@dataclass(frozen=True, slots=True)
class Signer:
    """Who produced a verified signature."""

    kind: Literal["key", "sigstore", "certificate"]
    identity: str  # key fingerprint (sha256 of SPKI DER), or certificate SAN
    issuer: str | None = None
    key_algorithm: str | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    name: str
    digest: tuple[tuple[str, str], ...]  # (algorithm, hex) pairs

    def get(self, algorithm: str) -> str | None:
        for alg, value in self.digest:
            if alg == algorithm:
                return value
        return None


@dataclass(frozen=True, slots=True)
class VerifiedStatement:
    """An in-toto Statement whose DSSE signature verified against a trusted signer."""

    predicate_type: str
    subjects: tuple[Subject, ...]
    payload: bytes  # the exact signed payload bytes (the in-toto statement JSON)
    signers: tuple[Signer, ...] = field(default_factory=tuple)
    # trust.statement.ParsedStatement, when the payload was too large to hold (trust/stream.py;
    # ``payload`` is then empty)
    parsed: object | None = field(default=None, compare=False)


def lines_digest(text: str) -> str:
    """tree_digest() of files given as their chainguard-tree-v1 lines, in path order."""
    h = hashlib.sha256(b"chainguard-tree-v1\n")
    h.update(text.encode())
    return h.hexdigest()


def tree_digest(files: Iterable[FileDigest]) -> str:
    """Root digest of a tree: binds every path, size and content digest.

    ``chainguard-tree-v1``: SHA-256 over, for each file in byte order of its UTF-8 path,
    ``path \\0 size \\0 sha256 \\n``. Documented in docs/formats.md.
    """
    h = hashlib.sha256(b"chainguard-tree-v1\n")
    for f in sorted(files, key=lambda f: f.path.encode()):
        if f.sha256 is None:
            raise ValueError(f"{f.path}: whole-file sha256 required for the root digest")
        h.update(f"{f.path}\0{f.size}\0{f.sha256}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class IdentityRule:
    """One trusted Sigstore identity. Every given field must match the certificate exactly.

    ``identity`` is the certificate SAN (an e-mail, or for GitHub Actions the workflow URI
    ``https://github.com/OWNER/REPO/.github/workflows/FILE@REF``); ``issuer`` the OIDC issuer
    (``https://token.actions.githubusercontent.com``, ``https://github.com/login/oauth``, ...).
    ``repository`` (``OWNER/REPO`` on github.com) and ``ref`` (``refs/heads/main``,
    ``refs/tags/v1.2.3``) pin the GitHub workflow claims Fulcio records. ``regexp``: ``identity``
    is a regular expression the whole SAN must match (``re.fullmatch``: an unanchored pattern
    is still matched against the whole SAN), as cosign's ``--certificate-identity-regexp``.
    """

    identity: str
    issuer: str
    repository: str | None = None  # GitHub "owner/repo" the workflow ran in
    ref: str | None = None  # GitHub ref, e.g. refs/heads/main or refs/tags/v1.2.3
    regexp: bool = False

    def __post_init__(self) -> None:
        from chainguard.errors import UsageError

        for name in ("identity", "issuer"):
            if not getattr(self, name):
                raise UsageError(f"a trusted Sigstore identity needs a non-empty {name}")
        for name in ("repository", "ref"):
            if getattr(self, name) == "":
                raise UsageError(f"a trusted Sigstore identity's {name} must not be empty")
        if self.regexp:
            identity_pattern(self.identity)

    def matches(self, san: str) -> bool:
        """Does the certificate SAN ``san`` satisfy this rule's identity?"""
        if self.regexp:
            return identity_pattern(self.identity).fullmatch(san) is not None
        return san == self.identity

    def describe(self) -> str:
        extra = "".join(
            f" {name} {value}"
            for name, value in (("repository", self.repository), ("ref", self.ref))
            if value is not None
        )
        identity = f"regexp {self.identity}" if self.regexp else self.identity
        return f"{identity} via {self.issuer}{extra}"


def identity_pattern(pattern: str) -> re.Pattern[str]:
    """An identity regular expression compiled, or a one-line UsageError saying why not."""
    from chainguard.errors import UsageError

    try:
        return re.compile(pattern)
    except re.error as e:
        raise UsageError(
            f"identity regexp {pattern!r} is not a valid regular expression: {e}"
        ) from e


# --- signature bundle names beside an SBOM --------------------------------------------------

SIGNATURE_SUFFIX = ".sigstore.json"  # what `sign` writes: the name Sigstore tools expect
LEGACY_SIGNATURE_SUFFIX = ".sig"  # what chainguard wrote before; still read


def new_signature_path(sbom: Path) -> Path:
    """Where `sign` writes an SBOM's bundle unless told: SBOM.sigstore.json."""
    return Path(f"{sbom}{SIGNATURE_SUFFIX}")


def default_signature(sbom: Path) -> Path:
    """The bundle verify reads when none is named: SBOM.sigstore.json when it exists, else
    SBOM.sig when that exists (an older release), else SBOM.sigstore.json (reported missing).
    When both exist the new name wins: `sign` writes only that one, so a SBOM.sig beside it is
    what an older chainguard left there."""
    new = new_signature_path(sbom)
    legacy = Path(f"{sbom}{LEGACY_SIGNATURE_SUFFIX}")
    return legacy if not new.exists() and legacy.exists() else new


def signature_paths(sbom: Path) -> tuple[Path, Path]:
    """Both default bundle names: files of the SBOM's own, never artifacts of a tree."""
    return new_signature_path(sbom), Path(f"{sbom}{LEGACY_SIGNATURE_SUFFIX}")


# --- dependency manifests (requirements, lockfiles, installed environments) -----------------

ManifestKind = Literal["requirements", "pylock", "uv-lock", "poetry-lock", "environment"]
MANIFEST_KINDS: tuple[ManifestKind, ...] = (
    "requirements",
    "pylock",
    "uv-lock",
    "poetry-lock",
    "environment",
)
RecordProblemKind = Literal[
    "modified",  # content or size differs from RECORD
    "missing",  # listed in RECORD, not on disk
    "not-regular",  # a symbolic link, directory or special file where RECORD lists a file
    "outside",  # resolves (through a linked directory) outside the environment
    "unreadable",
    "changed-during-hash",
    "unlisted",  # in site-packages but in no RECORD (e.g. a dropped-in .pth file)
    "bytecode-mismatch",  # a .pyc Python runs instead of its source is not compiled from it
    "bytecode-unchecked",  # an unchecked hash-based .pyc: runs without looking at its source
    "bytecode-orphan",  # a .pyc Python imports sourceless, not vouched for by a RECORD hash
]


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """One installed file that does not match the RECORD of its distribution."""

    path: str  # as written in RECORD (relative to site-packages), or relative for unlisted
    kind: RecordProblemKind
    detail: str
    distribution: str = ""  # PEP 503 name; "" for an unlisted file
    expected: str | None = None
    actual: str | None = None


@dataclass(frozen=True, slots=True)
class ObservedDependencies:
    """What a dependency collector read from one manifest (lockfile or environment)."""

    kind: ManifestKind
    name: str  # the manifest's name in the SBOM: file name, or environment directory name
    source: str  # the path as given, for messages
    dependencies: tuple[Dependency, ...]
    record_problems: tuple[RecordProblem, ...] = ()
    notes: tuple[str, ...] = ()  # what was read but cannot be verified, one line each
    files_checked: int = 0
    bytes_hashed: int = 0
    bytecode_compiled: int = 0  # .pyc files compiled again (the other checked ones: cached passes)

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.name}"


class Progress(Protocol):
    """Receives hashing progress; the CLI draws a bar on stderr with it."""

    def start(self, files: int, total_bytes: int) -> None: ...

    def advance(self, nbytes: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Measured:
    """What one verify run measured, beside what was signed: the input of the checks that go
    beyond the SBOM (declared patches, the host's claims, VEX and advisories).

    ``command`` says what could be measured: ``verify model``/``dataset`` observe trees only,
    ``verify deps`` dependencies only, ``verify deployment`` both.
    """

    command: str
    state: ExpectedState
    trees: tuple[tuple[str, ObservedTree], ...] = ()  # (bom-ref, the tree as hashed)
    dependencies: tuple[ObservedDependencies, ...] = ()

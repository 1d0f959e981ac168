"""The library surface: what the CLI (and users' own scripts) call.

Each function wires the pipeline stages together: collectors → inventory; signed SBOM → trust →
expected state; compare → findings → Report. Heavy imports happen inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from chainguard.errors import (
    InputError,
    OutputError,
    SbomError,
    UsageError,
)
from chainguard.findings import Finding, Report, Stats
from chainguard.models import (
    DEFAULT_SHARD_SIZE,
    ComponentKind,
    DeploymentInfo,
    ExpectedComponent,
    ExpectedState,
    FileDigest,
    FileList,
    IdentityRule,
    ObservedTree,
    RenderedFiles,
    Subject,
)

if TYPE_CHECKING:
    from chainguard.collectors.tree import IgnoreRules
    from chainguard.sbom.packed import Expect
    from chainguard.trust.keys import TrustedKey

CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


class Progress(Protocol):
    """Receives hashing progress; the CLI draws a bar on stderr with it."""

    def start(self, files: int, total_bytes: int) -> None: ...

    def advance(self, nbytes: int) -> None: ...


# --------------------------------------------------------------------------------------- keys


def keygen(prefix: Path, algorithm: str = "ecdsa-p256") -> tuple[Path, Path]:
    from chainguard.trust.keys import generate_keypair

    if algorithm not in ("ecdsa-p256", "ed25519"):
        raise UsageError(f"unknown key algorithm {algorithm!r}; use ecdsa-p256 or ed25519")
    return generate_keypair(prefix, algorithm, _password())  # type: ignore[arg-type]


def _password() -> bytes | None:
    from chainguard.trust.keys import PASSWORD_ENV

    value = os.environ.get(PASSWORD_ENV)
    return value.encode() if value is not None else None


def load_trusted_keys(paths: Sequence[Path]) -> list[TrustedKey]:
    from chainguard.trust.keys import load_public_key

    return [load_public_key(p) for p in paths]


# -------------------------------------------------------------------------------------- build


@dataclass(frozen=True, slots=True)
class BuildResult:
    output: Path
    components: tuple[str, ...]
    files: int
    bytes: int
    seconds: float
    dependencies: int = 0  # library components (requirements, locks, environments)
    notes: tuple[str, ...] = ()  # what was read but cannot be verified (see collectors)


def build_sbom(
    *,
    name: str,
    version: str,
    models: Sequence[Path] = (),
    datasets: Sequence[Path] = (),
    output: Path,
    blake3: bool = False,
    serial: int | None = None,
    expires: str | None = None,
    ignore: Sequence[str] = (),
    shard_size: int = DEFAULT_SHARD_SIZE,
    progress: Progress | None = None,
    requirements: Sequence[Path] = (),
    locks: Sequence[Path] = (),
    envs: Sequence[Path] = (),
) -> BuildResult:
    """Hash every model/dataset directory and write a schema-valid CycloneDX 1.6 SBOM.

    ``requirements`` (requirements.txt files), ``locks`` (any lock format, recognised by
    content) and ``envs`` (installed environments) add their dependencies as library
    components; see collect_manifests.
    """
    from chainguard.collectors.safetensors import read_header
    from chainguard.collectors.tree import collect_tree
    from chainguard.hashing import HashSettings
    from chainguard.sbom.build import ComponentInput
    from chainguard.sbom.build import build_sbom_chunks as render

    if not (models or datasets or requirements or locks or envs):
        raise UsageError(
            "nothing to describe: pass at least one --model, --dataset, --requirements, "
            "--lock or --env"
        )
    from chainguard.sbom.vocabulary import MAX_DECIMAL

    if serial is not None and not 0 <= serial <= MAX_DECIMAL:
        raise UsageError(f"serial {serial} is outside 0..{MAX_DECIMAL} (a signed 64-bit integer)")
    started = time.perf_counter()
    # Dependencies first: a malformed lockfile should stop the build before hours of hashing.
    manifests = collect_manifests(requirements=requirements, locks=locks, envs=envs)
    settings = HashSettings(shard_size=shard_size, blake3=blake3)
    inputs: list[ComponentInput] = []
    seen: set[tuple[str, str]] = set()
    files = total = 0
    kinds: list[tuple[ComponentKind, Path]] = [("model", m) for m in models]
    kinds += [("dataset", d) for d in datasets]
    for kind, root in kinds:
        comp_name = _component_name(root)
        if (kind, comp_name) in seen:
            raise UsageError(f"two {kind}s are both named {comp_name!r}; rename a directory")
        seen.add((kind, comp_name))
        rules = _ignore_rules(root, ignore, (output, Path(str(output) + ".sig")))
        tree = collect_tree(
            root,
            settings,
            ignore=rules,
            mode="build",
            progress=progress.advance if progress else None,
            on_listed=progress.start if progress else None,
        )
        if tree.anomalies:
            a = tree.anomalies[0]
            more = f" (and {len(tree.anomalies) - 1} more)" if len(tree.anomalies) > 1 else ""
            raise InputError(f"{root}/{a.path}: {a.kind}: {a.detail}{more}; refusing to sign it")
        digests = []
        for f in tree.files:
            if f.path.endswith(".safetensors"):
                target = root if root.is_file() else root / f.path
                f = replace(f, safetensors=read_header(target))
            elif f.path.endswith(".parquet"):  # footer facts (datasets section, issue 3)
                from chainguard.collectors.parquet import read_footer

                target = root if root.is_file() else root / f.path
                f = replace(f, parquet=read_footer(target))
            digests.append(f)
        inputs.append(ComponentInput(kind=kind, name=comp_name, files=tuple(digests)))
        files += len(tree.files)
        total += tree.total_bytes()
    deployment = DeploymentInfo(
        name=name, version=version, serial=serial if serial is not None else 0, expires=expires
    )
    dependencies = [d for m in manifests for d in m.dependencies]
    data = render(deployment, inputs, dependencies)
    _write_atomic(output, data, overwrite=True)
    return BuildResult(
        output=output,
        components=(
            *(f"{c.kind}:{c.name}" for c in inputs),
            *(f"{m.ref} ({len(m.dependencies)} dependencies)" for m in manifests),
        ),
        files=files + sum(m.files_checked for m in manifests if m.kind == "environment"),
        bytes=total + sum(m.bytes_hashed for m in manifests),
        seconds=time.perf_counter() - started,
        dependencies=len(dependencies),
        notes=tuple(n for m in manifests for n in m.notes),
    )


def parse_expires(value: str, now: datetime | None = None) -> str:
    """``30d``/``12h``/``2w``/``90m`` from now, or an RFC 3339 time → RFC 3339 UTC string."""
    from chainguard.sbom.vocabulary import parse_rfc3339

    now = now or datetime.now(timezone.utc)
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    text = value.strip()
    if text[:-1].isdigit() and text[-1:] in units:
        when = now + timedelta(seconds=int(text[:-1]) * units[text[-1]])
    else:
        parsed = parse_rfc3339(text)
        if parsed is None:
            raise UsageError(f"--expires {value!r}: use a duration like 30d, 12h, 2w or RFC 3339")
        when = parsed
    if when <= now:
        raise UsageError(f"--expires {value!r} is not in the future")
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _component_name(root: Path) -> str:
    name = root.resolve().name
    return name or "root"


def _ignore_rules(root: Path, patterns: Sequence[str], own_files: Sequence[Path]) -> IgnoreRules:
    """Ignore globs plus chainguard's own SBOM/signature files when they sit inside the tree."""
    from chainguard.collectors.tree import IgnoreRules

    exact = set()
    real_root = root.resolve()
    for p in own_files:
        try:
            exact.add(p.resolve().relative_to(real_root).as_posix())
        except ValueError:
            continue
    return IgnoreRules(tuple(patterns), frozenset(exact))


def _own_files(trust: TrustInputs) -> list[Path]:
    """The SBOM and signature files verify must not count as artifacts when they sit in the tree.

    Mirrors build, which leaves out the SBOM and SBOM.sig: an SBOM written into the model
    directory and signed there with the default name must verify.
    """
    own = [*trust.signatures]
    if trust.sbom is not None:
        own += [trust.sbom, Path(f"{trust.sbom}.sig")]
    return own


def _write_atomic(path: Path, data: bytes | Iterable[bytes], *, overwrite: bool) -> None:
    """Write ``data`` (bytes, or pieces of them made as they are written) to ``path`` through
    a temporary file: ``path`` is whole or untouched, whatever fails."""
    if not overwrite and path.exists():
        raise OutputError(f"{path}: already exists; refusing to overwrite")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            if isinstance(data, bytes):
                f.write(data)
            else:
                f.writelines(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write: {e.strerror or e}") from e
    except BaseException:  # making the pieces failed: no half-written file left behind
        tmp.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------- sign


def sign_sbom(sbom: Path, key: Path, output: Path | None = None) -> Path:
    """Sign an SBOM with a key: Sigstore bundle v0.3 / DSSE / in-toto Statement v1."""
    from chainguard.trust.bundle import key_bundle_json
    from chainguard.trust.dsse import sign
    from chainguard.trust.keys import load_private_key, public_key_from_pem

    statement = sbom_statement(sbom)
    signing_key = load_private_key(key, _password())
    envelope = sign(statement, IN_TOTO_PAYLOAD_TYPE, signing_key)
    from cryptography.hazmat.primitives import serialization

    pem = signing_key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out = output or Path(str(sbom) + ".sig")
    _write_atomic(
        out, key_bundle_json(envelope, public_key_from_pem(pem, str(key))), overwrite=True
    )
    return out


def sbom_statement(sbom: Path) -> bytes:
    """The in-toto Statement v1 every signing path signs for an SBOM (key and Sigstore alike)."""
    from chainguard.trust.statement import build_statement

    data, state = read_sbom_file(sbom)
    return build_statement(
        statement_subjects(state, data), CYCLONEDX_PREDICATE, _json_object(data, sbom)
    )


def sign_sbom_sigstore(
    sbom: Path,
    *,
    staging: bool = False,
    identity_token: str | None = None,
    output: Path | None = None,
) -> Path:
    """Sign an SBOM keylessly with Sigstore (needs the network and an OIDC identity)."""
    from chainguard.trust.sigstore import sign_sigstore

    statement = sbom_statement(sbom)
    bundle = sign_sigstore(statement, staging=staging, identity_token=identity_token)
    out = output or Path(str(sbom) + ".sig")
    _write_atomic(out, bundle, overwrite=True)
    return out


def statement_subjects(state: ExpectedState, sbom_bytes: bytes) -> list[Subject]:
    """One subject per top-level component (root digest) plus the exact SBOM bytes."""
    subjects = [Subject(f"deployment:{state.deployment.name}", (("sha256", _sha256(sbom_bytes)),))]
    subjects += [Subject(c.bom_ref, (("sha256", c.root_digest),)) for c in state.components]
    return subjects


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_object(data: bytes, source: Path | str) -> dict[str, object]:
    try:
        value = json.loads(data)
    except ValueError as e:
        raise SbomError(f"{source}: not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise SbomError(f"{source}: not a JSON object")
    return value


def read_sbom_file(path: Path) -> tuple[bytes, ExpectedState]:
    from chainguard.sbom.read import read_sbom

    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise SbomError(f"{path}: SBOM not found") from e
    except OSError as e:
        raise SbomError(f"{path}: cannot read SBOM: {e.strerror or e}") from e
    return data, read_sbom(data, str(path))


# ------------------------------------------------------------------------------------- verify


# The trust gate lives in chainguard/trust/gate.py; re-exported here as the library surface.
from chainguard.trust.gate import (  # noqa: E402
    TrustInputs,
    TrustOutcome,
    establish_trust,
    summarize,
)

__all__ = ["TrustInputs", "TrustOutcome", "establish_trust"]


def select_component(
    state: ExpectedState, kind: ComponentKind, directory: Path, name: str | None
) -> ExpectedComponent:
    candidates = [c for c in state.components if c.kind == kind]
    names = ", ".join(c.name for c in candidates) or "none"
    if name is not None:
        for c in candidates:
            if c.name == name:
                return c
        raise UsageError(f"no {kind} component named {name!r} in the SBOM (it has: {names})")
    by_dir = [c for c in candidates if c.name == _component_name(directory)]
    if len(by_dir) == 1:
        return by_dir[0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise UsageError(f"the signed SBOM describes no {kind}")
    raise UsageError(f"the SBOM has several {kind}s ({names}); choose one with --component")


def _sharded_files(component: ExpectedComponent) -> Sequence[FileDigest]:
    """The signed files that may have shards (a FileList keeps them apart from plain ones)."""
    files = component.files
    return files.extra if isinstance(files, FileList) else files


def _verify_shard_size(component: ExpectedComponent) -> tuple[int, dict[str, int]]:
    sizes = {f.path: f.shard_size for f in _sharded_files(component) if f.shards}
    common = Counter(sizes.values()).most_common(1)
    return (common[0][0] if common else DEFAULT_SHARD_SIZE), sizes


def check_component(
    chosen: ExpectedComponent,
    directory: Path,
    *,
    own_files: Sequence[Path] = (),
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
    observed: ObservedTree | None = None,
) -> tuple[list[Finding], Stats]:
    """Hash one model/dataset directory and compare it with its signed component.

    ``observed``: the directory as already hashed before the SBOM was read (see
    TreeObservation); only files whose signed shard size differs are hashed again.
    """
    from chainguard.collectors.tree import collect_tree, rehash
    from chainguard.compare import compare_tree
    from chainguard.hashing import HashSettings

    started = time.perf_counter()
    if observed is None:
        shard_size, shard_sizes = _verify_shard_size(chosen)
        tree = collect_tree(
            directory,
            HashSettings(shard_size=shard_size),
            ignore=_ignore_rules(directory, ignore, own_files),
            mode="verify",
            shard_sizes=shard_sizes,
            progress=progress.advance if progress else None,
            on_listed=progress.start if progress else None,
        )
    else:
        tree = rehash(observed, directory, _shards_to_settle(chosen, observed))
    stats = Stats(len(tree.files), tree.bytes_hashed, time.perf_counter() - started)
    return compare_tree(chosen, tree), stats


# --- verify while the signature is checked -------------------------------------------------------
#
# Hashing a directory needs nothing from the signed SBOM but the shard size of large files, and
# `sbom build` records the default one. So verify_tree starts walking and hashing before it
# checks the signature and reads the SBOM (seconds for 100,000 files), and compares only once
# trust is established: nothing unverified is ever compared with anything. If trust fails, the
# hashing is cancelled and its result thrown away. Files the SBOM records with another shard
# size (or without shards) are hashed again afterwards (_shards_to_settle).


class _ProgressRelay:
    """Progress for an observation that may start before its progress bar exists (prestart):
    forwards to the attached receiver, and replays what it missed when attached."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._target: Progress | None = None
        self._started: tuple[int, int] | None = None
        self._done = 0

    def attach(self, target: Progress | None) -> None:
        with self._lock:
            self._target = target
            started, done = self._started, self._done
        if target is not None and started is not None:
            target.start(*started)
            if done:
                target.advance(done)

    def start(self, files: int, total_bytes: int) -> None:
        with self._lock:
            self._started = (files, total_bytes)
            target = self._target
        if target is not None:
            target.start(files, total_bytes)

    def advance(self, nbytes: int) -> None:
        with self._lock:
            self._done += nbytes
            target = self._target
        if target is not None:
            target.advance(nbytes)


class TreeObservation:
    """Walks and hashes a directory on a background thread (collect_tree, verify mode, large
    files by shards of the default size) while the caller does something else.

    ``render``: the component bom-ref the directory is probably signed as; its chunks are then
    also published as signed JSON (``runs``) for reading the signed SBOM faster."""

    def __init__(
        self,
        directory: Path,
        *,
        own_files: Sequence[Path] = (),
        ignore: Sequence[str] = (),
        progress: Progress | None = None,
        render: str | None = None,
    ) -> None:
        import threading

        from chainguard.hashing import RenderedRuns

        self.cancelled = threading.Event()
        self._tree: ObservedTree | None = None
        self._error: BaseException | None = None
        self.runs = RenderedRuns(render) if render is not None else None
        self.rules = _ignore_rules(directory, ignore, own_files)
        self.directory = directory
        self.render = render
        self.progress = _ProgressRelay()
        self.progress.attach(progress)
        self._thread = threading.Thread(
            target=self._run,
            args=(directory, self.rules, self.progress),
            name="chainguard-observe",
            daemon=True,
        )
        self._thread.start()

    def serves(self, directory: Path, rules: IgnoreRules, render: str | None) -> bool:
        """Hashes exactly what an observation made with these arguments would."""
        return (
            os.path.realpath(directory) == os.path.realpath(self.directory)
            and rules == self.rules
            and render == self.render
        )

    def _run(self, directory: Path, rules: IgnoreRules, progress: Progress | None) -> None:
        from chainguard.collectors.tree import collect_tree
        from chainguard.hashing import EveryPath, HashSettings

        # Only a large signed SBOM (many files) is read alongside: start the worker processes
        # with the first directory, not after thousands of files were listed.
        settings = HashSettings(process_min_files=1)
        try:
            self._tree = collect_tree(
                directory,
                settings,
                ignore=rules,
                mode="verify",
                shard_sizes=EveryPath(settings.shard_size),
                progress=progress.advance if progress else None,
                on_listed=progress.start if progress else None,
                cancelled=self.cancelled,
                runs=self.runs,
            )
            files = self._tree.files
            if isinstance(files, FileList) and not files.extra:
                # compare needs it; meanwhile the caller reads the rest of the signed SBOM
                files.tree_digest()
        except BaseException as e:  # handed to the caller by result()
            self._error = e
        finally:
            if self.runs is not None:
                self.runs.close()

    def expect(self) -> Expect | None:
        """What the signed file lists are expected to hold (sbom/packed.py), as it is hashed."""
        return self.runs.starting_at if self.runs is not None else None

    def result(self) -> ObservedTree:
        """The observed tree, once hashed; re-raises what the hashing raised."""
        self._thread.join()
        self.runs = None  # read: let go of the chunks' lines
        if self._error is not None:
            raise self._error
        assert self._tree is not None
        return self._tree

    def cancel(self) -> None:
        """Stop the hashing (if still running) and wait until it has; idempotent."""
        self.cancelled.set()
        self._thread.join()


def _expect_any(observations: dict[str, TreeObservation]) -> Expect | None:
    """One Expect for several observed directories, by component bom-ref."""
    expects = {ref: o.expect() for ref, o in observations.items()}

    def expect(bom_ref: str, first: str) -> RenderedFiles | None:
        one = expects.get(bom_ref)
        return one(bom_ref, first) if one is not None else None

    return expect if observations else None


# --- prestart: hashing a dataset from the first milliseconds -------------------------------------
#
# A many-file verify spends its first ~0.1 s importing and parsing the command line while the
# other cores idle. `chainguard verify dataset DIR --sbom F ...` (see chainguard/_launch.py)
# therefore starts the observation verify_tree would start, before the CLI is even imported.
# verify_tree adopts it only if it hashes exactly what its own would (same directory, ignore
# rules and component); otherwise it is cancelled and thrown away. Either way, nothing is
# compared before trust is established.

_prestarted: TreeObservation | None = None


def prestart_dataset(directory: Path, *, own_files: Sequence[Path], component: str | None) -> None:
    """Start observing ``directory`` for a `verify dataset` about to run (best effort)."""
    global _prestarted
    if _prestarted is None and directory.is_dir():
        render = f"dataset:{component or _component_name(directory)}"
        _prestarted = TreeObservation(directory, own_files=own_files, render=render)


def _take_prestarted() -> TreeObservation | None:
    global _prestarted
    taken, _prestarted = _prestarted, None
    return taken


# Below this many bytes of signature bundles, verify_tree checks trust first and hashes after:
# reading a small signed SBOM takes milliseconds, and hashing alongside it only makes the two
# contend for the GIL and the cores (two 256 MiB files, a 4 KB bundle: 15% slower overlapped).
# From some 3,000 files on, the signed file list costs more to read than the overlap costs:
# 10,000 files of 4 KiB (a 3.4 MB bundle) verify in 0.27 s overlapped, 0.32 s not (2 cores,
# best of 5); 100,000 files, 0.80 s against ~1.3 s.
OVERLAP_FROM_BYTES = 1024 * 1024


def _signed_sbom_size(trust: TrustInputs) -> int:
    """Bytes of the signature bundles verify will read (a missing one counts nothing)."""
    bundles = trust.signatures or ((Path(f"{trust.sbom}.sig"),) if trust.sbom else ())
    total = 0
    for path in bundles:
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return total


def _shards_to_settle(chosen: ExpectedComponent, observed: ObservedTree) -> dict[str, int | None]:
    """Files hashed by shards of the default size whose signed record has no such shards: how
    to hash them again (the signed shard size, or None: whole)."""
    signed = {f.path: f for f in _sharded_files(chosen) if f.shards}
    extra = observed.files.extra if isinstance(observed.files, FileList) else observed.files
    plans: dict[str, int | None] = {}
    for f in extra:
        if f.sha256 is None:
            e = signed.get(f.path)
            if e is None or e.shard_size != f.shard_size:
                plans[f.path] = e.shard_size if e is not None else None
    return plans


def _untrusted_report(
    command: str,
    target: str,
    trust: TrustInputs,
    outcome: TrustOutcome,
    started: float,
    ignore: Sequence[str] = (),
) -> Report:
    return Report(
        command,
        target,
        outcome.findings,
        Stats(seconds=time.perf_counter() - started),
        sbom=str(trust.sbom) if trust.sbom else None,
        signature=outcome.signature,
        signers=outcome.signers,
        trust=summarize(trust, tuple(ignore)),
    )


def _trusted_report(
    command: str,
    target: str,
    *,
    trust: TrustInputs,
    outcome: TrustOutcome,
    state: ExpectedState,
    findings: Sequence[Finding],
    stats: Stats,
    components: Sequence[str],
    ignore: Sequence[str] = (),
) -> Report:
    """A report on a release whose signature was verified: what was signed, by whom, under
    which trust, and what differs."""
    return Report(
        command,
        target,
        (*outcome.warnings, *findings),
        stats,
        sbom=str(trust.sbom) if trust.sbom else None,
        signature=outcome.signature,
        signers=outcome.signers,
        deployment=f"{state.deployment.name}@{state.deployment.version}",
        components=tuple(components),
        trust=summarize(trust, tuple(ignore)),
        sbom_digest=f"sha256:{state.sbom_sha256}" if state.sbom_sha256 else None,
        serial=state.deployment.serial,
    )


def verify_tree(
    directory: Path,
    *,
    kind: ComponentKind,
    trust: TrustInputs,
    component: str | None = None,
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
    command: str | None = None,
) -> Report:
    """Verify a model or dataset directory against the signed SBOM."""
    started = time.perf_counter()
    command = command or f"verify {kind}"
    if not directory.exists():
        raise InputError(f"{directory}: no such file or directory")
    own = _own_files(trust)
    # With a large signed SBOM, hash while the signature is checked and the SBOM read; compare
    # strictly after (see TreeObservation).
    observation = None
    prestarted = _take_prestarted()
    if _signed_sbom_size(trust) >= OVERLAP_FROM_BYTES:
        # The component sbom build names after the directory, unless one is named.
        guess = f"{kind}:{component or _component_name(directory)}"
        if prestarted is not None and prestarted.serves(
            directory, _ignore_rules(directory, ignore, own), guess
        ):
            observation, prestarted = prestarted, None
            observation.progress.attach(progress)
        else:
            observation = TreeObservation(
                directory, own_files=own, ignore=ignore, progress=progress, render=guess
            )
    if prestarted is not None:
        prestarted.cancel()
    try:
        outcome = establish_trust(
            trust, expect=observation.expect() if observation is not None else None
        )
        if outcome.state is None:
            return _untrusted_report(command, str(directory), trust, outcome, started, ignore)
        state = outcome.state
        chosen = select_component(state, kind, directory, component)
        observed = observation.result() if observation is not None else None
    finally:
        if observation is not None:
            observation.cancel()
    findings, stats = check_component(
        chosen, directory, own_files=own, ignore=ignore, progress=progress, observed=observed
    )
    if component is None and not _named_like(chosen, directory):
        findings.insert(0, _inferred_component(chosen, directory))
    return _trusted_report(
        command,
        str(directory),
        trust=trust,
        outcome=outcome,
        state=state,
        findings=findings,
        stats=Stats(stats.files, stats.bytes, time.perf_counter() - started),
        components=(chosen.bom_ref,),
        ignore=ignore,
    )


def _named_like(chosen: ExpectedComponent, directory: Path) -> bool:
    return chosen.name == _component_name(directory)


def _inferred_component(chosen: ExpectedComponent, directory: Path) -> Finding:
    return Finding(
        "component-inferred",
        str(directory),
        f"no --component was given and the directory is not named like a component: "
        f"{chosen.bom_ref} was chosen because it is the only {chosen.kind} in the signed SBOM",
        expected="--component NAME",
        actual=chosen.bom_ref,
        component=chosen.name,
    )


def verify_deployment(
    *,
    trust: TrustInputs,
    models: Sequence[tuple[str, Path]] = (),
    datasets: Sequence[tuple[str, Path]] = (),
    locks: Sequence[Path] = (),
    environments: Sequence[Path] = (),
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
) -> Report:
    """Verify every component of the signed SBOM against its local path: one report.

    Every model and dataset the SBOM lists must be mapped to a local path (chainguard.toml
    ``[models]``/``[datasets]``); an unmapped one is a ``component-missing`` finding, and a
    mapped name the SBOM does not list is a usage error (a typo would otherwise verify nothing).
    """
    started = time.perf_counter()
    # Parse dependency manifests before trust: a malformed lockfile is exit 3 whatever the
    # signature says (as in verify deps).
    manifests = [collect_dependencies(p) for p in locks]
    with _bytecode_cache(trust, environments) as cache:
        manifests += [collect_dependencies(env=p, bytecode_cache=cache) for p in environments]
    # As in verify_tree: with a large signed SBOM, the datasets are hashed while it is read.
    own = _own_files(trust)
    observations: dict[str, TreeObservation] = {}
    if _signed_sbom_size(trust) >= OVERLAP_FROM_BYTES:
        for name, root in datasets:
            if root.is_dir():
                ref = f"dataset:{name}"
                observations[ref] = TreeObservation(root, own_files=own, ignore=ignore, render=ref)
    try:
        outcome = establish_trust(trust, expect=_expect_any(observations))
        # compared only once trust is established; otherwise thrown away unseen
        trusted = outcome.state is not None
        observed_trees = {ref: o.result() for ref, o in observations.items() if trusted}
    finally:
        for o in observations.values():
            o.cancel()
    target = trust.deployment or "deployment"
    if outcome.state is None:
        return _untrusted_report("verify deployment", target, trust, outcome, started, ignore)
    state = outcome.state
    paths: dict[tuple[str, str], Path] = {("model", n): p for n, p in models}
    paths.update({("dataset", n): p for n, p in datasets})
    known = {(c.kind, c.name) for c in state.components}
    unknown = sorted(f"{k}:{n}" for k, n in paths.keys() - known)
    if unknown:
        listed = ", ".join(sorted(c.bom_ref for c in state.components)) or "none"
        raise UsageError(
            f"configured component(s) {', '.join(unknown)} not in the signed SBOM "
            f"(it has: {listed})"
        )
    findings: list[Finding] = []
    files = nbytes = 0
    for c in state.components:
        directory = paths.get((c.kind, c.name))
        if directory is None or not directory.exists():
            findings.append(
                Finding(
                    "component-missing",
                    str(directory) if directory else c.bom_ref,
                    f"signed {c.kind} {c.name!r} "
                    + ("has no local path in the config" if directory is None else "is missing"),
                    expected=f"a directory holding {c.bom_ref}",
                    actual=None if directory else "not configured",
                    component=c.name,
                )
            )
            continue
        found, stats = check_component(
            c,
            directory,
            own_files=own,
            ignore=ignore,
            progress=progress,
            observed=observed_trees.get(c.bom_ref),
        )
        findings.extend(found)
        files += stats.files
        nbytes += stats.bytes
    # Dependencies: each configured manifest against its signed counterpart, and every signed
    # manifest must be covered by one (an unverified environment would pass silently otherwise).
    covered: set[str] = set()
    for observed in manifests:
        ref, found, stats = check_dependencies(state, observed)
        covered.add(ref)
        findings.extend(found)
        files += stats.files
        nbytes += stats.bytes
    signed_manifests = sorted({d.manifest or "(unnamed)" for d in state.dependencies})
    findings.extend(
        Finding(
            "component-missing",
            ref,
            f"signed dependency manifest {ref!r} has no local lockfile or environment "
            "in the config",
            expected=f"[dependencies] entry for {ref}",
            actual="not configured",
            component=ref,
        )
        for ref in signed_manifests
        if ref not in covered
    )
    return _trusted_report(
        "verify deployment",
        state.deployment.name,
        trust=trust,
        outcome=outcome,
        state=state,
        findings=findings,
        stats=Stats(files, nbytes, time.perf_counter() - started),
        components=(*(c.bom_ref for c in state.components), *sorted(covered)),
        ignore=ignore,
    )


# ------------------------------------------------------------------- dependencies (verify deps)
#
# Manifests (requirements files, lockfiles, installed environments) are read by
# chainguard/collectors/{requirements,pylock,uvlock,poetrylock,environment}.py and compared by
# chainguard/compare_deps.py. In the SBOM every dependency records the manifest it came from
# ("uv-lock:uv.lock", "environment:.venv"): verify compares a lock with the signed lock of that
# name, and an environment with the signed environment, never one with the other.

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from chainguard.collectors.bytecode_cache import BytecodeCache
    from chainguard.models import Dependency, ObservedDependencies


def collect_manifests(
    *, requirements: Sequence[Path] = (), locks: Sequence[Path] = (), envs: Sequence[Path] = ()
) -> list[ObservedDependencies]:
    """Read every manifest for an SBOM; refuse an environment whose files fail their RECORD."""
    from chainguard.collectors.deps import collect_lock
    from chainguard.collectors.environment import collect_environment

    manifests = [collect_lock(p, "requirements") for p in requirements]
    manifests += [collect_lock(p) for p in locks]
    for env in envs:
        observed = collect_environment(env)
        if observed.record_problems:
            p = observed.record_problems[0]
            more = len(observed.record_problems) - 1
            extra = f" (and {more} more)" if more else ""
            raise InputError(
                f"{env}: {p.path}: {p.detail}{extra}; refusing to sign an environment whose "
                "installed files do not match their RECORD"
            )
        manifests.append(observed)
    seen: set[str] = set()
    for m in manifests:
        if m.ref in seen:
            raise UsageError(
                f"two manifests are both named {m.ref!r}; each lockfile or environment in one "
                "SBOM needs its own name (rename a file or directory)"
            )
        seen.add(m.ref)
    return manifests


def collect_dependencies(
    lockfile: Path | None = None,
    *,
    env: Path | None = None,
    bytecode_cache: BytecodeCache | None = None,
) -> ObservedDependencies:
    """Read one lockfile (any supported format) or one installed environment (its bytecode
    checks spared for the passes in ``bytecode_cache``)."""
    from chainguard.collectors.deps import collect_lock
    from chainguard.collectors.environment import collect_environment

    if (lockfile is None) == (env is None):
        raise UsageError("give exactly one of a LOCKFILE or --env PYTHON")
    if env is not None:
        return collect_environment(env, bytecode_cache=bytecode_cache)
    assert lockfile is not None
    return collect_lock(lockfile)


def _bytecode_cache(
    trust: TrustInputs, environments: Sequence[Path]
) -> AbstractContextManager[BytecodeCache | None]:
    """Verifying environments: the bytecode verdict cache in the state directory (none when the
    run keeps no state). ``sbom build`` uses none: it writes no local state."""
    from chainguard.collectors.bytecode_cache import bytecode_cache
    from chainguard.trust.state import default_state_dir

    use = environments and trust.use_state
    return bytecode_cache((trust.state_dir or default_state_dir()) if use else None)


def select_manifest(
    state: ExpectedState, observed: ObservedDependencies, name: str | None
) -> tuple[str, tuple[Dependency, ...]]:
    """The signed dependencies to compare ``observed`` with: (manifest ref, dependencies).

    By ``name`` ("uv.lock" or "uv-lock:uv.lock") if given, else the signed manifest with the
    observed one's name, else the only one of its category (lock or environment). SBOMs that
    predate manifest names (no chainguard:manifest) count as one unnamed manifest.
    """
    groups: dict[str, list[Dependency]] = {}
    for d in state.dependencies:
        groups.setdefault(d.manifest, []).append(d)
    want_env = observed.kind == "environment"

    def category_fits(ref: str) -> bool:
        return ref == "" or ref.startswith("environment:") == want_env

    candidates = [ref for ref in groups if category_fits(ref)]
    listed = ", ".join(sorted(ref or "(unnamed)" for ref in candidates)) or "none"
    what = "environment" if want_env else "lockfile"
    if name is not None:
        for ref in groups:
            if name in (ref, ref.partition(":")[2]):
                if not category_fits(ref):
                    raise UsageError(f"{ref} is not a {what} in the SBOM; choose a {what}")
                return ref, tuple(groups[ref])
        raise UsageError(f"no {what} named {name!r} in the signed SBOM (it has: {listed})")
    if observed.ref in groups:
        return observed.ref, tuple(groups[observed.ref])
    same_name = [ref for ref in candidates if ref.partition(":")[2] == observed.name]
    if len(same_name) == 1:
        return same_name[0], tuple(groups[same_name[0]])
    if len(candidates) == 1:
        return candidates[0], tuple(groups[candidates[0]])
    if not candidates:
        article = "an" if want_env else "a"
        raise UsageError(f"the signed SBOM lists no dependencies from {article} {what}")
    raise UsageError(
        f"the SBOM has dependencies from several {what}s ({listed}); choose one with --component"
    )


def check_dependencies(
    state: ExpectedState,
    observed: ObservedDependencies,
    *,
    component: str | None = None,
    require_hashes: bool | None = None,
) -> tuple[str, list[Finding], Stats]:
    """Compare one observed manifest with its signed counterpart: (manifest ref, findings,
    stats). ``require_hashes`` None: required when every signed dependency carries hashes."""
    from chainguard.compare_deps import compare_dependencies, hashes_required_by

    ref, expected = select_manifest(state, observed, component)
    if require_hashes is None:
        require_hashes = hashes_required_by(expected)
    findings = compare_dependencies(
        expected,
        observed.dependencies,
        require_hashes=require_hashes and observed.kind != "environment",
        record_problems=observed.record_problems,
    )
    files = observed.files_checked if observed.kind == "environment" else 1
    return ref or "(unnamed)", findings, Stats(files, observed.bytes_hashed, 0.0)


def verify_deps(
    lockfile: Path | None = None,
    *,
    env: Path | None = None,
    trust: TrustInputs,
    component: str | None = None,
    require_hashes: bool | None = None,
    command: str = "verify deps",
) -> Report:
    """Verify a lockfile, or an installed environment, against the signed SBOM."""
    started = time.perf_counter()
    target = str(lockfile if lockfile is not None else env)
    # Read (and parse) the input first: a malformed lockfile is "could not verify" (exit 3)
    # whatever the signature says.
    with _bytecode_cache(trust, [env] if env is not None else []) as cache:
        observed = collect_dependencies(lockfile, env=env, bytecode_cache=cache)
    outcome = establish_trust(trust)
    if outcome.state is None:
        return _untrusted_report(command, target, trust, outcome, started)
    state = outcome.state
    ref, findings, stats = check_dependencies(
        state, observed, component=component, require_hashes=require_hashes
    )
    return _trusted_report(
        command,
        target,
        trust=trust,
        outcome=outcome,
        state=state,
        findings=findings,
        stats=Stats(stats.files, stats.bytes, time.perf_counter() - started),
        components=(ref,),
    )


# -------------------------------------------------------------------------------- verify blob


def verify_blob(
    artifact: Path,
    bundle: Path,
    *,
    keys: Sequence[Path] = (),
    identities: Sequence[IdentityRule] = (),
    trusted_root: Path | None = None,
    staging: bool = False,
) -> Report:
    """Verify one file against a signature bundle: with trusted keys, or Sigstore identities.

    Key bundles: DSSE statements (``chainguard sign``) or message signatures (cosign
    ``sign-blob --key``). Sigstore bundles are verified offline against the production root
    (default), the staging root (``staging``) or ``trusted_root``. ``identities`` are OR-ed.
    A signature or digest mismatch is a finding (exit 1); unreadable input raises.
    """
    from chainguard.errors import BundleError, VerificationFailure
    from chainguard.trust.blob import require_file, verify_key_artifact
    from chainguard.trust.gate import describe_signer

    started = time.perf_counter()
    if keys and identities:
        raise UsageError("choose one kind of trust: --key, or --identity with --issuer")
    if not keys and not identities:
        raise UsageError("no trusted key or identity: pass --key PUB, or --identity and --issuer")
    if keys and (trusted_root is not None or staging):
        raise UsageError("--trusted-root and --staging apply to Sigstore identities, not --key")
    if trusted_root is not None and staging:
        raise UsageError("--staging and --trusted-root both choose the trusted root; pick one")
    size = require_file(artifact)
    try:
        bundle_bytes = bundle.read_bytes()
    except FileNotFoundError as e:
        raise BundleError(f"{bundle}: no such signature bundle") from e
    except OSError as e:
        raise BundleError(f"{bundle}: cannot read: {e.strerror or e}") from e
    findings: tuple[Finding, ...] = ()
    signers: tuple[str, ...] = ()
    try:
        if keys:
            signer = verify_key_artifact(
                artifact, bundle_bytes, str(bundle), load_trusted_keys(keys)
            )
        else:
            from chainguard.trust.sigstore import load_trusted_root, verify_sigstore_artifact

            root = load_trusted_root(
                None if trusted_root is not None else ("staging" if staging else "production"),
                trusted_root,
            )
            signer = verify_sigstore_artifact(artifact, bundle_bytes, str(bundle), identities, root)
        signers = (describe_signer(signer),)
    except VerificationFailure as failure:
        where = str(artifact) if failure.rule == "subject-mismatch" else str(bundle)
        findings = (Finding(failure.rule, where, str(failure), failure.expected, failure.actual),)
    return Report(
        "verify blob",
        str(artifact),
        findings,
        Stats(1, size, time.perf_counter() - started),
        signature=str(bundle),
        signers=signers,
    )


# ------------------------------------------------------------- OpenSSF model signing (OMS)


def verify_model_oms(
    path: Path,
    signature: Path,
    *,
    keys: Sequence[Path] = (),
    certificate_chains: Sequence[Path] = (),
    identities: Sequence[IdentityRule] = (),
    trusted_root: Path | None = None,
    staging: bool = False,
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
) -> Report:
    """Verify a model (directory or single file) against an OpenSSF model signature.

    Trust is one of: public keys (``keys``), X.509 trust anchors (``certificate_chains``), or
    Sigstore identities (``identities``, offline against the production, staging or given
    trusted root). The signature is verified first; only then is the model hashed and compared
    with the signed manifest. Paths the signer recorded as ignored, ``ignore`` globs and the
    signature file itself are left out. Mismatches are findings; unreadable input raises.
    """
    from chainguard.collectors.tree import IgnoreRules, collect_tree
    from chainguard.errors import BundleError, VerificationFailure
    from chainguard.models import VerifiedStatement
    from chainguard.trust import oms
    from chainguard.trust.bundle import read_bundle, verify_key_bundle
    from chainguard.trust.gate import describe_signer

    started = time.perf_counter()
    modes = sum(bool(m) for m in (keys, certificate_chains, identities))
    if modes != 1:
        raise UsageError(
            "choose one kind of trust for an OpenSSF model signature: --key PUB, "
            "--certificate-chain CA.pem, or --identity with --issuer"
            if modes
            else "no trusted key, CA or identity: pass --key PUB, --certificate-chain CA.pem, "
            "or --identity and --issuer"
        )
    if not identities and (trusted_root is not None or staging):
        raise UsageError("--trusted-root and --staging apply to Sigstore identities only")
    if trusted_root is not None and staging:
        raise UsageError("--staging and --trusted-root both choose the trusted root; pick one")
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    label = str(signature)

    def stopped(finding: Finding, signers: tuple[str, ...] = ()) -> Report:
        return Report(
            "verify model",
            str(path),
            (finding,),
            Stats(seconds=time.perf_counter() - started),
            signature=label,
            signers=signers,
        )

    if not signature.is_file():
        return stopped(
            Finding(
                "signature-missing",
                label,
                "no OpenSSF model signature found; an unsigned model proves nothing",
                expected="a signature bundle",
            )
        )
    try:
        bundle_bytes = signature.read_bytes()
    except OSError as e:
        raise BundleError(f"{signature}: cannot read: {e.strerror or e}") from e
    bundle = read_bundle(bundle_bytes, label)
    verified: VerifiedStatement | None = None
    try:
        if keys:
            verified = verify_key_bundle(bundle, load_trusted_keys(keys), source=label)
        elif certificate_chains:
            anchors = oms.load_certificates(certificate_chains)
            verified = oms.verify_certificate_bundle(bundle, anchors, source=label)
        else:
            from chainguard.trust.sigstore import load_trusted_root, verify_sigstore_dsse

            root = load_trusted_root(
                None if trusted_root is not None else ("staging" if staging else "production"),
                trusted_root,
            )
            verified = verify_sigstore_dsse(bundle_bytes, label, identities, root)
        signers = tuple(describe_signer(s) for s in verified.signers)
        manifest = oms.read_manifest(verified, label)
    except VerificationFailure as failure:
        signers = tuple(describe_signer(s) for s in verified.signers) if verified else ()
        return stopped(
            Finding(failure.rule, label, str(failure), failure.expected, failure.actual), signers
        )

    single_file = path.name if path.is_file() else None
    settings, shard_sizes = oms.hash_plan(manifest, single_file)
    rules = _ignore_rules(path, ignore, (signature,))
    tree = collect_tree(
        path,
        settings,
        ignore=IgnoreRules(rules.patterns, rules.exact | oms.signed_ignore_paths(manifest)),
        mode="verify",
        shard_sizes=shard_sizes,
        progress=progress.advance if progress else None,
        on_listed=progress.start if progress else None,
    )
    findings = oms.compare_model(manifest, tree, single_file=single_file)
    return Report(
        "verify model",
        str(path),
        tuple(findings),
        Stats(len(tree.files), tree.bytes_hashed, time.perf_counter() - started),
        signature=label,
        signers=signers,
        components=(f"model:{manifest.model_name}",),
    )


def sign_model_oms(
    path: Path, key: Path, output: Path | None = None, ignore: Sequence[str] = ()
) -> Path:
    """Sign a model as an OpenSSF model signature that ``model_signing verify key`` accepts.

    Default output: ``model.sig`` inside a model directory (left out of the signature and
    recorded in its ignore paths, as model-signing does), ``FILE.sig`` beside a single file.
    ``ignore`` holds literal paths relative to the model (OMS records paths, not globs).
    """
    from chainguard.trust.keys import load_private_key
    from chainguard.trust.oms import DEFAULT_SIGNATURE_NAME, sign_oms

    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_dir():
        out = output or path / DEFAULT_SIGNATURE_NAME
    else:
        out = output or Path(str(path) + ".sig")
    own: list[str] = []
    if path.is_dir() and out.resolve().is_relative_to(path.resolve()):
        own.append(out.resolve().relative_to(path.resolve()).as_posix())
    signing_key = load_private_key(key, _password())
    _write_atomic(out, sign_oms(path, signing_key, [*ignore, *own]), overwrite=True)
    return out

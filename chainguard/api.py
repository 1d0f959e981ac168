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
from collections.abc import Sequence
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
    Subject,
)

if TYPE_CHECKING:
    from chainguard.collectors.tree import IgnoreRules
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
) -> BuildResult:
    """Hash every model/dataset directory and write a schema-valid CycloneDX 1.6 SBOM."""
    from chainguard.collectors.safetensors import read_header
    from chainguard.collectors.tree import collect_tree
    from chainguard.hashing import HashSettings
    from chainguard.sbom.build import ComponentInput
    from chainguard.sbom.build import build_sbom as render

    if not models and not datasets:
        raise UsageError("nothing to describe: pass at least one --model or --dataset")
    started = time.perf_counter()
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
            digests.append(f)
        inputs.append(ComponentInput(kind=kind, name=comp_name, files=tuple(digests)))
        files += len(tree.files)
        total += tree.total_bytes()
    deployment = DeploymentInfo(
        name=name, version=version, serial=serial if serial is not None else 0, expires=expires
    )
    data = render(deployment, inputs)
    _write_atomic(output, data, overwrite=True)
    return BuildResult(
        output=output,
        components=tuple(f"{c.kind}:{c.name}" for c in inputs),
        files=files,
        bytes=total,
        seconds=time.perf_counter() - started,
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


def _write_atomic(path: Path, data: bytes, *, overwrite: bool) -> None:
    if not overwrite and path.exists():
        raise OutputError(f"{path}: already exists; refusing to overwrite")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write: {e.strerror or e}") from e


# --------------------------------------------------------------------------------------- sign


def sign_sbom(sbom: Path, key: Path, output: Path | None = None) -> Path:
    """Sign an SBOM with a key: Sigstore bundle v0.3 / DSSE / in-toto Statement v1."""
    from chainguard.trust.bundle import key_bundle_json
    from chainguard.trust.dsse import sign
    from chainguard.trust.keys import load_private_key, public_key_from_pem
    from chainguard.trust.statement import build_statement

    data, state = read_sbom_file(sbom)
    signing_key = load_private_key(key, _password())
    statement = build_statement(
        statement_subjects(state, data), CYCLONEDX_PREDICATE, _json_object(data, sbom)
    )
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


def _verify_shard_size(component: ExpectedComponent) -> tuple[int, dict[str, int]]:
    sizes = {f.path: f.shard_size for f in component.files if f.shards}
    common = Counter(sizes.values()).most_common(1)
    return (common[0][0] if common else DEFAULT_SHARD_SIZE), sizes


def check_component(
    chosen: ExpectedComponent,
    directory: Path,
    *,
    own_files: Sequence[Path] = (),
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
) -> tuple[list[Finding], Stats]:
    """Hash one model/dataset directory and compare it with its signed component."""
    from chainguard.collectors.tree import collect_tree
    from chainguard.compare import compare_tree
    from chainguard.hashing import HashSettings

    started = time.perf_counter()
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
    stats = Stats(len(tree.files), tree.bytes_hashed, time.perf_counter() - started)
    return compare_tree(chosen, tree), stats


def _untrusted_report(
    command: str, target: str, trust: TrustInputs, outcome: TrustOutcome, started: float
) -> Report:
    return Report(
        command,
        target,
        outcome.findings,
        Stats(seconds=time.perf_counter() - started),
        sbom=str(trust.sbom) if trust.sbom else None,
        signature=outcome.signature,
        signers=outcome.signers,
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
    outcome = establish_trust(trust)
    if outcome.state is None:
        return _untrusted_report(command, str(directory), trust, outcome, started)
    state = outcome.state
    chosen = select_component(state, kind, directory, component)
    own = [p for p in (trust.sbom, *trust.signatures) if p is not None]
    findings, stats = check_component(
        chosen, directory, own_files=own, ignore=ignore, progress=progress
    )
    return Report(
        command,
        str(directory),
        (*outcome.warnings, *findings),
        Stats(stats.files, stats.bytes, time.perf_counter() - started),
        sbom=str(trust.sbom) if trust.sbom else None,
        signature=outcome.signature,
        signers=outcome.signers,
        deployment=f"{state.deployment.name}@{state.deployment.version}",
        components=(chosen.bom_ref,),
    )


def verify_deployment(
    *,
    trust: TrustInputs,
    models: Sequence[tuple[str, Path]] = (),
    datasets: Sequence[tuple[str, Path]] = (),
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
) -> Report:
    """Verify every component of the signed SBOM against its local path: one report.

    Every model and dataset the SBOM lists must be mapped to a local path (chainguard.toml
    ``[models]``/``[datasets]``); an unmapped one is a ``component-missing`` finding, and a
    mapped name the SBOM does not list is a usage error (a typo would otherwise verify nothing).
    """
    started = time.perf_counter()
    outcome = establish_trust(trust)
    target = trust.deployment or "deployment"
    if outcome.state is None:
        return _untrusted_report("verify deployment", target, trust, outcome, started)
    state = outcome.state
    own = [p for p in (trust.sbom, *trust.signatures) if p is not None]
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
    findings: list[Finding] = list(outcome.warnings)
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
                    actual="absent" if directory else "not configured",
                    component=c.name,
                )
            )
            continue
        found, stats = check_component(
            c, directory, own_files=own, ignore=ignore, progress=progress
        )
        findings.extend(found)
        files += stats.files
        nbytes += stats.bytes
    return Report(
        "verify deployment",
        state.deployment.name,
        tuple(findings),
        Stats(files, nbytes, time.perf_counter() - started),
        sbom=str(trust.sbom) if trust.sbom else None,
        signature=outcome.signature,
        signers=outcome.signers,
        deployment=f"{state.deployment.name}@{state.deployment.version}",
        components=tuple(c.bom_ref for c in state.components),
    )

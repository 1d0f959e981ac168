"""An installed Python environment → its distributions, with every installed file checked
against the RECORD its installer wrote.

Site-packages is found from a venv's layout, or by asking its interpreter, run isolated
(collectors/env_layout.py); nothing is ever imported from the environment.

For each ``*.dist-info``: Name and Version from METADATA; the SHA-256 of RECORD itself (what
the SBOM signs: a file changed together with its RECORD line changes it); and every file RECORD
lists (collectors/env_record.py), checked for size and digest with the shared hashing engine
(collectors/env_files.py). RECORD entries may point outside site-packages (``../../bin/tool``)
but never outside the environment: such a RECORD, or one with malformed lines, cannot be
verified and raises LockfileError. Files in site-packages that no RECORD lists (a dropped-in
``.pth`` runs code at every start) are reported too, except bytecode in ``__pycache__``, which
interpreters write at run time (collectors/env_unlisted.py): each ``.pyc`` the environment's
interpreter would run instead of its source is compiled again from that source and compared,
and sourceless bytecode it would import is reported (collectors/bytecode.py).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.collectors import bytecode as bc
from chainguard.collectors._deps import canonical_name, make_dependency, read_bounded
from chainguard.collectors.env_files import RecordCheck, check_files
from chainguard.collectors.env_layout import (
    PROBE_TIMEOUT,
    EnvironmentLayout,
    inside,
    locate_environment,
)
from chainguard.collectors.env_record import parse_record
from chainguard.collectors.env_unlisted import find_unlisted
from chainguard.errors import LockfileError
from chainguard.models import Dependency, ManifestKind, ObservedDependencies, RecordProblem

if TYPE_CHECKING:
    from chainguard.collectors.bytecode_cache import BytecodeCache

KIND: ManifestKind = "environment"
# METADATA headers come first; a description body can be long and is not needed.
_METADATA_HEAD = 1024 * 1024


@dataclass(slots=True)
class _Scan:
    layout: EnvironmentLayout
    deps: list[Dependency] = field(default_factory=list)
    problems: list[RecordProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[RecordCheck] = field(default_factory=list)
    listed: dict[str, str] = field(default_factory=dict)  # full path → distribution
    hashed: set[str] = field(default_factory=set)  # listed with a digest
    cached_bytecode: list[bc.CachedPyc] = field(default_factory=list)
    skip_dirs: set[str] = field(default_factory=set)  # metadata dirs of unverifiable installs
    unhashed: int = 0
    bytecode: int = 0


def collect_environment(
    target: Path,
    *,
    timeout: float = PROBE_TIMEOUT,
    workers: int | None = None,
    check_bytecode: bool = True,
    bytecode_cache: BytecodeCache | None = None,
) -> ObservedDependencies:
    """Every distribution installed in ``target`` and every file checked against its RECORD.

    ``check_bytecode`` False skips compiling sources again (benchmarks/bench_env.py measures
    what it costs); the environment's bytecode is then not verified. ``bytecode_cache`` spares
    compiling a .pyc that passed before with the same bytes (collectors/bytecode_cache.py).
    """
    layout = locate_environment(target, timeout=timeout)
    scan = _Scan(layout, notes=list(layout.notes))
    for site in layout.site_dirs:
        _read_distributions(site, scan)
    for site in layout.site_dirs:
        problems, cached = find_unlisted(site, scan.listed, scan.hashed, scan.skip_dirs)
        scan.problems += problems
        scan.cached_bytecode += cached
    hashed, checked = _check_installed(scan, target, check_bytecode, workers, bytecode_cache)
    _coverage_notes(scan, target, check_bytecode)
    deps = _drop_duplicates(scan, target)
    return ObservedDependencies(
        kind=KIND,
        name=layout.name,
        source=str(target),
        dependencies=tuple(deps),
        record_problems=tuple(sorted(scan.problems, key=lambda p: (p.path, p.kind))),
        notes=tuple(scan.notes),
        files_checked=len(scan.checks) + checked.compared,
        bytes_hashed=hashed,
        bytecode_compiled=checked.compiled,
    )


def listed_files(
    target: Path, *, timeout: float = PROBE_TIMEOUT
) -> tuple[EnvironmentLayout, dict[str, str]]:
    """The environment's layout and the files its RECORDs list with a digest (real path →
    distribution), read without hashing anything: what ``verify process`` holds the native code
    a process mapped against, after collect_environment checked those files' content."""
    layout = locate_environment(target, timeout=timeout)
    scan = _Scan(layout)
    for site in layout.site_dirs:
        _read_distributions(site, scan)
    return layout, {path: scan.listed[path] for path in scan.hashed}


def _read_distributions(site: Path, scan: _Scan) -> None:
    """Every ``*.dist-info`` and ``*.egg-info`` of one site-packages directory, in name order."""
    try:
        entries = sorted(os.scandir(site), key=lambda e: e.name)
    except OSError as e:
        raise LockfileError(f"{site}: cannot list: {e.strerror or e}") from e
    for entry in entries:
        if entry.name.endswith(".dist-info") and entry.is_dir(follow_symlinks=False):
            _dist_info(Path(entry.path), site, scan)
        elif entry.name.endswith(".egg-info"):
            _egg_info(Path(entry.path), scan)


def _check_installed(
    scan: _Scan,
    target: Path,
    check_bytecode: bool,
    workers: int | None,
    cache: BytecodeCache | None,
) -> tuple[int, bc.BytecodeCheck]:
    """Every file RECORD lists with a digest hashed and compared, and (unless
    ``check_bytecode`` is False) the ``__pycache__`` bytecode compiled again from its sources
    meanwhile; returns the bytes hashed and the bytecode check."""
    if not (check_bytecode and scan.cached_bytecode):
        hashed, problems = check_files(scan.checks, scan.layout.roots, workers)
        scan.problems += problems
        return hashed, bc.BytecodeCheck()
    interpreter = scan.layout.interpreter
    if interpreter is None:
        raise LockfileError(
            f"{target}: no bin/python to check its bytecode with; pass the environment's "
            "interpreter"
        )
    # Compiling (other processes) overlaps with hashing the RECORD entries.
    with ThreadPoolExecutor(max_workers=1) as pool:
        compiling = pool.submit(
            bc.check_cached_bytecode,
            interpreter,
            scan.cached_bytecode,
            workers=workers,
            cache=cache,
        )
        hashed, problems = check_files(scan.checks, scan.layout.roots, workers)
        checked = compiling.result()
    scan.problems += problems
    scan.problems += checked.problems
    return hashed, checked


def _coverage_notes(scan: _Scan, target: Path, check_bytecode: bool) -> None:
    """Say what RECORD does not let us check."""
    if scan.unhashed:
        scan.notes.append(
            f"{target}: {scan.unhashed} RECORD entries carry no hash (besides RECORD itself); "
            "their content is not checked"
        )
    if scan.bytecode and not check_bytecode:
        scan.notes.append(
            f"{target}: {scan.bytecode} bytecode files (.pyc) are not covered by RECORD hashes"
        )


def _drop_duplicates(scan: _Scan, target: Path) -> list[Dependency]:
    """One entry per (name, version). Importers take the first on sys.path; Debian ships
    both an egg-info and a dist-info for some packages: the one with a RECORD is kept."""
    kept: dict[tuple[str, str | None], Dependency] = {}
    for d in scan.deps:
        key = (d.name, d.version)
        first = kept.get(key)
        if first is None:
            kept[key] = d
            continue
        if first.record_sha256 is None and d.record_sha256 is not None:
            kept[key], d = d, first
        scan.notes.append(
            f"{target}: {d.name} {d.version} is installed twice ({kept[key].source} and "
            f"{d.source}); {kept[key].source} is verified"
        )
    return sorted(kept.values(), key=lambda d: (d.name, d.version or ""))


def _metadata(dist_info: Path) -> tuple[str, str]:
    path = dist_info / "METADATA"
    try:
        with path.open("rb") as f:
            head = f.read(_METADATA_HEAD)
    except FileNotFoundError as e:
        raise LockfileError(f"{path}: missing; the distribution cannot be identified") from e
    except OSError as e:
        raise LockfileError(f"{path}: cannot read: {e.strerror or e}") from e
    return _name_version(head, str(path))


def _name_version(head: bytes, source: str) -> tuple[str, str]:
    text = head.decode("utf-8", "replace")
    headers = HeaderParser().parsestr(text.split("\n\n", 1)[0] + "\n")
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        raise LockfileError(f"{source}: Name or Version header missing")
    return canonical_name(str(name).strip(), source), str(version).strip()


def _dist_info(dist_info: Path, site: Path, scan: _Scan) -> None:
    name, version = _metadata(dist_info)
    record_path = dist_info / "RECORD"
    if not record_path.is_file():
        scan.notes.append(f"{dist_info}: no RECORD; the files of {name} cannot be checked")
        scan.skip_dirs.add(os.path.realpath(dist_info))
        scan.deps.append(_dependency(name, version, None, dist_info, scan))
        return
    data = read_bounded(record_path, "RECORD file")
    record_sha256 = hashlib.sha256(data).hexdigest()
    site_real = os.path.realpath(site)
    record_real = os.path.normpath(os.path.join(site_real, os.path.relpath(record_path, site)))
    for entry in parse_record(data, str(record_path)):
        if os.path.isabs(entry.path):
            full = os.path.normpath(entry.path)
        else:
            full = os.path.normpath(os.path.join(site_real, entry.path))
        if not inside(full, scan.layout.roots):
            raise LockfileError(
                f"{record_path}:{entry.line}: path {entry.path!r} escapes the environment "
                f"{scan.layout.prefix}"
            )
        scan.listed[full] = name
        if full == record_real:
            continue
        if entry.digest is None:
            if entry.path.endswith((".pyc", ".pyo")):
                scan.bytecode += 1
            else:
                scan.unhashed += 1
            continue
        scan.checks.append(RecordCheck(name, entry, full))
        scan.hashed.add(full)
    scan.deps.append(_dependency(name, version, record_sha256, dist_info, scan))


def _dependency(
    name: str, version: str, record_sha256: str | None, dist_info: Path, scan: _Scan
) -> Dependency:
    return make_dependency(
        name,
        version,
        manifest=(KIND, scan.layout.name),
        source=dist_info.name,
        record_sha256=record_sha256,
    )


def _egg_info(path: Path, scan: _Scan) -> None:
    pkg_info = path / "PKG-INFO" if path.is_dir() else path
    data = read_bounded(pkg_info, "PKG-INFO file")[:_METADATA_HEAD]
    name, version = _name_version(data, str(pkg_info))
    scan.skip_dirs.add(os.path.realpath(path))
    scan.notes.append(f"{path}: legacy egg-info install of {name}; its files cannot be checked")
    scan.deps.append(_dependency(name, version, None, path, scan))

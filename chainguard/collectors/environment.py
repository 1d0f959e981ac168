"""An installed Python environment → its distributions, with every installed file checked
against the RECORD its installer wrote.

Given a virtual environment (its directory, or its interpreter), site-packages is found from
the layout and ``pyvenv.cfg`` without running anything. Any other interpreter is run once,
isolated and without ``site`` (``-I -S``: no ``.pth`` file of the environment gets to run), to
ask where its site-packages directories are. Nothing is ever imported from the environment.

For each ``*.dist-info``: Name and Version from METADATA; the SHA-256 of RECORD itself (what
the SBOM signs: a file changed together with its RECORD line changes it); and every file RECORD
lists, checked for size and digest with the shared hashing engine. RECORD entries may point
outside site-packages (``../../bin/tool``) but never outside the environment: such a RECORD,
or one with malformed lines, cannot be verified and raises LockfileError. Files in
site-packages that no RECORD lists (a dropped-in ``.pth`` runs code at every start) are
reported too, except bytecode in ``__pycache__``, which interpreters write at run time: each
``.pyc`` the environment's interpreter would run instead of its source is compiled again from
that source and compared, and sourceless bytecode it would import is reported
(collectors/bytecode.py).
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.collectors import bytecode as bc
from chainguard.collectors._deps import (
    canonical_name,
    decode_text,
    make_dependency,
    one_line,
    read_bounded,
)
from chainguard.errors import LockfileError
from chainguard.models import Dependency, ManifestKind, ObservedDependencies, RecordProblem

if TYPE_CHECKING:
    from chainguard.collectors.bytecode_cache import BytecodeCache

KIND: ManifestKind = "environment"
PROBE_TIMEOUT = 30.0
# METADATA headers come first; a description body can be long and is not needed.
_METADATA_HEAD = 1024 * 1024
# RECORD digests: hashlib.algorithms_guaranteed minus md5/sha1 (the spec forbids them) and the
# variable-length shake algorithms.
RECORD_ALGORITHMS = frozenset(
    {
        "sha224",
        "sha256",
        "sha384",
        "sha512",
        "sha3_224",
        "sha3_256",
        "sha3_384",
        "sha3_512",
        "blake2b",
        "blake2s",
    }
)
_B64URL = re.compile("[A-Za-z0-9_-]+")
_HEX = re.compile("[0-9a-fA-F]+")
_DECIMAL = re.compile("0|[1-9][0-9]{0,19}")
# Run with -I -S: no .pth file of the environment gets to run. Without site, a venv is not
# activated, so the probe applies the venv's pyvenv.cfg itself (site.venv reads only that file).
_PROBE = (
    "import json, site, sys\n"
    "try:\n    site.venv(None)\nexcept Exception:\n    pass\n"
    "import sysconfig\n"
    "p = sysconfig.get_paths()\n"
    "print(json.dumps({'prefix': sys.prefix, 'exec_prefix': sys.exec_prefix, "
    "'sites': [p['purelib'], p['platlib'], *site.getsitepackages()]}))"
)


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """One line of a RECORD file."""

    path: str
    algorithm: str | None
    digest: bytes | None
    size: int | None
    line: int


@dataclass(frozen=True, slots=True)
class EnvironmentLayout:
    prefix: Path  # absolute, as given (for messages and the environment's name)
    roots: tuple[str, ...]  # real paths that RECORD entries may resolve into
    site_dirs: tuple[Path, ...]
    notes: tuple[str, ...] = ()
    interpreter: Path | None = None  # runs (isolated) only to compile sources again

    @property
    def name(self) -> str:
        return self.prefix.name or "root"


# --- locating site-packages ----------------------------------------------------------------------


def locate_environment(target: Path, *, timeout: float = PROBE_TIMEOUT) -> EnvironmentLayout:
    """Where an environment's site-packages are: from a venv's layout, else by asking it."""
    absolute = Path(os.path.abspath(target))
    if not os.path.lexists(absolute):
        raise LockfileError(f"{target}: no such environment or interpreter")
    if absolute.is_dir():
        return _layout_from_prefix(absolute, target, _venv_interpreter(absolute))
    # bin/python (Scripts\python.exe) of a venv: the venv is two levels up. Not resolved: the
    # interpreter is a symbolic link to the base Python.
    venv = absolute.parent.parent
    if (venv / "pyvenv.cfg").is_file():
        return _layout_from_prefix(venv, target, absolute)
    return _probe_interpreter(absolute, target, timeout)


def _venv_interpreter(prefix: Path) -> Path | None:
    for name in ("bin/python3", "bin/python", "Scripts/python.exe"):
        candidate = prefix / name
        if candidate.is_file():
            return candidate
    return None


def _pyvenv_cfg(prefix: Path) -> dict[str, str]:
    cfg = prefix / "pyvenv.cfg"
    if not cfg.is_file():
        return {}
    text = decode_text(read_bounded(cfg, "pyvenv.cfg"), str(cfg))
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def _layout_from_prefix(prefix: Path, given: Path, interpreter: Path | None) -> EnvironmentLayout:
    cfg = _pyvenv_cfg(prefix)
    notes = []
    version = cfg.get("version_info") or cfg.get("version") or ""
    wanted = ".".join(version.split(".")[:2]) if version else ""
    candidates = [
        *sorted(prefix.glob("lib*/python*/site-packages")),
        *sorted(prefix.glob("lib*/pypy*/site-packages")),
        prefix / "Lib" / "site-packages",
    ]
    sites = _unique_dirs(
        c
        for c in candidates
        if c.is_dir() and (not wanted or c.parent.name == "Lib" or c.parent.name.endswith(wanted))
    )
    if not sites:
        raise LockfileError(
            f"{given}: no lib/pythonX.Y/site-packages here; pass a virtual environment or "
            "its interpreter"
        )
    if cfg.get("include-system-site-packages", "").lower() == "true":
        notes.append(
            f"{given}: include-system-site-packages is true; packages of the base interpreter "
            "are importable but not verified here"
        )
    roots = _unique_reals([prefix, *sites])
    return EnvironmentLayout(prefix, roots, tuple(sites), tuple(notes), interpreter)


def _probe_interpreter(interpreter: Path, given: Path, timeout: float) -> EnvironmentLayout:
    try:
        done = subprocess.run(
            [str(interpreter), "-I", "-S", "-c", _PROBE],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        raise LockfileError(f"{given}: interpreter did not answer within {timeout:g} s") from e
    except OSError as e:
        raise LockfileError(
            f"{given}: cannot run as a Python interpreter: {e.strerror or e}"
        ) from e
    if done.returncode != 0:
        err = one_line(done.stderr.decode("utf-8", "replace"))[-200:]
        raise LockfileError(
            f"{given}: not a working Python interpreter (exit {done.returncode}: {err})"
        )
    try:
        answer = json.loads(done.stdout)
        prefix = Path(str(answer["prefix"]))
        exec_prefix = Path(str(answer["exec_prefix"]))
        listed = [Path(str(p)) for p in answer["sites"]]
    except (ValueError, KeyError, TypeError) as e:
        raise LockfileError(f"{given}: unexpected answer from the interpreter") from e
    sites = _unique_dirs(p for p in listed if p.is_dir())
    if not sites:
        raise LockfileError(f"{given}: the interpreter reports no existing site-packages")
    roots = _unique_reals([prefix, exec_prefix, *sites])
    return EnvironmentLayout(prefix, roots, tuple(sites), interpreter=interpreter)


def _unique_dirs(paths: Iterator[Path] | list[Path]) -> list[Path]:
    seen: set[str] = set()
    result = []
    for p in paths:
        real = os.path.realpath(p)
        if real not in seen:
            seen.add(real)
            result.append(p)
    return result


def _unique_reals(paths: list[Path]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(os.path.realpath(p) for p in paths))


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


# --- RECORD ---------------------------------------------------------------------------------------


def parse_record(data: bytes, source: str) -> list[RecordEntry]:
    """RECORD is CSV: ``path,algorithm=<urlsafe base64, no padding>,size`` per installed file.

    Hash and size may be empty (RECORD itself, bytecode). Any malformed line is an error: a
    RECORD that cannot be read completely cannot vouch for anything.
    """
    text = decode_text(data, source)
    entries = []
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1  # where the next row starts (a quoted field may span lines)
    try:
        for row in reader:
            if row and row != [""]:
                entries.append(_record_entry(row, f"{source}:{line}", line))
            line = reader.line_num + 1
    except csv.Error as e:
        raise LockfileError(f"{source}:{line}: not valid CSV: {e}") from e
    return entries


def _record_entry(row: list[str], where: str, line: int) -> RecordEntry:
    if len(row) != 3:
        raise LockfileError(f"{where}: expected 3 fields (path,hash,size), found {len(row)}")
    path, hash_field, size_field = row
    if not path or not path.isprintable():
        raise LockfileError(f"{where}: empty path or control characters in the path")
    algorithm: str | None = None
    digest: bytes | None = None
    if hash_field:
        algorithm, sep, encoded = hash_field.partition("=")
        if not sep or algorithm not in RECORD_ALGORITHMS:
            raise LockfileError(
                f"{where}: hash must be <algorithm>=<base64>, with algorithm one of "
                f"{', '.join(sorted(RECORD_ALGORITHMS))}"
            )
        size_bytes = hashlib.new(algorithm).digest_size
        if len(encoded) == 2 * size_bytes and _HEX.fullmatch(encoded):
            # Debian's dh-python rewrites RECORD with hex digests; the length tells them apart
            # (base64 of the same digest is 4/3 of the bytes, never twice).
            digest = bytes.fromhex(encoded)
        else:
            digest = _urlsafe_b64(encoded, where)
        if len(digest) != size_bytes:
            raise LockfileError(f"{where}: {algorithm} digest has the wrong length")
    size: int | None = None
    if size_field:
        if not _DECIMAL.fullmatch(size_field):
            raise LockfileError(f"{where}: size must be a non-negative integer, got {size_field!r}")
        size = int(size_field)
    return RecordEntry(path, algorithm, digest, size, line)


def _urlsafe_b64(encoded: str, where: str) -> bytes:
    # Strict: the urlsafe alphabet only, no padding (what the wheel spec writes).
    if not _B64URL.fullmatch(encoded) or len(encoded) % 4 == 1:
        raise LockfileError(f"{where}: hash is not urlsafe base64 without padding")
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as e:
        raise LockfileError(f"{where}: hash is not urlsafe base64 without padding") from e


# --- collecting ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Check:
    """An installed file to hash against its RECORD entry."""

    dist: str
    entry: RecordEntry
    full: str


@dataclass(slots=True)
class _Scan:
    layout: EnvironmentLayout
    deps: list[Dependency] = field(default_factory=list)
    problems: list[RecordProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[_Check] = field(default_factory=list)
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
        try:
            entries = sorted(os.scandir(site), key=lambda e: e.name)
        except OSError as e:
            raise LockfileError(f"{site}: cannot list: {e.strerror or e}") from e
        for entry in entries:
            if entry.name.endswith(".dist-info") and entry.is_dir(follow_symlinks=False):
                _dist_info(Path(entry.path), site, scan)
            elif entry.name.endswith(".egg-info"):
                _egg_info(Path(entry.path), scan)
    for site in layout.site_dirs:
        _unlisted(site, scan)
    checked = bc.BytecodeCheck()
    if check_bytecode and scan.cached_bytecode:
        if layout.interpreter is None:
            raise LockfileError(
                f"{target}: no bin/python to check its bytecode with; pass the environment's "
                "interpreter"
            )
        # Compiling (other processes) overlaps with hashing the RECORD entries.
        with ThreadPoolExecutor(max_workers=1) as pool:
            compiling = pool.submit(
                bc.check_cached_bytecode,
                layout.interpreter,
                scan.cached_bytecode,
                workers=workers,
                cache=bytecode_cache,
            )
            hashed = _hash_checks(scan, workers)
            checked = compiling.result()
        scan.problems.extend(checked.problems)
    else:
        hashed = _hash_checks(scan, workers)
    if scan.unhashed:
        scan.notes.append(
            f"{target}: {scan.unhashed} RECORD entries carry no hash (besides RECORD itself); "
            "their content is not checked"
        )
    if scan.bytecode and not check_bytecode:
        scan.notes.append(
            f"{target}: {scan.bytecode} bytecode files (.pyc) are not covered by RECORD hashes"
        )
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
        if not _inside(full, scan.layout.roots):
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
        scan.checks.append(_Check(name, entry, full))
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


def _hex(digest: bytes | None) -> str:
    return digest.hex() if digest is not None else "?"


def _describe(entry: RecordEntry, digest: bytes | None = None, size: int | None = None) -> str:
    alg = entry.algorithm or "sha256"
    shown = digest if digest is not None else entry.digest
    length = size if size is not None else entry.size
    return f"{alg}:{_hex(shown)}" + (f" ({length} bytes)" if length is not None else "")


def _problem(check: _Check, kind: str, detail: str, actual: str | None) -> RecordProblem:
    return RecordProblem(
        path=check.entry.path,
        kind=kind,  # type: ignore[arg-type]
        detail=detail,
        distribution=check.dist,
        expected=_describe(check.entry),
        actual=actual,
    )


def _hash_checks(scan: _Scan, workers: int | None) -> int:
    """Size and digest of every hashed RECORD entry; returns the bytes hashed."""
    from chainguard.hashing import FileEntry, HashSettings, hash_entries

    to_hash: list[FileEntry] = []
    by_key: dict[str, _Check] = {}
    others: list[tuple[_Check, os.stat_result]] = []
    for i, check in enumerate(scan.checks):
        st = _stat_installed(check, scan)
        if st is None:
            continue
        if check.entry.size is not None and st.st_size != check.entry.size:
            scan.problems.append(
                _problem(
                    check,
                    "modified",
                    f"size differs from RECORD ({check.entry.size} → {st.st_size} bytes)",
                    f"{st.st_size} bytes",
                )
            )
            continue
        if check.entry.algorithm != "sha256":
            others.append((check, st))
            continue
        key = str(i)
        by_key[key] = check
        to_hash.append(FileEntry.from_stat(key, check.full, st))
    settings = HashSettings() if workers is None else HashSettings(workers=workers)
    digests, anomalies = hash_entries(to_hash, settings, mode="verify")
    hashed = 0
    for d in digests:
        check = by_key[d.path]
        hashed += d.size
        actual = bytes.fromhex(d.sha256 or "")
        if actual != check.entry.digest:
            scan.problems.append(
                _problem(
                    check,
                    "modified",
                    "content differs from RECORD",
                    _describe(check.entry, actual, d.size),
                )
            )
    for a in anomalies:
        check = by_key[a.path]
        kind = "changed-during-hash" if a.kind == "changed-during-hash" else "unreadable"
        scan.problems.append(_problem(check, kind, a.detail, a.detail))
    for check, st in others:
        hashed += st.st_size
        actual_digest = _digest_other(check, scan)
        if actual_digest is not None and actual_digest != check.entry.digest:
            scan.problems.append(
                _problem(
                    check,
                    "modified",
                    "content differs from RECORD",
                    _describe(check.entry, actual_digest, st.st_size),
                )
            )
    return hashed


def _stat_installed(check: _Check, scan: _Scan) -> os.stat_result | None:
    try:
        st = os.lstat(check.full)
    except FileNotFoundError:
        scan.problems.append(_problem(check, "missing", "listed in RECORD but missing", "absent"))
        return None
    except OSError as e:
        detail = e.strerror or str(e)
        scan.problems.append(_problem(check, "unreadable", detail, detail))
        return None
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(check.full)
        detail = f"is a symbolic link to {target}, RECORD lists a regular file"
        scan.problems.append(_problem(check, "not-regular", detail, f"symlink → {target}"))
        return None
    if not stat.S_ISREG(st.st_mode):
        detail = "is not a regular file"
        scan.problems.append(_problem(check, "not-regular", detail, detail))
        return None
    real = os.path.realpath(check.full)
    if real != check.full and not _inside(real, scan.layout.roots):
        detail = f"resolves outside the environment (to {real}) through a linked directory"
        scan.problems.append(_problem(check, "outside", detail, real))
        return None
    return st


def _digest_other(check: _Check, scan: _Scan) -> bytes | None:
    """RECORD entries with an algorithm other than SHA-256 (rare): streamed, constant memory."""
    from chainguard.hashing import CHUNK_SIZE

    assert check.entry.algorithm is not None
    h = hashlib.new(check.entry.algorithm)
    try:
        fd = os.open(check.full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
                h.update(chunk)
    except OSError as e:
        detail = e.strerror or str(e)
        scan.problems.append(_problem(check, "unreadable", detail, detail))
        return None
    return h.digest()


def _unlisted(site: Path, scan: _Scan) -> None:
    """Files (and linked directories) in site-packages that no RECORD lists, sourceless
    bytecode, and the ``__pycache__`` files to compare with their sources."""
    site_real = os.path.realpath(site)

    def unreadable(error: OSError) -> None:
        # A directory we cannot list could hide anything: report it rather than skip it.
        where = os.path.relpath(error.filename or site_real, site_real).replace(os.sep, "/")
        detail = f"cannot list: {error.strerror or error}"
        scan.problems.append(
            RecordProblem(where, "unreadable", detail, "", "a readable directory", detail)
        )

    for dirpath, dirnames, filenames in os.walk(site_real, onerror=unreadable):
        if os.path.normpath(dirpath) in scan.skip_dirs:
            dirnames[:] = []
            continue
        if os.path.basename(dirpath) == "__pycache__":
            dirnames[:] = []
            _cached_bytecode(dirpath, site_real, filenames, scan)
            continue
        linked = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = sorted(d for d in dirnames if d not in linked)
        present = set(filenames)
        for name in sorted([*filenames, *linked]):
            full = os.path.normpath(os.path.join(dirpath, name))
            rel = os.path.relpath(full, site_real).replace(os.sep, "/")
            if name.endswith(".pyc") and name[:-1] not in present and full not in scan.hashed:
                # Imported sourceless when there is no mod.py (FileFinder's last resort).
                scan.problems.append(
                    bc.orphan(
                        rel,
                        f"Python imports this bytecode, for which there is no {name[:-1]}, as a "
                        "module; "
                        + ("its RECORD line has no hash" if full in scan.listed else "no RECORD")
                        + " vouches for it",
                        scan.listed.get(full, ""),
                    )
                )
                continue
            if full in scan.listed or full in scan.skip_dirs:
                continue
            scan.problems.append(_unlisted_problem(rel))


def _unlisted_problem(rel: str) -> RecordProblem:
    return RecordProblem(
        path=rel,
        kind="unlisted",
        detail="no installed distribution's RECORD lists this file",
        expected="absent",
        actual="present",
    )


def _cached_bytecode(dirpath: str, site_real: str, filenames: list[str], scan: _Scan) -> None:
    package = os.path.dirname(dirpath)
    for name in sorted(filenames):
        full = os.path.normpath(os.path.join(dirpath, name))
        rel = os.path.relpath(full, site_real).replace(os.sep, "/")
        if not name.endswith(".pyc"):
            if full not in scan.listed:
                scan.problems.append(_unlisted_problem(rel))
            continue
        if name.count(".") == 1 and full not in scan.hashed:
            # No importer writes an untagged name here; `import pkg.__pycache__.mod` loads it.
            scan.problems.append(
                bc.orphan(
                    rel,
                    "untagged bytecode in __pycache__: importable sourceless as a module of the "
                    "__pycache__ namespace package",
                    scan.listed.get(full, ""),
                )
            )
            continue
        parsed = bc.parse_cached_name(name)
        if parsed is None:
            continue
        module, tag, optimize = parsed
        source = os.path.join(package, module + ".py")
        if os.path.isfile(source):  # else never loaded: bytecode in __pycache__ needs a source
            scan.cached_bytecode.append(
                bc.CachedPyc(full, source, rel, tag, optimize, scan.listed.get(source, ""))
            )

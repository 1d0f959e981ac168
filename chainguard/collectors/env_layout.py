"""Where an installed Python environment keeps its packages, found without running its code.

Given a virtual environment (its directory, or its interpreter), site-packages is found from
the layout and ``pyvenv.cfg`` without running anything. Any other interpreter is run once,
isolated and without ``site`` (``-I -S``: no ``.pth`` file of the environment gets to run), to
ask where its site-packages directories are. Nothing is ever imported from the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chainguard.collectors._deps import decode_text, one_line, read_bounded
from chainguard.errors import LockfileError

PROBE_TIMEOUT = 30.0
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
class EnvironmentLayout:
    prefix: Path  # absolute, as given (for messages and the environment's name)
    roots: tuple[str, ...]  # real paths that RECORD entries may resolve into
    site_dirs: tuple[Path, ...]
    notes: tuple[str, ...] = ()
    interpreter: Path | None = None  # runs (isolated) only to compile sources again

    @property
    def name(self) -> str:
        return self.prefix.name or "root"


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


def inside(path: str, roots: tuple[str, ...]) -> bool:
    """Is ``path`` (a real path) one of ``roots`` or below one?"""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

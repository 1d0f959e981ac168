"""The `chainguard` executable.

Before the command line interface is imported (typer and chainguard's own modules take ~0.1 s,
while the other cores idle), a `verify dataset DIR` with a large signed SBOM starts hashing DIR
(observe.prestart_dataset) and hashes the SBOM file, and hands that work to the CLI as an
EarlyStart; a `scan DIR` starts its walk (collectors/scanwalk.EarlyScan). The CLI then parses
the command line as usual; verify and scan adopt the work only if it is exactly what they
would have started themselves (see api.verify_tree, api.scan). Work not adopted is stopped.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chainguard.collectors.scanwalk import EarlyScan
    from chainguard.observe import EarlyStart

# api.OVERLAP_FROM_BYTES, without importing api to find out
_LARGE_BUNDLE = 1024 * 1024


def main() -> None:
    early: EarlyStart | EarlyScan | None = None
    # An optimisation only: whatever goes wrong here, the CLI finds and reports properly.
    with contextlib.suppress(Exception):
        early = _prestart_scan(sys.argv[1:]) or _prestart(sys.argv[1:])
    from chainguard.cli import main as cli_main

    try:
        cli_main(early=early)
    finally:
        if early is not None:  # not adopted (a usage error, another path): stop it
            with contextlib.suppress(Exception):
                early.cancel()


def _option(argv: list[str], name: str) -> list[str]:
    """Every value of ``--name VALUE`` / ``--name=VALUE`` (what typer would read)."""
    values = []
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith(name + "="):
            values.append(arg[len(name) + 1 :])
    return values


# The options of `scan` that take a value (cli/scan.py): its PATH is the first other argument.
_SCAN_VALUED = frozenset({"-f", "--format", "-o", "--output", "--config"})


def _prestart_scan(argv: list[str]) -> EarlyScan | None:
    """The walk of ``scan DIR``, started now (collectors/scanwalk.EarlyScan), or None. Should
    this reading of the command line be wrong, scan does not adopt the walk (another PATH)."""
    if argv[:1] != ["scan"] or "--help" in argv or "--" in argv:
        return None
    args = iter(argv[1:])
    for arg in args:
        if arg in _SCAN_VALUED:
            next(args, None)
        elif not arg.startswith("-"):
            if not _worth_a_walk(arg):
                return None
            from pathlib import Path

            from chainguard.collectors.scanwalk import EarlyScan

            return EarlyScan(Path(arg))
    return None


def _worth_a_walk(path: str) -> bool:
    """A directory with a subdirectory or a few hundred entries: worth starting the worker
    processes for (a file, a small directory or a typo is scanned, or reported, as usual)."""
    try:
        with os.scandir(path) as it:
            for n, entry in enumerate(it):
                if n >= 256 or entry.is_dir(follow_symlinks=False):
                    return True
    except OSError:
        pass
    return False


def _prestart(argv: list[str]) -> EarlyStart | None:
    """The early start for this command line, or None (importing nothing more: --version and
    every other command must not pay for it)."""
    if argv[:2] != ["verify", "dataset"] or len(argv) < 3 or argv[2].startswith("-"):
        return None
    if "--help" in argv or "--" in argv or _option(argv, "--dask"):
        return None  # (--dask: the cluster hashes, not this process)
    from pathlib import Path

    from chainguard.models import default_signature, signature_paths

    sboms = _option(argv, "--sbom")
    signatures = _option(argv, "--signature") or [
        str(default_signature(Path(s))) for s in sboms[-1:]
    ]
    size = 0
    for path in signatures:
        try:
            size += os.stat(path).st_size
        except OSError:
            continue
    if size < _LARGE_BUNDLE or not os.path.isdir(argv[2]):
        return None
    from chainguard.observe import EarlyStart, prestart_dataset

    own = [Path(p) for p in signatures]
    own += [p for s in sboms[-1:] for p in (Path(s), *signature_paths(Path(s)))]
    component = _option(argv, "--component")[-1:]
    early = EarlyStart()
    early.observation = prestart_dataset(
        Path(argv[2]), own_files=own, component=component[0] if component else None
    )
    for sbom in sboms[-1:]:
        early.hash_sbom(Path(sbom))  # meanwhile the CLI starts; verify needs its digest first
    return early

"""The `chainguard` executable.

Before the command line interface is imported (typer and chainguard's own modules take ~0.1 s,
while the other cores idle), a `verify dataset DIR` with a large signed SBOM starts hashing DIR
(observe.prestart_dataset) and hashes the SBOM file, and hands that work to the CLI as an
EarlyStart. The CLI then parses the command line as usual; verify adopts the work only if it is
exactly what it would have started itself (see api.verify_tree).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chainguard.observe import EarlyStart

# api.OVERLAP_FROM_BYTES, without importing api to find out
_LARGE_BUNDLE = 1024 * 1024


def main() -> None:
    early = None
    # An optimisation only: whatever goes wrong here, the CLI finds and reports properly.
    with contextlib.suppress(Exception):
        early = _prestart(sys.argv[1:])
    from chainguard.cli import main as cli_main

    cli_main(early=early)


def _option(argv: list[str], name: str) -> list[str]:
    """Every value of ``--name VALUE`` / ``--name=VALUE`` (what typer would read)."""
    values = []
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith(name + "="):
            values.append(arg[len(name) + 1 :])
    return values


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

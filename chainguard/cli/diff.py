"""chainguard diff: two releases' SBOMs compared for a reviewer (api.diff_sboms)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from chainguard.cli._app import app
from chainguard.cli._options import (
    CONFIG_OPT,
    KEY_OPT,
    NO_CONFIG_OPT,
    OUTPUT_OPT,
    SIGSTORE_OPTIONS,
    Options,
    resolve,
    with_options,
)
from chainguard.errors import ExitCode, UsageError


class DiffFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


SIG_OLD_OPT = typer.Option(
    "--signature-old", metavar="SIG", help="Verify OLD against this bundle; show who signed it."
)
SIG_NEW_OPT = typer.Option(
    "--signature-new", metavar="SIG", help="Verify NEW against this bundle; show who signed it."
)


@app.command("diff")
@with_options(sigstore=SIGSTORE_OPTIONS)
def diff(
    old: Annotated[Path, typer.Argument(metavar="OLD", help="The earlier release's SBOM.")],
    new: Annotated[Path, typer.Argument(metavar="NEW", help="The later release's SBOM.")],
    format_: Annotated[DiffFormat, typer.Option("-f", "--format", help="Output format.")] = (
        DiffFormat.text
    ),
    output: Annotated[Optional[Path], OUTPUT_OPT] = None,  # noqa: UP045
    signature_old: Annotated[Optional[Path], SIG_OLD_OPT] = None,  # noqa: UP045
    signature_new: Annotated[Optional[Path], SIG_NEW_OPT] = None,  # noqa: UP045
    key: Annotated[Optional[list[Path]], KEY_OPT] = None,  # noqa: UP045
    *,
    sigstore: Options,
    config: Annotated[Optional[Path], CONFIG_OPT] = None,  # noqa: UP045
    no_config: Annotated[bool, NO_CONFIG_OPT] = False,
) -> None:
    """Show what changed between two releases: components and files, dependency versions
    (downgrades marked), declared patches, deployment version and serial; exit 0 when they
    are the same, 1 when they differ or a given signature does not verify."""
    from chainguard import api
    from chainguard.cli._output import write_atomically
    from chainguard.reporters.diff import RENDERERS

    trust = None
    if signature_old is not None or signature_new is not None:
        trust = resolve(
            config=config,
            no_config=no_config,
            key=key,
            **sigstore,
        ).trust
    elif key or any(sigstore.values()):
        raise UsageError("trust options apply with --signature-old or --signature-new")
    report = api.diff_sboms(
        old, new, signature_old=signature_old, signature_new=signature_new, trust=trust
    )
    text = RENDERERS[format_.value](report)
    if output is not None:
        write_atomically(output, text)
        n = report.diff.count()
        verdict = "not verified" if not report.signatures_ok else "verified"
        signed = f"; signatures {verdict}" if trust is not None else ""
        sys.stderr.write(f"chainguard diff: {n} difference(s){signed}; written to {output}\n")
    else:
        sys.stdout.write(text)
    raise typer.Exit(int(ExitCode.OK if report.ok else ExitCode.FINDINGS))

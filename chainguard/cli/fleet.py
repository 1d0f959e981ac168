"""chainguard fleet status: the attestations a fleet of hosts published to an OCI registry,
each verified under its host's enrolled key (chainguard/api/fleet.py)."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from chainguard.cli._app import fleet_app
from chainguard.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from chainguard.fleet.oci import RegistryRef

DEFAULT_STALE = "2h"

INSECURE_OPT = typer.Option(
    "--insecure",
    help="Allow plain HTTP to a registry other than 127.0.0.1 (credentials and attestations "
    "travel in the clear).",
)
USERNAME_OPT = typer.Option(
    "--username",
    metavar="NAME",
    help="Registry user; the password comes from $CHAINGUARD_REGISTRY_PASSWORD (default: the "
    "docker config's credentials for the registry).",
)


class FleetFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


def registry_ref(address: str, *, insecure: bool, option: str) -> RegistryRef:
    """The checked address (a usage error before anything is sent), the fleet extra present."""
    from chainguard._extras import require_extra
    from chainguard.fleet.oci import parse_reference

    ref = parse_reference(address, insecure=insecure, option=option)
    require_extra("fleet")
    return ref


def registry_password(username: str | None) -> str | None:
    from chainguard.fleet.oci import PASSWORD_ENV

    if username is None:
        return None
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        raise UsageError(f"--username {username}: set the password in ${PASSWORD_ENV}")
    return password


@fleet_app.command("status")
def status(
    registry: Annotated[
        str, typer.Argument(metavar="oci://HOST[:PORT]/REPO", help="Where the hosts publish.")
    ],
    host_keys: Annotated[
        Path,
        typer.Option(
            "--host-keys",
            metavar="DIR",
            help="Enrolled hosts: one NAME.pub per host (its host.pub); only these keys are "
            "trusted.",
        ),
    ],
    stale: Annotated[
        str,
        typer.Option(
            "--stale",
            metavar="AGE",
            help="A host whose newest trusted attestation is older than this is host-silent "
            "(90m, 2h, 1d).",
        ),
    ] = DEFAULT_STALE,
    since: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--since",
            metavar="TIME",
            help="Only attestations signed from this time on: RFC 3339 or an age (24h, 7d).",
        ),
    ] = None,
    format_: Annotated[
        FleetFormat, typer.Option("-f", "--format", help="Output format.")
    ] = FleetFormat.text,
    username: Annotated[Optional[str], USERNAME_OPT] = None,  # noqa: UP045
    insecure: Annotated[bool, INSECURE_OPT] = False,
) -> None:
    """One row per host: its newest trusted attestation's time, result and drift. Exit 0 when
    every enrolled host is fresh and passing, 1 otherwise."""
    from datetime import timedelta

    from chainguard.api.fleet import fleet_status
    from chainguard.attest.cache import parse_duration
    from chainguard.cli.attest import _parse_since
    from chainguard.fleet.report import RENDERERS

    ref = registry_ref(registry, insecure=insecure, option="registry")
    try:
        stale_seconds = parse_duration(stale)
    except UsageError as e:
        raise UsageError(f"--stale: {e}") from None
    result = fleet_status(
        ref,
        host_keys,
        stale=timedelta(seconds=stale_seconds),
        since=_parse_since(since) if since is not None else None,
        username=username,
        password=registry_password(username),
    )
    sys.stdout.write(RENDERERS[format_.value](result))
    raise typer.Exit(int(ExitCode.OK if result.ok else ExitCode.FINDINGS))

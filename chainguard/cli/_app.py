"""The typer app, its groups and choices, and the one-line error contract."""

from __future__ import annotations

import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from chainguard import __version__
from chainguard.errors import ChainguardError

if TYPE_CHECKING:
    pass


class _ErrorMappingGroup(TyperGroup):
    """Turns a ChainguardError into one line on stderr and its documented exit code.

    Done here rather than only in main() so that every way of running the app (main(),
    ``app()``, typer's CliRunner in tests) honours the same exit-code contract.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ChainguardError as e:
            sys.stderr.write(f"chainguard: error: {one_line(str(e))}\n")
            raise typer.Exit(int(e.exit_code)) from None


app = typer.Typer(
    name="chainguard",
    help="Verify AI deployments (model weights, datasets, dependencies) against a signed SBOM.",
    cls=_ErrorMappingGroup,
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (typer, click completion)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
sbom_app = typer.Typer(help="Build CycloneDX SBOMs.", no_args_is_help=True)
verify_app = typer.Typer(help="Verify artifacts against a signed SBOM.", no_args_is_help=True)
app.add_typer(sbom_app, name="sbom")
app.add_typer(verify_app, name="verify")
fleet_app = typer.Typer(
    help="Attestations a fleet of hosts published to an OCI registry.", no_args_is_help=True
)
app.add_typer(fleet_app, name="fleet")


class KeyAlgorithm(str, Enum):
    ecdsa_p256 = "ecdsa-p256"
    ecdsa_p384 = "ecdsa-p384"
    ed25519 = "ed25519"


class HashChoice(str, Enum):
    sha256 = "sha256"
    blake3 = "blake3"


class ReportFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    markdown = "markdown"


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"chainguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """chainguard: refuse deployments whose artifacts do not match what was signed."""


def one_line(message: str) -> str:
    return " ".join(message.split())

"""cli/_options.with_options: a group of options declared once stands in a command's
signature for its stand-in parameter, and the command gets their values as one mapping."""

from __future__ import annotations

import inspect

import typer
from typer.testing import CliRunner

from chainguard.cli._options import PIN_OPTIONS, SIGSTORE_OPTIONS, Options, with_options
from chainguard.cli.verify import verify_model


def test_a_group_stands_where_its_parameter_stood() -> None:
    names = list(inspect.signature(verify_model).parameters)
    pins = [p.name for p in PIN_OPTIONS]
    start = names.index(pins[0])
    assert names[start : start + len(pins)] == pins and "pins" not in names
    assert {p.name for p in SIGSTORE_OPTIONS} <= set(names) and "sigstore" not in names


def test_the_command_gets_each_group_as_a_mapping() -> None:
    seen: list[tuple[str, Options, Options]] = []
    app = typer.Typer()

    @app.command()
    @with_options(sigstore=SIGSTORE_OPTIONS, pins=PIN_OPTIONS)
    def probe(name: str, *, sigstore: Options, pins: Options) -> None:
        seen.append((name, sigstore, pins))

    result = CliRunner().invoke(
        app, ["x", "--issuer", "https://issuer", "--staging", "--min-serial", "7"]
    )
    assert result.exit_code == 0, result.output
    ((name, sigstore, pins),) = seen
    assert name == "x"
    assert sigstore == {
        "identity": None,
        "issuer": "https://issuer",
        "identity_regexp": None,
        "repository": None,
        "ref": None,
        "trusted_root": None,
        "staging": True,
    }
    assert pins == {"allow_expired": False, "state": None, "deployment": None, "min_serial": 7}
    refused = CliRunner().invoke(app, ["x", "--min-serial", "-1"])  # the option's own bounds
    assert refused.exit_code == 2

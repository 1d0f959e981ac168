"""cli.main builds only the command it runs (start-up): what that command does and prints must
be what the whole app would do and print."""

from __future__ import annotations

import pytest
import typer
from support.cli import cli, cli_main
from typer.testing import CliRunner

from chainguard.cli import _pruned, app


def _paths(group: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [
        (*prefix, c.name or typer.main.get_command_name(c.callback.__name__))  # type: ignore[union-attr]
        for c in group.registered_commands
    ]
    for sub in group.registered_groups:
        assert sub.name is not None and sub.typer_instance is not None
        paths += _paths(sub.typer_instance, (*prefix, sub.name))
    return paths


COMMANDS = _paths(app)


def test_every_command_is_found() -> None:
    assert ("scan",) in COMMANDS and ("verify", "dataset") in COMMANDS and len(COMMANDS) >= 15
    for path in COMMANDS:
        pruned = typer.main.get_command(_pruned(app, [*path, "x"]))
        # the pruned app holds the command's path and nothing beside it
        node = pruned
        for name in path:
            assert list(node.commands) == [name]  # type: ignore[attr-defined]
            node = node.commands[name]  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_a_pruned_command_prints_the_help_of_the_whole_app(path: tuple[str, ...]) -> None:
    argv = [*path, "--help"]
    whole = CliRunner().invoke(app, argv)
    pruned = CliRunner().invoke(_pruned(app, argv), argv)
    assert pruned.exit_code == whole.exit_code == 0
    assert pruned.stdout == whole.stdout


@pytest.mark.parametrize(
    "argv",
    [[], ["--help"], ["verify"], ["verify", "--help"], ["scna", "x"], ["verify", "datset", "x"]],
)
def test_other_command_lines_get_the_whole_app(argv: list[str]) -> None:
    whole = CliRunner().invoke(app, argv)
    pruned = CliRunner().invoke(_pruned(app, argv), argv)
    assert (pruned.exit_code, pruned.stdout, pruned.stderr) == (
        whole.exit_code,
        whole.stdout,
        whole.stderr,
    )
    if argv[:1] != ["verify"] or len(argv) < 2 or argv[1].startswith("-"):
        assert _pruned(app, argv) is app


def test_a_usage_error_in_a_pruned_command_is_the_same(
    capsys: pytest.CaptureFixture[str],
) -> None:
    whole = cli("scan", "--format", "nope", "x")
    pruned = cli_main(capsys, "scan", "--format", "nope", "x")
    assert pruned.code == whole.code == 2
    assert "Invalid value for '-f' / '--format'" in pruned.stderr

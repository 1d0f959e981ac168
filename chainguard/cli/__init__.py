"""Command line: parse options → call api → render → exit code. Nothing else lives here.

One module per group of commands (build.py, verify.py); shared options in _options.py, report
output in _output.py. A new command is a function in one of them (or a new module imported
below).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, NoReturn

import typer

# Importing the command modules registers their commands on the app.
from chainguard.cli import attest, build, diff, fleet, process, scan, verify  # noqa: F401
from chainguard.cli._app import app, one_line
from chainguard.errors import ChainguardError, ExitCode, UsageError

if TYPE_CHECKING:
    from chainguard.collectors.scanwalk import EarlyScan
    from chainguard.observe import EarlyStart


# -------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None, early: EarlyStart | EarlyScan | None = None) -> NoReturn:
    """Entry point: run the app and map every error to one line and a documented exit code.

    ``early``: work started before the CLI was imported (chainguard/_launch.py), handed to the
    commands as the click context's object."""
    import importlib

    # typer >= 0.2x vendors click (typer._click) and raises its own copies of click's
    # exceptions; the module that defines typer.BadParameter is the one it raises from.
    click_exceptions = importlib.import_module(typer.BadParameter.__module__)
    args = sys.argv[1:] if argv is None else argv
    command = typer.main.get_command(_pruned(app, args))
    try:
        rc = command.main(args, prog_name="chainguard", standalone_mode=False, obj=early)
        code = int(rc) if isinstance(rc, int) else 0
    except typer.Exit as e:
        code = e.exit_code
    except click_exceptions.ClickException as e:
        e.show()
        code = int(ExitCode.USAGE)
    except typer.Abort:
        sys.stderr.write("chainguard: aborted\n")
        code = 130
    except ChainguardError as e:
        sys.stderr.write(f"chainguard: error: {one_line(str(e))}\n")
        code = int(e.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("chainguard: interrupted\n")
        code = 130
    except Exception as e:  # never a traceback for users; CHAINGUARD_DEBUG shows it
        if os.environ.get("CHAINGUARD_DEBUG"):
            raise
        sys.stderr.write(
            f"chainguard: internal error: {type(e).__name__}: {one_line(str(e))} "
            "(set CHAINGUARD_DEBUG=1 for a traceback)\n"
        )
        code = int(ExitCode.CANNOT_VERIFY)
    sys.exit(code)


def _pruned(group: typer.Typer, args: list[str]) -> typer.Typer:
    """``group`` with only the command ``args`` run (and the groups on the way to it).

    typer turns every command's signature into options before it runs one, a third of the
    start-up of a 15-command app; the one run needs only its own. Any other command line (no
    command, an option first, help of a group, a name no command has) gets the whole app, so
    what it prints is typer's own. Shell completion reads the environment: the whole app."""
    import copy

    if not args or args[0].startswith("-") or os.environ.get("_CHAINGUARD_COMPLETE"):
        return group
    name = args[0]
    for info in group.registered_commands:
        own = info.name or typer.main.get_command_name(info.callback.__name__)  # type: ignore[union-attr]
        if own == name:
            pruned = copy.copy(group)
            pruned.registered_commands, pruned.registered_groups = [info], []
            return pruned
    for sub in group.registered_groups:
        if sub.name == name and sub.typer_instance is not None:
            if len(args) < 2 or args[1].startswith("-"):
                return group  # the group's own help lists every command
            narrowed = copy.copy(sub)
            narrowed.typer_instance = _pruned(sub.typer_instance, args[1:])
            pruned = copy.copy(group)
            pruned.registered_commands, pruned.registered_groups = [], [narrowed]
            return pruned
    return group


__all__ = ["UsageError", "app", "main"]

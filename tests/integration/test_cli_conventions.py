"""Conventions users already know, on every command: -o/-f for a report's output and format,
cosign's identity flag spellings, and shell completion."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from support.cli import chainguard_script, run_process

from chainguard.cli import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(path), command
        return
    for name, sub in subcommands.items():
        yield from _commands(sub, (*path, name))


def _options(command: Any) -> dict[str, set[str]]:
    """Each option's long name → every spelling of it."""
    spellings: dict[str, set[str]] = {}
    for param in command.params:
        names = {*param.opts, *param.secondary_opts}
        for name in names:
            spellings[name] = names
    return spellings


COMMANDS = dict(_commands(typer.main.get_command(app)))


def _writes_a_report(command: Any) -> bool:
    """--output, and a --format that offers json (sign's --format picks a signature format)."""
    formats = [p for p in command.params if "--format" in p.opts]
    choices = getattr(formats[0].type, "choices", ()) if formats else ()
    return "json" in choices and any("--output" in p.opts for p in command.params)


def test_every_report_writing_command_has_o_and_f() -> None:
    checked = []
    for name, command in COMMANDS.items():
        options = _options(command)
        if _writes_a_report(command):
            assert "-o" in options["--output"], name
            assert "-f" in options["--format"], name
            checked.append(name)
    assert {"verify model", "verify deployment", "verify deps", "diff"} <= set(checked)


def test_every_identity_taking_command_has_the_cosign_spellings() -> None:
    checked = []
    for name, command in COMMANDS.items():
        options = _options(command)
        if "--identity" in options:
            assert "--certificate-identity" in options["--identity"], name
            assert "--certificate-oidc-issuer" in options["--issuer"], name
            assert "--certificate-identity-regexp" in options, name
            checked.append(name)
    assert {"verify model", "verify deployment", "verify blob", "diff"} <= set(checked)


def test_shell_completion_is_offered_and_completes(tmp_path: Path) -> None:
    script = chainguard_script()
    shown = run_process([script, "--show-completion", "bash"], cwd=tmp_path)
    assert shown.code == 0 and "_CHAINGUARD_COMPLETE" in shown.stdout
    env = {
        "_CHAINGUARD_COMPLETE": "complete_bash",
        "COMP_WORDS": "chainguard verify deployment --certificate-i",
        "COMP_CWORD": "3",
        "HOME": os.environ.get("HOME", str(tmp_path)),
    }
    completed = run_process([script], cwd=tmp_path, env=env)
    assert completed.stdout.split() == ["--certificate-identity", "--certificate-identity-regexp"]

"""The one CLI runner: the typer app in-process (CliRunner), ``chainguard.cli.main`` (which maps
errors to exit codes and one-line messages), or a real process. Every mode returns an Outcome;
a JSON report on stdout is read through ``Outcome.report``, validated against the current
report schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
from typer.testing import CliRunner

from support import REPORT_SCHEMA

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


class Outcome(NamedTuple):
    """What a user sees: the exit code and both streams (unpacks as ``code, out, err``)."""

    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        """The JSON report on stdout, validated against docs/report-schema.v2.json."""
        return report(self)

    @property
    def rules(self) -> list[tuple[str, str]]:
        """(rule, path) of every finding, sorted."""
        return rules(self.report)

    @property
    def rule_names(self) -> set[str]:
        return {f["rule"] for f in self.report["findings"]}

    def finding(self, rule: str, path: str) -> dict[str, Any]:
        """The one finding with this rule and path (fails if there is not exactly one)."""
        found = [f for f in self.report["findings"] if f["rule"] == rule and f["path"] == path]
        assert len(found) == 1, (rule, path, self.report["findings"])
        return found[0]

    def severity(self, rule: str) -> str:
        """The severity of the one finding with this rule."""
        (found,) = [f for f in self.report["findings"] if f["rule"] == rule]
        return str(found["severity"])


def cli(*args: str | Path, env: dict[str, str] | None = None) -> Outcome:
    """Run the typer app in-process, as typer's CliRunner does."""
    from chainguard.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    # A ChainguardError must already be mapped to an exit code; anything else escaping the
    # app is a bug (SystemExit is how click reports the code, not an error).
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


def cli_main(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Outcome:
    """Run ``chainguard.cli.main``, the console script's entry point, in-process."""
    from chainguard.cli import main

    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return Outcome(int(exc.value.code or 0), out.out, out.err)


def chainguard_script() -> Path:
    """The installed console script of the interpreter running the tests."""
    return Path(sys.executable).parent / "chainguard"


def run_process(argv: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> Outcome:
    """Run a real process (the console script, python -m chainguard, or another tool)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("GITHUB_STEP_SUMMARY", None)
    proc = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


@cache
def _report_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(REPORT_SCHEMA.read_text()))


def report(outcome: Outcome) -> dict[str, Any]:
    """The JSON report on stdout, validated against the published schema."""
    doc: dict[str, Any] = json.loads(outcome.stdout)
    _report_validator().validate(doc)
    return doc


def verdict(outcome: Outcome) -> Outcome:
    """A verify run with a JSON report: exit 0 or 1, a valid report, ``ok`` as the exit code."""
    assert outcome.code in (0, 1), (outcome.code, outcome.stderr)
    assert report(outcome)["ok"] is (outcome.code == 0)
    return outcome


def rules(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((f["rule"], f["path"]) for f in doc["findings"])


def ok(outcome: Outcome) -> Outcome:
    assert outcome.code == 0, (outcome.code, outcome.stdout, outcome.stderr)
    return outcome


def assert_one_line_error(outcome: Outcome, code: int, *needles: str) -> str:
    """Exit ``code``, exactly one line on stderr, no traceback, each needle in that line."""
    assert outcome.code == code, (outcome.code, outcome.stdout, outcome.stderr)
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, outcome.stderr
    line = lines[0]
    assert line.startswith("chainguard: error: "), line
    assert "Traceback" not in outcome.stderr
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def assert_usage_error(outcome: Outcome, *needles: str) -> None:
    """Exit 2 with click's usage message (which names the problem), never a traceback."""
    assert outcome.code == 2, (outcome.code, outcome.stdout, outcome.stderr)
    assert "Traceback" not in outcome.stderr
    assert "internal error" not in outcome.stderr
    for needle in needles:
        assert needle in outcome.stderr, (needle, outcome.stderr)

"""Helpers for the CLI tests: build real releases with the real CLI, run it, read its output.

Imported by name (the tests directories have no __init__.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from chainguard.cli import app

REPO_ROOT = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = REPO_ROOT / "docs" / "report-schema.v2.json"
DEPLOYMENT = "svc"  # the deployment build() and make_release() build


@dataclass(frozen=True)
class Outcome:
    """What a user sees: the exit code and both streams."""

    code: int
    stdout: str
    stderr: str


def cli(*args: str | Path, env: dict[str, str] | None = None) -> Outcome:
    """Run the typer app in-process, as typer's CliRunner does."""
    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    # A ChainguardError must already be mapped to an exit code; anything else escaping the
    # app is a bug (SystemExit is how click reports the code, not an error).
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


def build(sbom: Path, model: Path, *extra: str | Path) -> Outcome:
    """``chainguard sbom build`` for deployment svc@1.0."""
    return cli("sbom", "build", "--name", "svc", "--version", "1.0", "--model", model, "-o", sbom,
               *extra)  # fmt: skip


def verify(directory: Path, *extra: str | Path) -> Outcome:
    """``chainguard verify model DIRECTORY ...``."""
    return cli("verify", "model", directory, *extra)


def chainguard_script() -> Path:
    """The installed console script of the interpreter running the tests."""
    return Path(sys.executable).parent / "chainguard"


def run_process(argv: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> Outcome:
    """Run a real process (python -m chainguard or the console script)."""
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


def write_model(directory: Path, *, seed: int = 0) -> Path:
    """A small real model: a safetensors file with __metadata__, config and tokenizer JSON."""
    import numpy as np
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    save_file(
        {
            "embed.weight": rng.standard_normal((32, 16), dtype=np.float32),
            "head.bias": np.zeros(16, dtype=np.float16),
        },
        str(directory / "model.safetensors"),
        metadata={"format": "np", "seed": str(seed)},
    )
    (directory / "config.json").write_text(json.dumps({"hidden": 16, "seed": seed}) + "\n")
    (directory / "tokenizer.json").write_text(json.dumps({"vocab": ["a", "b"]}) + "\n")
    return directory


@dataclass(frozen=True)
class Release:
    """A model directory with its SBOM, signature and key pair, all made by the CLI."""

    model: Path
    sbom: Path
    sig: Path
    key: Path
    pub: Path

    def verify(self, *extra: str | Path, directory: Path | None = None) -> Outcome:
        """``verify model`` with the deployment pinned (``--deployment svc``, the one
        make_release builds), as a well-configured operator runs it, unless ``extra`` pins
        one."""
        options = [str(e) for e in extra]
        if not any(o == "--deployment" or o.startswith("--deployment=") for o in options):
            options += ["--deployment", DEPLOYMENT]
        return cli(
            "verify",
            "model",
            directory or self.model,
            "--sbom",
            self.sbom,
            "--key",
            self.pub,
            *options,
        )


def make_release(root: Path, *, name: str = "weights", prefix: str = "release") -> Release:
    """keygen, sbom build and sign through the CLI, asserting each step succeeds."""
    model = write_model(root / name)
    key_prefix = root / prefix
    ok(cli("keygen", key_prefix))
    sbom = root / "deploy.cdx.json"
    ok(cli("sbom", "build", "--name", DEPLOYMENT, "--version", "1.0", "--model", model, "-o", sbom))
    ok(cli("sign", sbom, "--key", key_prefix.with_suffix(".key")))
    return Release(
        model,
        sbom,
        Path(f"{sbom}.sig"),
        key_prefix.with_suffix(".key"),
        key_prefix.with_suffix(".pub"),
    )


def ok(outcome: Outcome) -> Outcome:
    assert outcome.code == 0, (outcome.code, outcome.stdout, outcome.stderr)
    return outcome


def report(outcome: Outcome) -> dict[str, Any]:
    """The JSON report on stdout, validated against the published schema."""
    from jsonschema import Draft202012Validator

    doc: dict[str, Any] = json.loads(outcome.stdout)
    Draft202012Validator(json.loads(REPORT_SCHEMA.read_text())).validate(doc)
    return doc


def rules(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((f["rule"], f["path"]) for f in doc["findings"])

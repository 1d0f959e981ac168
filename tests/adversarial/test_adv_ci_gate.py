"""Attack: the CI gate trusts what the change under review says.

action.yml once ran `set -- $CHAINGUARD_ARGS`: word splitting *and globbing*, so files named
`--a.tmp` and `--key=.k.tmp` in the checked-out branch turned `--ignore *.tmp` into an extra
trusted key. And it took its trust anchors from chainguard.toml in that same branch. These tests
run the action's real shell (extracted from action.yml) with bash, against a stand-in chainguard
that records its argv, in a directory holding such files.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

REPO_ROOT = Path(__file__).resolve().parents[2]
ACTION = REPO_ROOT / "action.yml"
GATE_WORKFLOW = REPO_ROOT / "manifests" / "github-actions" / "pre-deploy-gate.yml"
_INPUT = re.compile(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}")
ANCHOR_FLAGS = ("--key", "--identity", "--certificate-chain", "--trusted-root", "--staging")

PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEtest+key+material+only+for+this+test+AAAAAAAAAAAAAAAA\n"
    "-----END PUBLIC KEY-----"
)


def action() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(ACTION.read_text("utf-8"))
    return doc


def verify_step() -> dict[str, Any]:
    (step,) = [s for s in action()["runs"]["steps"] if s.get("name") == "verify"]
    return step


def run_action(
    tmp_path: Path, inputs: dict[str, str], *, files: tuple[str, ...] = ("--a.tmp", "--key=.k.tmp")
) -> tuple[int, list[str], str]:
    """Run the verify step as the runner does (bash -eo pipefail, inputs through env) in a
    workspace holding ``files``; the argv the stand-in chainguard received, and stdout."""
    workspace = tmp_path / "workspace"
    workspace.mkdir(parents=True)
    for name in files:
        (workspace / name).write_text("planted by the change under review\n")
    runner_temp = tmp_path / "runner-temp"
    fake = runner_temp / "chainguard-venv" / "bin" / "chainguard"
    fake.parent.mkdir(parents=True)
    recorded = tmp_path / "argv"
    fake.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" > {shlex.quote(str(recorded))}\n")
    fake.chmod(0o755)

    defaults = {name: spec.get("default", "") for name, spec in action()["inputs"].items()}
    unknown = set(inputs) - set(defaults)
    assert not unknown, unknown
    values = {**defaults, **inputs}
    step = verify_step()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAINGUARD_", "GITHUB_"))}
    for name, expression in step["env"].items():
        env[name] = _INPUT.sub(lambda m: values[m[1]], str(expression))
    env["RUNNER_TEMP"] = str(runner_temp)
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    argv = recorded.read_bytes().split(b"\0")[:-1] if recorded.exists() else []
    return proc.returncode, [os.fsdecode(a) for a in argv], proc.stdout + proc.stderr


def test_globs_in_the_command_reach_chainguard_literally(tmp_path: Path) -> None:
    code, argv, output = run_action(
        tmp_path, {"command": "verify model ./weights --ignore *.tmp --ignore '*.bak' -v"}
    )
    assert code == 0, output
    assert argv == [
        "verify", "model", "./weights", "--ignore", "*.tmp", "--ignore", "*.bak", "-v",
        "--format", "sarif", "--output", "chainguard.sarif",
    ]  # fmt: skip
    assert not any(a.startswith("--key") for a in argv)


def test_quotes_group_and_nothing_is_expanded(tmp_path: Path) -> None:
    command = (
        "verify model 'my weights' --ignore \"a b/*\" --ignore $HOME --ignore `id` "
        "--ignore $(id) --ignore ~ --ignore '#x' --ignore {a,b} --ignore a\\ b"
    )
    code, argv, output = run_action(tmp_path, {"command": command, "sarif": ""})
    assert code == 0, output
    assert argv == [
        "verify", "model", "my weights", "--ignore", "a b/*", "--ignore", "$HOME",
        "--ignore", "`id`", "--ignore", "$(id)", "--ignore", "~", "--ignore", "#x",
        "--ignore", "{a,b}", "--ignore", "a b",
    ]  # fmt: skip


def test_an_unbalanced_quote_is_a_one_line_usage_error(tmp_path: Path) -> None:
    code, argv, output = run_action(tmp_path, {"command": "verify model 'weights"})
    assert code == 2 and argv == []
    (line,) = [line for line in output.splitlines() if line.strip()]
    assert line.startswith("::error") and "cannot split the command input" in line


def test_trust_inputs_become_flags(tmp_path: Path) -> None:
    code, argv, output = run_action(
        tmp_path,
        {
            "command": "verify deployment --config chainguard.toml",
            "key": "keys/release.pub\n  keys/second.pub  \n",
            "identity": "https://github.com/acme/m/.github/workflows/r.yml@refs/heads/main\n"
            "-starts-with-a-dash@example.com\n",
            "issuer": "https://token.actions.githubusercontent.com",
            "deployment": "sentiment-api",
            "min-serial": "42",
            "sarif": "",
        },
    )
    assert code == 0, output
    assert argv == [
        "verify", "deployment", "--config", "chainguard.toml",
        "--key=keys/release.pub", "--key=keys/second.pub",
        "--identity=https://github.com/acme/m/.github/workflows/r.yml@refs/heads/main",
        "--identity=-starts-with-a-dash@example.com",
        "--issuer=https://token.actions.githubusercontent.com",
        "--deployment=sentiment-api", "--min-serial=42",
    ]  # fmt: skip
    assert "::notice" not in output


def test_pem_key_content_is_written_to_runner_temp(tmp_path: Path) -> None:
    second = PEM.replace("test+key", "another+k")
    code, argv, output = run_action(
        tmp_path, {"command": "verify model w", "key": f"{PEM}\n{second}\n", "sarif": ""}
    )
    assert code == 0, output
    trust = tmp_path / "runner-temp" / "chainguard-trust"
    assert argv == ["verify", "model", "w", f"--key={trust / 'key-1.pub'}",
                    f"--key={trust / 'key-2.pub'}"]  # fmt: skip
    assert (trust / "key-1.pub").read_text() == PEM + "\n"
    assert (trust / "key-2.pub").read_text() == second + "\n"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "private key"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n", "no complete PEM block"),
    ],
)
def test_a_bad_key_input_is_refused(tmp_path: Path, key: str, message: str) -> None:
    code, argv, output = run_action(tmp_path, {"command": "verify model w", "key": key})
    assert code == 2 and argv == []
    assert message in output


def test_without_an_anchor_the_run_says_where_trust_comes_from(tmp_path: Path) -> None:
    code, argv, output = run_action(tmp_path, {"command": "verify deployment"})
    assert code == 0
    assert argv[:2] == ["verify", "deployment"]
    assert "::notice title=chainguard trust::" in output
    code, _, output = run_action(tmp_path / "b", {"command": "verify model w --key k.pub"})
    assert "::notice" not in output


def test_no_expression_is_pasted_into_a_shell_script() -> None:
    """${{ }} in a run: block is script injection; inputs reach the shell only through env."""
    for step in action()["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]


def test_the_gate_workflow_pins_trust_itself() -> None:
    """The manifest's gate takes its trust anchor from the workflow (repository variables),
    on the command line, not from chainguard.toml in the branch it checks."""
    workflow = yaml.safe_load(GATE_WORKFLOW.read_text("utf-8"))
    on = workflow.get(True, workflow.get("on"))  # YAML 1.1 reads a bare `on` as True
    assert "pull_request" not in on and "pull_request_target" not in on
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    gates = [s for s in steps if "chainguard verify" in s.get("run", "")]
    gates += [s for s in steps if "chainguard" in s.get("uses", "") and "verify" in str(s)]
    assert gates
    for step in gates:
        run = step.get("run", "")
        with_ = step.get("with", {})
        anchored = any(f"{flag} " in run or f"{flag}=" in run for flag in ANCHOR_FLAGS)
        assert anchored or with_.get("key") or with_.get("identity"), step
        assert "--deployment" in run or with_.get("deployment"), step
        assert "--min-serial" in run or with_.get("min-serial"), step
        for value in step.get("env", {}).values():  # anchors from settings, not files
            assert "${{ vars." in value or "${{ secrets." in value, value
    cached = [s for s in steps if s.get("uses", "").startswith("actions/cache@")]
    assert cached and "chainguard-state" in cached[0]["with"]["path"]

"""Attack and failure: the CI gate's report is missing, stale or says nothing.

A gate whose SARIF upload fails on a missing file hides why it failed; one that uploads the
previous run's report on this runner shows a pass that never happened. These tests run the
action's real step scripts (from action.yml and sign/action.yml) with bash, as the runner does,
against a stand-in chainguard or the real one.
"""

from __future__ import annotations

import json
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
SIGN_ACTION = REPO_ROOT / "sign" / "action.yml"
SELFTEST = REPO_ROOT / ".github" / "workflows" / "action.yml"
CHAINGUARD = REPO_ROOT / ".venv" / "bin" / "chainguard"
_INPUT = re.compile(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}")
_PINNED = re.compile(r"^github/codeql-action/upload-sarif@[0-9a-f]{40}$")


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return doc


def _step(path: Path, name: str) -> dict[str, Any]:
    (step,) = [s for s in _load(path)["runs"]["steps"] if s.get("name") == name]
    return step


class Runner:
    """A workspace and RUNNER_TEMP; runs an action's steps one after another as the runner
    does (bash -eo pipefail, inputs through env), each step's exit code returned."""

    def __init__(self, tmp_path: Path, action: Path, inputs: dict[str, str]) -> None:
        self.action = action
        self.workspace = tmp_path / "workspace"
        self.workspace.mkdir()
        self.temp = tmp_path / "runner-temp"
        self.bin = self.temp / "chainguard-venv" / "bin"
        self.bin.mkdir(parents=True)
        self.summary = tmp_path / "step-summary.md"
        self.outputs = tmp_path / "github-output"
        self.argv = tmp_path / "argv"
        self.tmp_path = tmp_path
        defaults = {n: str(s.get("default", "")) for n, s in _load(action)["inputs"].items()}
        assert not set(inputs) - set(defaults), set(inputs) - set(defaults)
        self.values = {**defaults, **inputs}
        self.path = os.environ["PATH"]

    def stand_in(self, exit_code: int = 0, stdout: str = "") -> None:
        fake = self.bin / "chainguard"
        fake.write_text(
            f"#!/bin/sh\nprintf '%s\\0' \"$@\" > {shlex.quote(str(self.argv))}\n"
            f"printf '%s' {shlex.quote(stdout)}\nexit {exit_code}\n"
        )
        fake.chmod(0o755)

    def real_chainguard(self) -> None:
        if not CHAINGUARD.exists():
            pytest.skip("no chainguard in the project venv")
        (self.bin / "chainguard").symlink_to(CHAINGUARD)

    def run(self, name: str, extra_env: dict[str, str] | None = None) -> tuple[int, str]:
        step = _step(self.action, name)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAINGUARD_", "GITHUB_"))}
        env.pop("ACTIONS_ID_TOKEN_REQUEST_URL", None)
        for variable, expression in step.get("env", {}).items():
            env[variable] = _INPUT.sub(lambda m: self.values[m[1]], str(expression))
        env.update(
            RUNNER_TEMP=str(self.temp),
            GITHUB_STEP_SUMMARY=str(self.summary),
            GITHUB_OUTPUT=str(self.outputs),
            PATH=self.path,
            **(extra_env or {}),
        )
        script = self.tmp_path / "step.sh"
        script.write_text(step["run"])
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return proc.returncode, proc.stdout + proc.stderr

    def gate(self) -> tuple[int, str]:
        """verify, then report (`if: always()`): verify's exit code and all output."""
        code, output = self.run("verify")
        report_code, report_output = self.run("report")
        assert report_code == 0, report_output
        return code, output + report_output

    def sarif_run(self) -> dict[str, Any]:
        run: dict[str, Any] = json.loads((self.workspace / "chainguard.sarif").read_text())["runs"][
            0
        ]
        return run


def _could_not_verify(run: dict[str, Any]) -> str:
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert run["results"] == [] and run["properties"]["ok"] is False
    text: str = invocation["toolExecutionNotifications"][0]["message"]["text"]
    assert text.startswith("could not verify")
    return text


def test_exit_3_leaves_a_sarif_and_a_summary_saying_so(tmp_path: Path) -> None:
    key = str(REPO_ROOT / "fixtures" / "keys" / "release.pub")
    command = "verify model weights --sbom missing.cdx.json"
    gate = Runner(tmp_path, ACTION, {"command": command, "key": key})
    (gate.workspace / "weights").mkdir()
    (gate.workspace / "weights" / "a.bin").write_bytes(b"a")
    gate.real_chainguard()
    code, output = gate.gate()
    assert code == 3, output
    assert "missing.cdx.json" in _could_not_verify(gate.sarif_run())
    assert "could not verify" in gate.summary.read_text("utf-8")


@pytest.mark.parametrize(
    ("inputs", "chainguard", "code"),
    [
        ({"command": "verify model 'weights"}, "stand-in", 2),  # the inputs were refused
        ({"command": "verify model w --no-such-option"}, "usage error", 2),  # click's own
        ({"command": "verify model w"}, "not installed", 127),
    ],
)
def test_a_run_that_never_reached_a_report_still_leaves_one(
    tmp_path: Path, inputs: dict[str, str], chainguard: str, code: int
) -> None:
    gate = Runner(tmp_path, ACTION, inputs)
    if chainguard == "stand-in":
        gate.stand_in()
    elif chainguard == "usage error":
        gate.real_chainguard()
    got, output = gate.gate()
    assert got == code, output
    _could_not_verify(gate.sarif_run())
    assert "could not verify" in gate.summary.read_text("utf-8")


def test_a_report_chainguard_wrote_is_kept(tmp_path: Path) -> None:
    gate = Runner(tmp_path, ACTION, {"command": "verify model w"})
    gate.stand_in(exit_code=1)
    (gate.workspace / "chainguard.sarif").write_text('{"written": "by chainguard"}')
    code, _ = gate.gate()
    assert code == 1
    assert json.loads((gate.workspace / "chainguard.sarif").read_text()) == {
        "written": "by chainguard"
    }


def test_a_stale_report_is_removed_before_anything_can_fail(tmp_path: Path) -> None:
    """The previous run's passing report on a self-hosted runner, then an install that fails:
    what is uploaded says this run could not verify, not that the previous one passed."""
    gate = Runner(tmp_path, ACTION, {})
    stale = gate.workspace / "chainguard.sarif"
    stale.write_text(json.dumps({"runs": [{"invocations": [{"executionSuccessful": True}]}]}))
    broken = tmp_path / "broken-bin"
    broken.mkdir()
    (broken / "python3").write_text("#!/bin/sh\necho 'no python here' >&2\nexit 1\n")
    (broken / "python3").chmod(0o755)
    gate.path = f"{broken}:{os.environ['PATH']}"
    code, _ = gate.run("install chainguard")
    assert code != 0 and not stale.exists()
    gate.path = os.environ["PATH"]
    assert gate.run("report")[0] == 0
    _could_not_verify(gate.sarif_run())


def test_no_sarif_input_writes_and_uploads_nothing(tmp_path: Path) -> None:
    gate = Runner(tmp_path, ACTION, {"command": "verify model w", "sarif": ""})
    gate.stand_in(exit_code=3)
    code, _ = gate.gate()
    assert code == 3 and list(gate.workspace.iterdir()) == []
    assert "inputs.sarif != ''" in _step(ACTION, "upload SARIF")["if"]


def test_the_upload_is_pinned_always_runs_and_defaults_on() -> None:
    action = _load(ACTION)
    assert action["inputs"]["upload-sarif"]["default"] == "true"
    upload = _step(ACTION, "upload SARIF")
    assert _PINNED.match(upload["uses"]), upload["uses"]
    line = next(line for line in ACTION.read_text("utf-8").splitlines() if upload["uses"] in line)
    assert re.search(r"#\s*v\d+\.\d+\.\d+", line), line  # the version the SHA is
    assert upload["if"].startswith("always() && inputs.upload-sarif == 'true'")
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif }}"
    assert _step(ACTION, "report")["if"] == "always()"
    steps = [s["name"] for s in action["runs"]["steps"]]
    assert steps.index("report") < steps.index("upload SARIF")


def test_the_selftest_workflow_runs_a_passing_and_a_tampered_release() -> None:
    workflow = _load(SELFTEST)
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    gates = {s["name"]: s for s in steps if s.get("uses") == "./"}
    assert "continue-on-error" not in gates["passing release"]
    assert gates["tampered release"]["continue-on-error"] is True
    for step in gates.values():
        assert step["with"]["key"] and step["with"]["upload-sarif"] == "false"
    check = steps[-1]["run"]
    assert 'test "$TAMPERED" = failure' in check and "artifact-modified" in check


def test_keyless_signing_needs_the_oidc_permission(tmp_path: Path) -> None:
    signer = Runner(tmp_path, SIGN_ACTION, {"sbom": "deploy.cdx.json"})
    signer.stand_in()
    code, output = signer.run("sign")
    assert code == 2 and "id-token: write" in output
    assert not signer.argv.exists()


def test_keyless_signing_passes_the_sbom_as_a_file_name(tmp_path: Path) -> None:
    signer = Runner(tmp_path, SIGN_ACTION, {"sbom": "--key=x.cdx.json", "staging": "true"})
    signer.stand_in(stdout="wrote --key=x.cdx.json.sigstore.json\n")
    code, output = signer.run("sign", {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/"})
    assert code == 0, output
    argv = signer.argv.read_bytes().split(b"\0")[:-1]
    assert argv == [b"sign", b"--sigstore", b"--staging", b"--", b"--key=x.cdx.json"]
    assert signer.outputs.read_text() == "bundle=--key=x.cdx.json.sigstore.json\n"
    doc = _load(SIGN_ACTION)
    for step in doc["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]
    assert "id-token: write" in SIGN_ACTION.read_text("utf-8")

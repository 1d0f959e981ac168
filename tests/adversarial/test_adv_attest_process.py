"""``chainguard attest`` checking the live servers too (``[attest] processes``, ``--process``):
a server that loaded unsigned weights before the signed ones were put back on disk passes the
disk check and must still make the attestation FAILED.

Real processes: a Python process memory-maps the model file (the mmap module) and waits on its
stdin; its PID goes into a PID file as a service manager would write it. Every process is
killed when its test ends.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.cli import Outcome, assert_one_line_error, cli, verdict
from support.release import MODEL_FILES, Release, make_release, write_model
from support.serving import serve

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc (Linux only)"
)


@pytest.fixture
def release(tmp_path: Path) -> Release:
    return make_release(tmp_path / "release", models={"weights": MODEL_FILES})


def config(tmp_path: Path, release: Release, processes: str = "") -> Path:
    path = tmp_path / "chainguard.toml"
    path.write_text(
        f'sbom = "{release.sbom}"\ndeployment = "svc"\n[trust]\nkeys = ["{release.pub}"]\n'
        f'[models]\nweights = "{release.model}"\n'
        + (f"[attest]\nprocesses = [{processes}]\n" if processes else "")
    )
    return path


def attest(tmp_path: Path, cfg: Path, *extra: str | Path) -> Outcome:
    state = tmp_path / "state"
    return cli(
        "attest",
        "--config",
        cfg,
        "--state",
        state,
        "--normal-priority",
        "--format",
        "json",
        "--attestation",
        tmp_path / "attestation.json",
        *extra,
    )


def attested(tmp_path: Path) -> dict[str, Any]:
    """The signed VSA's predicate (the signature itself is test_adv_attest's business)."""
    import base64

    bundle = json.loads((tmp_path / "attestation.json").read_bytes())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    predicate: dict[str, Any] = statement["predicate"]
    return predicate


def rules(outcome: Outcome) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for f in verdict(outcome).report["findings"]:
        found.setdefault(f["rule"], []).append(f)
    return found


def test_pid_file_of_a_server_running_the_signed_weights_passes(
    tmp_path: Path, release: Release, processes: list[subprocess.Popen[str]]
) -> None:
    proc = serve(processes, release.model / "model.safetensors")
    pid_file = tmp_path / "server.pid"
    pid_file.write_text(f"{proc.pid}\n")
    outcome = attest(tmp_path, config(tmp_path, release, '"server.pid"'))
    assert outcome.code == 0, outcome.stdout
    (note,) = rules(outcome)["process-verified"]
    assert f"process {proc.pid} runs the signed weights" in note["message"]
    assert attested(tmp_path)["verificationResult"] == "PASSED"


def test_server_running_replaced_weights_fails_the_attestation(
    tmp_path: Path, release: Release, processes: list[subprocess.Popen[str]]
) -> None:
    model = release.model / "model.safetensors"
    signed = model.read_bytes()
    unsigned = write_model(tmp_path / "unsigned", seed=1) / "model.safetensors"
    unsigned_sha = hashlib.sha256(unsigned.read_bytes()).hexdigest()
    os.replace(unsigned, model)  # the server loads unsigned weights...
    proc = serve(processes, model)
    staged = tmp_path / "staged"
    staged.write_bytes(signed)
    os.replace(staged, model)  # ...and the signed ones are back on disk
    pid_file = tmp_path / "server.pid"
    pid_file.write_text(str(proc.pid))
    # the command line wins over [attest] processes (which names a server that is not there)
    cfg = config(tmp_path, release, '"systemd:nothing-here.service"')
    outcome = attest(tmp_path, cfg, "--process", pid_file)
    assert outcome.code == 1
    found = rules(outcome)
    assert set(found) - {"drift"} == {"loaded-artifact-replaced"}  # drift: the run's note
    (replaced,) = found["loaded-artifact-replaced"]
    assert replaced["actual"] == f"sha256:{unsigned_sha}"
    assert attested(tmp_path)["verificationResult"] == "FAILED"


def test_pid_file_naming_a_dead_process_fails_with_a_finding(
    tmp_path: Path, release: Release
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait(timeout=30)
    pid_file = tmp_path / "server.pid"
    pid_file.write_text(f"{dead.pid}\n")
    missing = tmp_path / "never-written.pid"
    outcome = attest(
        tmp_path, config(tmp_path, release), "--process", pid_file, "--process", missing
    )
    assert outcome.code == 1
    exited = {f["path"]: f for f in rules(outcome)["process-exited"]}
    assert set(exited) == {str(pid_file), str(missing)}
    assert f"process {dead.pid} does not exist" in exited[str(pid_file)]["message"]
    assert exited[str(pid_file)]["actual"] == "not running"
    assert attested(tmp_path)["verificationResult"] == "FAILED"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "expected one decimal process id"),
        (b"12 34\n", "expected one decimal process id"),
        (b"0\n", "expected one decimal process id"),
        (b"-1\n", "expected one decimal process id"),
        (b"1\n\n", "expected one decimal process id"),
        (b"\xff\xfe\n", "expected one decimal process id"),
        (b"1" * 100, "more than 64 bytes"),
    ],
)
def test_malformed_pid_file_is_one_line(
    tmp_path: Path, release: Release, content: bytes, needle: str
) -> None:
    pid_file = tmp_path / "server.pid"
    pid_file.write_bytes(content)
    outcome = attest(tmp_path, config(tmp_path, release, '"server.pid"'))
    assert_one_line_error(outcome, 3, str(pid_file), needle)


def test_pid_file_that_is_a_directory_or_fifo_is_one_line(tmp_path: Path, release: Release) -> None:
    (tmp_path / "dir.pid").mkdir()
    os.mkfifo(tmp_path / "fifo.pid")
    for name in ("dir.pid", "fifo.pid"):
        outcome = attest(tmp_path, config(tmp_path, release), "--process", tmp_path / name)
        assert_one_line_error(outcome, 3, "not a PID file")


def test_bad_specs_are_usage_or_config_errors(tmp_path: Path, release: Release) -> None:
    outcome = attest(tmp_path, config(tmp_path, release), "--process", "systemd:-x")
    assert_one_line_error(outcome, 2, "not a systemd unit name")
    outcome = attest(tmp_path, config(tmp_path, release, '"systemd:"'))
    assert_one_line_error(outcome, 3, "attest.processes", "not a systemd unit name")
    outcome = attest(tmp_path, config(tmp_path, release, "12"))
    assert_one_line_error(outcome, 3, "attest.processes", "list of strings")


def _systemd_running() -> str | None:
    """Why systemd cannot be asked here, or None."""
    if shutil.which("systemctl") is None:
        return "no systemctl on this host"
    if not Path("/run/systemd/system").is_dir():
        return "systemd is not the running init (no /run/systemd/system; e.g. a container)"
    return None


@pytest.mark.skipif(_systemd_running() is not None, reason=str(_systemd_running()))
def test_systemd_unit_that_is_not_running_fails_with_a_finding(
    tmp_path: Path, release: Release
) -> None:
    spec = "systemd:chainguard-test-no-such-unit.service"
    outcome = attest(tmp_path, config(tmp_path, release), "--process", spec)
    assert outcome.code == 1
    (exited,) = rules(outcome)["process-exited"]
    assert exited["path"] == spec
    assert "has no running main process" in exited["message"]

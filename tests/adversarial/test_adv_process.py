"""A host whose files are all signed while the serving process runs something else: weights
replaced on disk after the process loaded unsigned ones, a native module dropped into
site-packages, imported and deleted. ``verify deployment`` passes both (that is the attack);
``verify process PID`` reads the process from /proc and tells them apart.

Real processes: a venv (support/deps.py) with a wheel holding a C extension compiled here with
the system gcc; a Python process of that venv memory-maps the model file (the mmap module) and
imports the extension, then waits on its stdin. Every process is killed when its test ends.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.cli import assert_one_line_error, cli, verdict
from support.deps import build_wheel, make_venv, pip_install, site_packages, venv_python
from support.release import write_model

from chainguard import api

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("gcc") is None,
    reason="reads /proc (Linux) and compiles a C extension with gcc",
)

EXT_SUFFIX = str(sysconfig.get_config_var("EXT_SUFFIX"))
EXTENSION_C = """
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "%(name)s", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_%(name)s(void) { return PyModule_Create(&module); }
"""
# The serving process: maps the weights (mmap keeps its own descriptor), imports its native
# modules, says so, and waits until its stdin closes.
SERVER = """
import importlib, mmap, sys
with open(sys.argv[1], "rb") as f:
    weights = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
modules = [importlib.import_module(name) for name in sys.argv[2:]]
print("ready", flush=True)
sys.stdin.read()
"""


def compile_extension(directory: Path, name: str) -> bytes:
    source = directory / f"{name}.c"
    source.write_text(EXTENSION_C % {"name": name})
    out = directory / f"{name}{EXT_SUFFIX}"
    include = sysconfig.get_paths()["include"]
    subprocess.run(
        ["gcc", "-shared", "-fPIC", f"-I{include}", "-o", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out.read_bytes()


@dataclass(frozen=True)
class Host:
    root: Path
    config: Path
    weights: Path  # the model directory
    venv: Path
    site: Path
    python: Path
    build: Path  # where extensions are compiled


@pytest.fixture(scope="module")
def signed_host(tmp_path_factory: pytest.TempPathFactory) -> Host:
    """A signed deployment: a model and a venv whose wheel installs a C extension."""
    from support.release import make_release

    root = tmp_path_factory.mktemp("process-host")
    build = root / "build"
    build.mkdir()
    wheel = build_wheel(
        build,
        "nativepkg",
        "1.0.0",
        {
            "nativepkg/__init__.py": b"",
            f"nativepkg/_fast{EXT_SUFFIX}": compile_extension(build, "_fast"),
        },
    )
    venv = make_venv(root / "venv")
    pip_install(venv, wheel)
    weights = write_model(root / "weights", seed=0)
    make_release(root, models=[weights], envs=[venv])
    config = root / "chainguard.toml"
    config.write_text(
        'deployment = "svc"\nsbom = "deploy.cdx.json"\n[trust]\nkeys = ["release.pub"]\n'
        '[models]\nweights = "weights"\n[dependencies]\nenvironments = ["venv"]\n'
    )
    return Host(root, config, weights, venv, site_packages(venv), venv_python(venv), build)


@pytest.fixture
def host(signed_host: Host, tmp_path: Path) -> Host:
    """A copy of the signed host to tamper with (venvs keep their interpreter symlink)."""
    root = tmp_path / "host"
    shutil.copytree(signed_host.root, root, symlinks=True)
    venv = root / "venv"
    return Host(
        root,
        root / "chainguard.toml",
        root / "weights",
        venv,
        site_packages(venv),
        venv_python(venv),
        root / "build",
    )


def serve(
    processes: list[subprocess.Popen[str]], host: Host, weights: Path, *modules: str
) -> subprocess.Popen[str]:
    """Start the serving process in the host's venv; return once it has loaded everything."""
    proc = subprocess.Popen(
        [str(host.python), "-c", SERVER, str(weights), *modules],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=host.root,
    )
    processes.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def verify(host: Host, *command: str | int) -> tuple[int, dict[str, object], str]:
    outcome = cli("verify", *map(str, command), "--config", host.config, "--format", "json")
    verdict(outcome)
    return outcome.code, outcome.report, outcome.stderr


def findings(report: dict[str, object], rule: str) -> list[dict[str, str]]:
    found = report["findings"]
    assert isinstance(found, list)
    return [f for f in found if f["rule"] == rule]


def test_clean_process_runs_the_signed_weights(
    host: Host, processes: list[subprocess.Popen[str]]
) -> None:
    proc = serve(processes, host, host.weights / "model.safetensors", "nativepkg._fast")
    code, report, _ = verify(host, "process", proc.pid)
    assert code == 0, report["findings"]
    (note,) = findings(report, "process-verified")
    assert note["severity"] == "note"
    assert f"process {proc.pid} runs the signed weights" in note["message"]
    assert "1 native module(s) from verified environments match their RECORDs" in note["message"]
    assert "Pure-Python modules are read and closed" in note["message"]


def test_weights_replaced_after_loading_are_caught(
    host: Host, processes: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    model = host.weights / "model.safetensors"
    signed = model.read_bytes()
    unsigned = write_model(tmp_path / "unsigned", seed=1) / "model.safetensors"
    unsigned_sha = hashlib.sha256(unsigned.read_bytes()).hexdigest()
    os.replace(unsigned, model)  # the process loads unsigned weights...
    proc = serve(processes, host, model, "nativepkg._fast")
    staged = host.root / "staged.safetensors"
    staged.write_bytes(signed)
    os.replace(staged, model)  # ...and the signed ones are put back on disk after.

    code, report, _ = verify(host, "deployment")
    assert code == 0, report["findings"]  # the disk is exactly what was signed
    code, report, _ = verify(host, "process", proc.pid)
    assert code == 1, report["findings"]
    (found,) = findings(report, "loaded-artifact-replaced")
    assert found["path"] == str(model.resolve())
    assert found["expected"] == f"sha256:{hashlib.sha256(signed).hexdigest()}"
    assert found["actual"] == f"sha256:{unsigned_sha}" != found["expected"]
    assert f"process {proc.pid} does not run the signed weights" in found["message"]
    assert not findings(report, "process-verified")


def test_native_module_dropped_in_and_deleted_is_caught(
    host: Host, processes: list[subprocess.Popen[str]]
) -> None:
    dropped = host.site / f"_dropped{EXT_SUFFIX}"
    dropped.write_bytes(compile_extension(host.build, "_dropped"))
    proc = serve(processes, host, host.weights / "model.safetensors", "_dropped")
    dropped.unlink()  # imported, then removed: nothing left on disk

    code, report, _ = verify(host, "deployment")
    assert code == 0, report["findings"]
    code, report, _ = verify(host, "process", proc.pid)
    assert code == 1
    (found,) = findings(report, "loaded-from-unverified-path")
    assert found["path"] == str(dropped.resolve())
    assert "no RECORD lists it" in found["message"]
    assert found["actual"].endswith("(deleted)")
    (note,) = findings(report, "process-verified")  # the weights themselves are the signed ones
    assert "runs the signed weights" in note["message"]


def test_native_module_replaced_on_disk_after_loading_is_caught(
    host: Host, processes: list[subprocess.Popen[str]]
) -> None:
    installed = host.site / "nativepkg" / f"_fast{EXT_SUFFIX}"
    original = installed.read_bytes()
    patched = host.build / "patched.so"
    patched.write_bytes(compile_extension(host.build, "_fast") + b"\0")  # not RECORD's content
    os.replace(patched, installed)
    proc = serve(processes, host, host.weights / "model.safetensors", "nativepkg._fast")
    restored = host.build / "restored.so"
    restored.write_bytes(original)
    os.replace(restored, installed)  # RECORD's file back on disk, the patched one still runs

    code, report, _ = verify(host, "deployment")
    assert code == 0, report["findings"]
    code, report, _ = verify(host, "process", proc.pid)
    assert code == 1
    (found,) = findings(report, "loaded-from-unverified-path")
    assert found["path"] == str(installed.resolve())
    assert "deleted on disk after it was loaded" in found["message"]


def test_unsigned_file_mapped_from_the_model_root_is_caught(
    host: Host, processes: list[subprocess.Popen[str]]
) -> None:
    extra = host.weights / "adapter.bin"
    extra.write_bytes(b"an unsigned adapter")
    proc = serve(processes, host, extra)
    extra.unlink()  # gone from disk: verify deployment sees nothing
    code, report, _ = verify(host, "deployment")
    assert code == 0, report["findings"]
    code, report, _ = verify(host, "process", proc.pid)
    assert code == 1
    (found,) = findings(report, "loaded-artifact-unexpected")
    assert found["path"] == str(extra.resolve())


class _KillsOnStart:
    """A progress callback that makes the process exit (and reaps it) as soon as the disk
    verify starts hashing: a process exiting in the middle of the check, deterministically."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def start(self, files: int, total_bytes: int) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)

    def advance(self, nbytes: int) -> None:
        pass


def test_process_exiting_during_the_check_is_reported(
    host: Host, processes: list[subprocess.Popen[str]]
) -> None:
    proc = serve(processes, host, host.weights / "model.safetensors", "nativepkg._fast")
    from chainguard.config import load_config

    cfg = load_config(host.config, no_config=False)
    trust = api.TrustInputs(
        sbom=host.root / "deploy.cdx.json",
        keys=(host.root / "release.pub",),
        signatures=(),
        deployment="svc",
        state_dir=host.root / "state",
    )
    report = api.verify_process(
        proc.pid,
        trust=trust,
        models=cfg.models,
        environments=cfg.environments,
        progress=_KillsOnStart(proc),
    )
    assert proc.returncode is not None  # it really exited during the check
    assert [f.rule for f in report.findings if f.rule.startswith(("process", "loaded"))] == [
        "process-exited"
    ]
    assert not report.ok


def test_process_that_does_not_exist_is_exit_3(host: Host) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)  # reaped: its PID names no process
    outcome = cli("verify", "process", str(gone.pid), "--config", host.config)
    assert_one_line_error(outcome, 3, f"process {gone.pid} does not exist")


def test_zombie_is_exit_3(host: Host) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
        outcome = cli("verify", "process", str(child.pid), "--config", host.config)
        assert_one_line_error(outcome, 3, f"process {child.pid} has exited")
    finally:
        child.wait(timeout=30)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a check as another user")
def test_another_users_process_names_the_missing_privilege(host: Host) -> None:
    """Without ptrace access (another user, no CAP_SYS_PTRACE): exit 3 naming what is missing.
    PID 1 belongs to root; the check runs as nobody."""
    script = (
        "from chainguard.collectors.procfs import open_process\n"
        "from chainguard.errors import ProcessError\n"
        "try:\n    open_process(1)\nexcept ProcessError as e:\n    print(e)\n"
    )
    env = {"PYTHONPATH": str(Path(api.__file__).parents[2]), "PATH": os.environ["PATH"]}
    # The test interpreter may sit where nobody cannot reach it (/root/.pyenv): any other
    # Python 3 on the host that nobody can run does as well (procfs needs the stdlib only).
    for python in (sys.executable, "/usr/bin/python3"):
        try:
            done = subprocess.run(
                [python, "-c", script],
                user=65534,
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
                cwd="/",
                check=False,
            )
        except OSError:
            continue
        if done.returncode == 0 and done.stdout:
            assert "CAP_SYS_PTRACE" in done.stdout, (done.stdout, done.stderr)
            assert "/proc/1/maps" in done.stdout
            return
    pytest.skip("no Python interpreter that user nobody can run with chainguard importable")

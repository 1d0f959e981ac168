"""The manifests users copy to run ``chainguard attest`` on hosts (manifests/): the Kubernetes
ones valid against the API schemas, the systemd units accepted by ``systemd-analyze verify``
and hardened, images referenced by digest only, nothing installed at run time, and the image
built from a hash-pinned lock."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
KUBERNETES = sorted((MANIFESTS / "kubernetes").glob("*.yaml"))
CONTAINER = MANIFESTS / "container"
SYSTEMD = MANIFESTS / "systemd"
# What the release fills in (envsubst); anything of the right shape validates.
RELEASE_VALUES = {
    "${CHAINGUARD_IMAGE}": "registry.example.com/chainguard",
    "${IMAGE_DIGEST}": "0123456789abcdef" * 4,
}
DIGEST_REFERENCE = re.compile(r"\$\{CHAINGUARD_IMAGE\}@sha256:\$\{IMAGE_DIGEST\}")
# Run-time installs or downloads, in any manifest's command
NETWORK_INSTALL = re.compile(
    r"\b(pip3?|uv|pipx|apt(-get)?|apk|yum|dnf|curl|wget|npm)\b\s+(install|add|get|-)"
)


def _documents(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    for variable, value in RELEASE_VALUES.items():
        text = text.replace(variable, value)
    return [d for d in yaml.safe_load_all(text) if d]


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_there_are_a_cronjob_and_a_daemonset() -> None:
    kinds = sorted(d["kind"] for path in KUBERNETES for d in _documents(path))
    assert kinds == ["CronJob", "DaemonSet"]


@pytest.mark.parametrize("path", KUBERNETES, ids=lambda p: p.name)
def test_kubernetes_manifest_is_valid_against_the_api_schema(path: Path) -> None:
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    for doc in _documents(path):
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_check_catches_a_mistake() -> None:
    import kubernetes_validate

    (doc,) = _documents(MANIFESTS / "kubernetes" / "cronjob.yaml")
    doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["readonly"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("path", KUBERNETES, ids=lambda p: p.name)
def test_images_by_digest_only(path: Path) -> None:
    images = re.findall(r"^\s*image:\s*(\S+)", path.read_text(), re.MULTILINE)
    assert images
    for image in images:
        assert DIGEST_REFERENCE.fullmatch(image), f"{path.name}: {image} is not by digest"


@pytest.mark.parametrize("path", KUBERNETES, ids=lambda p: p.name)
def test_pods_run_attest_read_only_and_unprivileged(path: Path) -> None:
    for doc in _documents(path):
        for container in _containers(doc):
            command = " ".join([*container.get("command", []), *container.get("args", [])])
            assert "attest" in command
            assert not NETWORK_INSTALL.search(command), command
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            mounts = {m["name"]: m for m in container["volumeMounts"]}
            for name in mounts:
                if name in ("models", "datasets", "config"):
                    assert mounts[name]["readOnly"] is True, (path.name, name)
            assert "models" in mounts


def test_dockerfile_installs_only_hash_pinned_inputs() -> None:
    text = (CONTAINER / "Dockerfile").read_text()
    code = re.sub(r"#.*", "", text)
    froms = re.findall(r"^FROM\s+(\S+)", code, re.MULTILINE)
    assert froms and all(f == "${PYTHON_IMAGE}" for f in froms)  # a digest given at build time
    assert re.search(r"^ARG PYTHON_IMAGE$", code, re.MULTILINE)  # no default tag
    installs = re.findall(r"pip install[^\n]*(?:\\\n[^\n]*)*", code)
    assert installs
    for line in installs:
        assert "--no-deps" in line and ("--require-hashes" in line or "--no-index" in line), line
    assert "--no-build-isolation" in code


def test_the_lock_pins_every_package_by_hash() -> None:
    lock = (CONTAINER / "requirements.lock").read_text()
    requirements = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", lock, re.MULTILINE)
    names = {name.lower() for name, _ in requirements}
    for needed in ("cryptography", "typer", "cyclonedx-python-lib", "sigstore", "setuptools"):
        assert needed in names
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n\n", 1)[-1])
    for block in blocks:
        if re.match(r"[A-Za-z0-9]", block):
            assert "--hash=sha256:" in block, block.splitlines()[0]


def _units(tmp_path: Path) -> list[Path]:
    """The units, their ExecStart pointed at this environment's chainguard (verify checks
    that the program exists)."""
    chainguard = Path(sys.executable).parent / "chainguard"
    units = []
    for unit in sorted(SYSTEMD.glob("chainguard-attest.*")):
        text = unit.read_text().replace("/opt/chainguard/bin/chainguard", str(chainguard))
        (tmp_path / unit.name).write_text(text)
        units.append(tmp_path / unit.name)
    return units


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (Debian: apt-get install systemd)")
    units = _units(tmp_path)
    assert [u.suffix for u in units] == [".service", ".timer"]
    result = subprocess.run(
        [analyze, "verify", *map(str, units)], capture_output=True, text=True, timeout=60
    )
    # unknown or misspelt keys are only warnings to systemd: any output is a failure here
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), (
        result.stdout + result.stderr
    )


def test_systemd_analyze_catches_a_misspelt_directive(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (Debian: apt-get install systemd)")
    service = _units(tmp_path)[0]
    service.write_text(service.read_text().replace("ProtectSystem=", "ProtectSytem="))
    result = subprocess.run(
        [analyze, "verify", str(service)], capture_output=True, text=True, timeout=60
    )
    assert "ProtectSytem" in result.stderr


def test_systemd_service_is_hardened() -> None:
    text = (SYSTEMD / "chainguard-attest.service").read_text()
    settings = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and line[0].isalpha()
    )
    assert settings["ProtectSystem"] == "strict"
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["User"] == "chainguard"  # its own user (chainguard.sysusers)
    assert "/srv/models" in settings["ReadOnlyPaths"]
    assert settings["StateDirectoryMode"] == "0700"
    assert " attest " in settings["ExecStart"]
    assert not NETWORK_INSTALL.search(text)


def test_the_lock_covers_every_runtime_dependency() -> None:
    """A dependency added to pyproject.toml without regenerating the lock (the command is in
    the Dockerfile) would be missing from the image."""
    import tomllib
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lock = (CONTAINER / "requirements.lock").read_text()
    pinned = {
        canonicalize_name(name): version
        for name, version in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", lock, re.M)
    }
    project = tomllib.loads((MANIFESTS.parent / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"python_version": "3.11"}):
            continue  # the image's Python is 3.11
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in requirements.lock: regenerate it"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (name, text)

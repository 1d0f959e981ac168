"""Simulated fleet hosts: each its own state directory, host key and config, attesting with
the real ``chainguard attest --publish`` through the CLI runner; and the --host-keys directory
an operator enrolls them in."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from support.cli import Outcome, cli
from support.release import MODEL_FILES, Release, make_release


@dataclass(frozen=True)
class FleetHost:
    name: str
    release: Release
    config: Path
    state: Path

    @property
    def pub(self) -> Path:
        """The host key's public half, made by the first attest run."""
        return self.state / "host.pub"

    def attest(
        self, registry: str, *extra: str | Path, env: dict[str, str] | None = None
    ) -> Outcome:
        return cli(
            "attest",
            "--config",
            self.config,
            "--state",
            self.state,
            "--normal-priority",
            "--host",
            self.name,
            "--publish",
            registry,
            *extra,
            env=env,
        )

    def break_model(self) -> None:
        """Alter a signed model file: the next attest run is FAILED (artifact-modified)."""
        (self.release.model / "config.json").write_bytes(b'{"hidden_size": 17}\n')


def make_fleet_host(root: Path, name: str, release: Release | None = None) -> FleetHost:
    """A host deploying ``release`` (its own, when it will be altered)."""
    release = release or make_release(root / f"{name}-release", models={"weights": MODEL_FILES})
    config = root / f"{name}.toml"
    config.write_text(
        f'sbom = "{release.sbom}"\ndeployment = "svc"\n[trust]\nkeys = ["{release.pub}"]\n'
        f'[models]\nweights = "{release.model}"\n'
    )
    return FleetHost(name, release, config, root / f"{name}-state")


def enroll(directory: Path, *hosts: FleetHost) -> Path:
    """The operator's --host-keys directory: each host's host.pub as NAME.pub."""
    directory.mkdir(parents=True, exist_ok=True)
    for host in hosts:
        shutil.copyfile(host.pub, directory / f"{host.name}.pub")
    return directory

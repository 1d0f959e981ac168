"""The public sigstore-conformance bundle-verify suite, read in place (see
../shared/vectors/README.md): one folder per case, enumerated at collection time, turned into
the `chainguard verify blob` arguments the conformance harness would pass.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import vectors_root

BEACON_IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
BEACON_ISSUER = "https://token.actions.githubusercontent.com"
_PRODUCTION_STORE = "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"


def bundle_verify_dir() -> Path:
    return vectors_root() / "sigstore-conformance" / "bundle-verify"


def production_root() -> Path:
    """The production trusted root shipped in the sigstore package (a real file)."""
    resource = importlib.resources.files("sigstore._store") / _PRODUCTION_STORE
    return Path(str(resource / "trusted_root.json"))


@dataclass(frozen=True)
class ConformanceCase:
    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def must_fail(self) -> bool:
        return self.name.endswith("_fail")

    @property
    def artifact(self) -> Path:
        own = self.folder / "artifact"
        return own if own.exists() else self.folder.parent / "a.txt"

    @property
    def bundle(self) -> Path:
        return self.folder / "bundle.sigstore.json"

    def _text(self, name: str, default: str) -> str:
        path = self.folder / name
        return path.read_text().strip() if path.exists() else default

    def trust_args(self) -> list[str | Path]:
        """As the harness: ``--key`` when the case has key.pub, else the identity and issuer;
        its own trusted root, else production. chainguard uses no root with --key unless given
        one, so the production root is passed explicitly there (the harness's default)."""
        root = self.folder / "trusted_root.json"
        if (self.folder / "key.pub").exists():
            return ["--key", self.folder / "key.pub", "--trusted-root", _or(root)]
        args: list[str | Path] = [
            "--identity",
            self._text("identity", BEACON_IDENTITY),
            "--issuer",
            self._text("issuer", BEACON_ISSUER),
        ]
        return [*args, "--trusted-root", root] if root.exists() else args


def _or(root: Path) -> Path:
    return root if root.exists() else production_root()


def bundle_verify_cases() -> list[object]:
    """pytest params, one per case folder (id = folder name); one skipped param when the
    suite is absent."""
    top = bundle_verify_dir()
    if not top.is_dir():
        reason = f"sigstore-conformance vectors not found at {top} (set CHAINGUARD_VECTORS)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="absent")]
    folders = sorted(p for p in top.iterdir() if (p / "bundle.sigstore.json").is_file())
    return [pytest.param(ConformanceCase(p), id=p.name) for p in folders]

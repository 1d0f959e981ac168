"""chainguard.toml: where the SBOM, signatures, trusted keys and deployment paths are.

Relative paths are resolved against the directory holding the file, so the same config works
from CI (repository root) and from cron (any working directory). Unknown keys are errors: a
typo such as ``signture`` must not silently disable a check.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainguard.errors import ConfigError
from chainguard.models import IdentityRule

CONFIG_NAME = "chainguard.toml"

_TOP_KEYS = {
    "sbom",
    "signature",
    "signatures",
    "ignore",
    "trust",
    "models",
    "datasets",
    "deployment",
    "state",
    "dependencies",
}
_TRUST_KEYS = {"keys", "identities", "threshold", "trusted_root", "staging", "allow_expired"}
_IDENTITY_KEYS = {"identity", "issuer", "repository", "ref"}
_DEPENDENCY_KEYS = {"locks", "environments"}


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    sbom: Path | None = None
    signatures: tuple[Path, ...] = ()
    keys: tuple[Path, ...] = ()
    ignore: tuple[str, ...] = ()
    identities: tuple[IdentityRule, ...] = ()
    threshold: int = 1
    trusted_root: Path | None = None
    staging: bool = False
    allow_expired: bool = False
    deployment: str | None = None  # expected deployment name (refuses SBOMs of another)
    state: Path | None = None  # rollback state directory
    models: tuple[tuple[str, Path], ...] = ()
    datasets: tuple[tuple[str, Path], ...] = ()
    locks: tuple[Path, ...] = ()  # [dependencies] locks: lockfiles / requirements files
    environments: tuple[Path, ...] = ()  # [dependencies] environments: venvs or interpreters
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 in CI
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    data: dict[str, Any] = tomllib.loads(text)
    return data


def load_config(explicit: Path | None, cwd: Path | None = None) -> Config:
    """Load ``explicit`` (must exist) or ``./chainguard.toml`` (optional)."""
    if explicit is None:
        candidate = (cwd or Path.cwd()) / CONFIG_NAME
        if not candidate.is_file():
            return Config()
        path = candidate
    else:
        path = explicit
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: config file not found") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config: {e}") from e
    try:
        data = _toml_loads(text)
    except ValueError as e:  # tomllib.TOMLDecodeError subclasses ValueError
        raise ConfigError(f"{path}: invalid TOML: {e}") from e
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path) -> Config:
    base = path.parent

    def where(key: str) -> str:
        return f"{path}: {key}"

    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(_TOP_KEYS))}"
        )

    def as_path(key: str, value: object) -> Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where(key)} must be a non-empty string path")
        p = Path(value).expanduser()
        return p if p.is_absolute() else base / p

    def as_paths(key: str, value: object) -> tuple[Path, ...]:
        if isinstance(value, str):
            return (as_path(key, value),)
        if not isinstance(value, list):
            raise ConfigError(f"{where(key)} must be a path or a list of paths")
        return tuple(as_path(key, v) for v in value)

    def as_strs(key: str, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where(key)} must be a list of strings")
        return tuple(value)

    def as_table(key: str, value: object) -> tuple[tuple[str, Path], ...]:
        if not isinstance(value, dict):
            raise ConfigError(f"{where(key)} must be a table of name = path")
        return tuple((str(k), as_path(f"{key}.{k}", v)) for k, v in value.items())

    trust = data.get("trust", {})
    if not isinstance(trust, dict):
        raise ConfigError(f"{where('trust')} must be a table")
    unknown_trust = set(trust) - _TRUST_KEYS
    if unknown_trust:
        raise ConfigError(f"{where('trust')}: unknown key(s) {', '.join(sorted(unknown_trust))}")

    if "signature" in data and "signatures" in data:
        raise ConfigError(f"{path}: give either signature or signatures, not both")
    signatures: tuple[Path, ...] = ()
    if "signature" in data:
        signatures = (as_path("signature", data["signature"]),)
    elif "signatures" in data:
        signatures = as_paths("signatures", data["signatures"])

    def as_identities(value: object) -> tuple[IdentityRule, ...]:
        key = "trust.identities"
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ConfigError(f"{where(key)} must be a list of tables {{identity, issuer}}")
        rules = []
        for i, item in enumerate(value):
            bad = set(item) - _IDENTITY_KEYS
            if bad:
                raise ConfigError(f"{where(key)}[{i}]: unknown key(s) {', '.join(sorted(bad))}")
            for required in ("identity", "issuer"):
                if not isinstance(item.get(required), str) or not item[required]:
                    raise ConfigError(f"{where(key)}[{i}]: {required} must be a non-empty string")
            for optional in ("repository", "ref"):
                if optional in item and (not isinstance(item[optional], str) or not item[optional]):
                    raise ConfigError(f"{where(key)}[{i}]: {optional} must be a non-empty string")
            rules.append(
                IdentityRule(
                    item["identity"], item["issuer"], item.get("repository"), item.get("ref")
                )
            )
        return tuple(rules)

    def as_bool(key: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where(key)} must be true or false")
        return value

    threshold = trust.get("threshold", 1)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ConfigError(f"{where('trust.threshold')} must be a whole number >= 1")
    deployment = data.get("deployment")
    if deployment is not None and (not isinstance(deployment, str) or not deployment):
        raise ConfigError(f"{where('deployment')} must be a non-empty string")

    deps = data.get("dependencies", {})
    if not isinstance(deps, dict):
        raise ConfigError(f"{where('dependencies')} must be a table")
    unknown_deps = set(deps) - _DEPENDENCY_KEYS
    if unknown_deps:
        raise ConfigError(
            f"{where('dependencies')}: unknown key(s) {', '.join(sorted(unknown_deps))}"
        )

    return Config(
        path=path,
        locks=as_paths("dependencies.locks", deps["locks"]) if "locks" in deps else (),
        environments=as_paths("dependencies.environments", deps["environments"])
        if "environments" in deps
        else (),
        identities=as_identities(trust["identities"]) if "identities" in trust else (),
        threshold=threshold,
        trusted_root=as_path("trust.trusted_root", trust["trusted_root"])
        if "trusted_root" in trust
        else None,
        staging=as_bool("trust.staging", trust["staging"]) if "staging" in trust else False,
        allow_expired=as_bool("trust.allow_expired", trust["allow_expired"])
        if "allow_expired" in trust
        else False,
        deployment=deployment,
        state=as_path("state", data["state"]) if "state" in data else None,
        sbom=as_path("sbom", data["sbom"]) if "sbom" in data else None,
        signatures=signatures,
        keys=as_paths("trust.keys", trust["keys"]) if "keys" in trust else (),
        ignore=as_strs("ignore", data["ignore"]) if "ignore" in data else (),
        models=as_table("models", data["models"]) if "models" in data else (),
        datasets=as_table("datasets", data["datasets"]) if "datasets" in data else (),
        raw=data,
    )

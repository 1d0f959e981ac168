"""chainguard.toml: where the SBOM, signatures, trusted keys and deployment paths are.

Relative paths are resolved against the directory holding the file, so the same config works
from CI (repository root) and from cron (any working directory). Unknown keys are errors: a
typo such as ``signture`` must not silently disable a check.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from chainguard.errors import ConfigError, UsageError
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
    skipped: str | None = None  # why no config file was read, when one was passed over
    implicit: bool = False  # found in the working directory rather than named


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 in CI
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    data: dict[str, Any] = tomllib.loads(text)
    return data


CONFIG_ENV = "CHAINGUARD_CONFIG"


def load_config(
    explicit: Path | None,
    cwd: Path | None = None,
    *,
    no_config: bool = False,
    trees: Sequence[Path] = (),
    environ: Mapping[str, str] | None = None,
) -> Config:
    """The one config file this run may use, or none.

    In order: ``--config F`` (``explicit``); else ``$CHAINGUARD_CONFIG``; else, unless
    ``no_config``, ``./chainguard.toml`` — but never one inside a tree being verified
    (``trees``): a downloaded model must not configure its own verification. Whatever file is
    chosen must not be writable by anyone but its owner and root (checked before it is read).
    """
    env = os.environ if environ is None else environ
    if no_config and explicit is not None:
        raise UsageError("--no-config and --config contradict each other; give one")
    if explicit is not None:
        path = explicit
    elif env.get(CONFIG_ENV) and not no_config:
        path = Path(env[CONFIG_ENV])
    elif no_config:
        return Config(skipped="--no-config")
    else:
        candidate = (cwd or Path.cwd()) / CONFIG_NAME
        if not candidate.is_file():
            return Config()
        inside = enclosing_tree(candidate, trees)
        if inside is not None:
            return Config(skipped=f"{candidate} is inside the verified tree {inside}; not read")
        return replace(_read_config(candidate), implicit=True)
    return _read_config(path)


def _read_config(path: Path) -> Config:
    check_permissions(path)
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


def enclosing_tree(path: Path, trees: Sequence[Path]) -> Path | None:
    """The tree (directory being verified) that holds ``path``, if any."""
    try:
        real = path.resolve()
    except OSError:
        return None
    for tree in trees:
        try:
            root = tree.resolve()
        except OSError:
            continue
        if root.is_dir() and real.is_relative_to(root):
            return tree
    return None


def check_permissions(path: Path) -> None:
    """Refuse a config that someone other than its owner (or root) could have written.

    Checked: the file, the file a link leads to, and the directories holding each. Group
    write is harmless only for a user-private group (the owner's own group, no other members),
    the usual umask-002 set-up.
    """
    try:
        targets = [path, path.resolve()]
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config: {e.strerror or e}") from e
    seen: set[Path] = set()
    for candidate in (p for t in targets for p in (t, t.parent)):
        if candidate in seen:
            continue
        seen.add(candidate)
        try:
            info = candidate.stat()
        except FileNotFoundError as e:
            raise ConfigError(f"{path}: config file not found") from e
        except OSError as e:
            raise ConfigError(f"{candidate}: cannot check config permissions: {e}") from e
        who = _other_writers(info)
        if who:
            kind = "directory" if stat.S_ISDIR(info.st_mode) else "file"
            raise ConfigError(
                f"{path}: refusing config: its {kind} {candidate} is writable by {who} "
                f"(mode {stat.S_IMODE(info.st_mode):04o}), so someone else could change what "
                f"is trusted; fix: chmod go-w {shlex.quote(str(candidate))}"
            )


def _other_writers(info: os.stat_result) -> str | None:
    mode = info.st_mode
    if mode & stat.S_IWOTH:
        return "everyone"
    if mode & stat.S_IWGRP and info.st_gid != 0 and not _private_group(info.st_uid, info.st_gid):
        return "its group"
    return None


def _private_group(uid: int, gid: int) -> bool:
    """Whether ``gid`` is ``uid``'s own primary group with no other members."""
    try:
        import grp
        import pwd

        user = pwd.getpwuid(uid)
        group = grp.getgrgid(gid)
    except (ImportError, KeyError):
        return False
    return user.pw_gid == gid and all(m == user.pw_name for m in group.gr_mem)


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


# --------------------------------------------------------------------------- trust precedence

TrustSource = Literal["command line", "config", "none"]


@dataclass(frozen=True, slots=True)
class TrustFlags:
    """What the operator said about trust on the command line (empty: not said).

    The first five are trust anchors; the rest apply however trust was established.
    """

    keys: tuple[Path, ...] = ()
    identities: tuple[IdentityRule, ...] = ()
    certificate_chains: tuple[Path, ...] = ()
    trusted_root: Path | None = None
    staging: bool = False
    ignore: tuple[str, ...] = ()
    state: Path | None = None
    allow_expired: bool = False
    deployment: str | None = None
    min_serial: int | None = None

    @property
    def anchored(self) -> bool:
        """Whether the command line names any trust anchor."""
        return bool(
            self.keys
            or self.identities
            or self.certificate_chains
            or self.trusted_root is not None
            or self.staging
        )


@dataclass(frozen=True, slots=True)
class EffectiveTrust:
    """The trust settings one run uses, and where they came from (every report shows them)."""

    source: TrustSource
    config: Path | None
    config_note: str | None
    keys: tuple[Path, ...]
    identities: tuple[IdentityRule, ...]
    certificate_chains: tuple[Path, ...]
    trusted_root: Path | None
    staging: bool
    threshold: int
    allow_expired: bool
    state: Path | None
    deployment: str | None
    ignore: tuple[str, ...]
    min_serial: int | None


def effective_trust(cfg: Config, flags: TrustFlags) -> EffectiveTrust:
    """Combine the config file with the command line. The one place this rule lives:

    - the command line names a trust anchor: the config's trust settings are not used at all
      (anchors, threshold, trusted root, staging, allow_expired, state, deployment, ignore);
      only the command line's own --ignore/--state/--allow-expired/--deployment apply;
    - otherwise the config's trust applies; --state and --deployment replace the config's,
      --allow-expired adds to it, and --ignore patterns are added to the config's.
    """
    if flags.anchored:
        return EffectiveTrust(
            source="command line",
            config=cfg.path,
            config_note=cfg.skipped,
            keys=flags.keys,
            identities=flags.identities,
            certificate_chains=flags.certificate_chains,
            trusted_root=flags.trusted_root,
            staging=flags.staging,
            threshold=1,
            allow_expired=flags.allow_expired,
            state=flags.state,
            deployment=flags.deployment,
            ignore=flags.ignore,
            min_serial=flags.min_serial,
        )
    return EffectiveTrust(
        source="config" if cfg.keys or cfg.identities else "none",
        config=cfg.path,
        config_note=cfg.skipped,
        keys=cfg.keys,
        identities=cfg.identities,
        certificate_chains=(),
        trusted_root=cfg.trusted_root,
        staging=cfg.staging,
        threshold=cfg.threshold,
        allow_expired=flags.allow_expired or cfg.allow_expired,
        state=flags.state or cfg.state,
        deployment=flags.deployment or cfg.deployment,
        ignore=tuple(dict.fromkeys((*cfg.ignore, *flags.ignore))),
        min_serial=flags.min_serial,
    )

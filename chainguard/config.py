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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from chainguard.errors import ConfigError, UsageError
from chainguard.models import IdentityRule, identity_pattern

if TYPE_CHECKING:
    from chainguard.formats.policy import FormatPolicy

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
    "patches",
    "require_patches",
    "attest",
    "formats",
}
_TRUST_KEYS = {"keys", "identities", "threshold", "trusted_root", "staging", "allow_expired"}
# [formats]: allow/deny lists of format ids, and [[formats.rules]] (glob + lists) per path
_FORMATS_KEYS = {"allow", "deny", "rules"}
_FORMAT_RULE_KEYS = {"glob", "allow", "deny"}
_IDENTITY_KEYS = {"identity", "identity_regexp", "issuer", "repository", "ref"}
_DEPENDENCY_KEYS = {"locks", "environments"}
# [attest]: the defaults of `chainguard attest`'s options (the command line wins)
_ATTEST_KEYS = {
    "host_key",
    "state",
    "attestation",
    "metrics_file",
    "webhook",
    "format",
    "output",
    "lock_timeout",
    "incremental",
    "full_rehash_every",
    "dataset_sample",
    "max_read_rate",
    "low_priority",
    "processes",
    "publish",  # oci://HOST[:PORT]/REPO (chainguard/fleet/publish.py)
    "host",  # the name attestations are signed and published under
}


@dataclass(frozen=True, slots=True)
class AttestConfig:
    """``[attest]``: unset values fall back to the command's own defaults."""

    host_key: Path | None = None
    state: Path | None = None
    attestation: Path | None = None
    metrics_file: Path | None = None
    webhook: str | None = None
    format: str | None = None
    output: Path | None = None
    lock_timeout: float | None = None
    incremental: bool | None = None
    full_rehash_every: float | None = None  # seconds ("24h")
    dataset_sample: float | None = None  # fraction of each dataset re-read every run
    max_read_rate: int | None = None  # bytes per second ("200MiB/s")
    low_priority: bool | None = None
    processes: tuple[str, ...] | None = None  # live servers: PID files, systemd:UNIT, PIDs
    publish: str | None = None  # OCI repository attestations are pushed to
    host: str | None = None  # host name (default: the machine's hostname)


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
    patches: tuple[tuple[str, str], ...] = ()  # [patches]: (id, requirement) sbom build declares
    require_patches: tuple[str, ...] = ()  # patch ids a signed SBOM must declare
    skipped: str | None = None  # why no config file was read, when one was passed over
    implicit: bool = False  # found in the working directory rather than named
    attest: AttestConfig = field(default_factory=AttestConfig)
    formats: FormatPolicy | None = None  # [formats]; a trust setting (effective_trust)

    def require_deployment_config(self) -> None:
        """What verify deployment needs of its config: one was read, and (when it was found in
        the working directory rather than named) it does not lie inside a model or dataset it
        describes, whose publisher would then configure its own verification."""
        if self.path is None:
            raise UsageError(
                "verify deployment needs a chainguard.toml (--config FILE, $CHAINGUARD_CONFIG "
                "or ./chainguard.toml)"
            )
        if not self.implicit:
            return
        inside = enclosing_tree(self.path, [p for _, p in (*self.models, *self.datasets)])
        if inside is not None:
            raise ConfigError(
                f"{self.path}: refusing a config found inside the tree it verifies ({inside}); "
                "move it out and pass --config FILE"
            )


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


# A config names trees, keys and processes: a few KiB. Anything this large is not one.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def _read_config(path: Path) -> Config:
    check_permissions(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 2**20} MiB; not a config")
        text = raw.decode("utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: config file not found") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config: {e}") from e
    try:
        data = _toml_loads(text)
    except ValueError as e:  # tomllib.TOMLDecodeError subclasses ValueError
        raise ConfigError(f"{path}: invalid TOML: {e}") from e
    except RecursionError as e:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from e
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


def check_permissions(path: Path, what: str = "config") -> None:
    """Refuse a config (or another file chainguard trusts: ``what``, e.g. the attest state
    directory or host key) that someone other than its owner (or root) could have written.

    Checked: the file, the file a link leads to, and the directories holding each. Group
    write is harmless only for a user-private group (the owner's own group, no other members),
    the usual umask-002 set-up.
    """
    try:
        targets = [path, path.resolve()]
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what}: {e.strerror or e}") from e
    seen: set[Path] = set()
    for candidate in (p for t in targets for p in (t, t.parent)):
        if candidate in seen:
            continue
        seen.add(candidate)
        try:
            info = candidate.stat()
        except FileNotFoundError as e:
            raise ConfigError(f"{path}: {what} file not found") from e
        except OSError as e:
            raise ConfigError(f"{candidate}: cannot check {what} permissions: {e}") from e
        who = _other_writers(info)
        if who:
            kind = "directory" if stat.S_ISDIR(info.st_mode) else "file"
            raise ConfigError(
                f"{path}: refusing {what}: its {kind} {candidate} is writable by {who} "
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
    """A parsed chainguard.toml → Config; every value checked, paths made absolute."""
    read = _Reader(path)
    read.known(data, _TOP_KEYS, "", hint=True)
    trust = read.table(data, "trust", _TRUST_KEYS)
    deps = read.table(data, "dependencies", _DEPENDENCY_KEYS)
    return Config(
        path=path,
        sbom=read.opt(data, "sbom", read.path),
        signatures=read.signatures(data),
        ignore=read.opt(data, "ignore", read.strs) or (),
        deployment=read.opt(data, "deployment", read.name),
        state=read.opt(data, "state", read.path),
        models=read.opt(data, "models", read.named_paths) or (),
        datasets=read.opt(data, "datasets", read.named_paths) or (),
        keys=read.opt(trust, "trust.keys", read.paths) or (),
        identities=read.opt(trust, "trust.identities", read.identities) or (),
        threshold=read.opt(trust, "trust.threshold", read.threshold) or 1,
        trusted_root=read.opt(trust, "trust.trusted_root", read.path),
        staging=read.opt(trust, "trust.staging", read.flag) or False,
        allow_expired=read.opt(trust, "trust.allow_expired", read.flag) or False,
        locks=read.opt(deps, "dependencies.locks", read.paths) or (),
        environments=read.opt(deps, "dependencies.environments", read.paths) or (),
        patches=read.opt(data, "patches", read.patches) or (),
        require_patches=read.opt(data, "require_patches", read.patch_ids) or (),
        attest=read.attest(read.table(data, "attest", _ATTEST_KEYS)),
        formats=read.formats(data),
        raw=data,
    )


_T = TypeVar("_T")


class _Reader:
    """Checks one config file's values; every error names the file and the key."""

    def __init__(self, path: Path) -> None:
        self.file = path
        self.base = path.parent

    def where(self, key: str) -> str:
        return f"{self.file}: {key}"

    def known(self, table: dict[str, Any], keys: set[str], name: str, hint: bool = False) -> None:
        unknown = set(table) - keys
        if unknown:
            listed = ", ".join(sorted(unknown))
            known = f"; known: {', '.join(sorted(keys))}" if hint else ""
            where = self.where(name) + ":" if name else f"{self.file}:"
            raise ConfigError(f"{where} unknown key(s) {listed}{known}")

    def table(self, data: dict[str, Any], key: str, keys: set[str]) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.where(key)} must be a table")
        self.known(value, keys, key)
        return value

    def opt(
        self, table: dict[str, Any], key: str, convert: Callable[[str, object], _T]
    ) -> _T | None:
        """``convert`` the value at ``key`` (its last dotted part) when it is there."""
        name = key.rpartition(".")[2]
        return convert(key, table[name]) if name in table else None

    def path(self, key: str, value: object) -> Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{self.where(key)} must be a non-empty string path")
        if "\0" in value:
            raise ConfigError(f"{self.where(key)} holds a NUL byte: not a path")
        try:
            p = Path(value).expanduser()
        except RuntimeError:  # ~name of no such user, or no home directory
            raise ConfigError(f"{self.where(key)}: cannot expand {value[:60]!r}") from None
        return p if p.is_absolute() else self.base / p

    def paths(self, key: str, value: object) -> tuple[Path, ...]:
        if isinstance(value, str):
            return (self.path(key, value),)
        if not isinstance(value, list):
            raise ConfigError(f"{self.where(key)} must be a path or a list of paths")
        return tuple(self.path(key, v) for v in value)

    def strs(self, key: str, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.where(key)} must be a list of strings")
        return tuple(value)

    def named_paths(self, key: str, value: object) -> tuple[tuple[str, Path], ...]:
        if not isinstance(value, dict):
            raise ConfigError(f"{self.where(key)} must be a table of name = path")
        return tuple((str(k), self.path(f"{key}.{k}", v)) for k, v in value.items())

    def name(self, key: str, value: object) -> str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{self.where(key)} must be a non-empty string")
        return value

    def flag(self, key: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where(key)} must be true or false")
        return value

    def threshold(self, key: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{self.where(key)} must be a whole number >= 1")
        return value

    def patches(self, key: str, value: object) -> tuple[tuple[str, str], ...]:
        """``[patches]``: ``"ID" = "REQUIREMENT"``, each checked (chainguard/patches.py)."""
        from chainguard.patches import parse_patch_id, parse_requirement

        if not isinstance(value, dict):
            raise ConfigError(f'{self.where(key)} must be a table of "ID" = "REQUIREMENT"')
        for pid, requirement in value.items():
            if not isinstance(requirement, str):
                raise ConfigError(f"{self.where(f'{key}.{pid}')} must be a requirement string")
            try:
                parse_patch_id(pid)
                parse_requirement(requirement)
            except UsageError as e:
                raise ConfigError(f"{self.where(f'{key}.{pid}')}: {e}") from None
        return tuple(value.items())

    def patch_ids(self, key: str, value: object) -> tuple[str, ...]:
        from chainguard.patches import parse_patch_id

        ids = self.strs(key, value)
        for pid in ids:
            try:
                parse_patch_id(pid)
            except UsageError as e:
                raise ConfigError(f"{self.where(key)}: {e}") from None
        return tuple(dict.fromkeys(ids))

    def attest(self, table: dict[str, Any]) -> AttestConfig:
        timeout = table.get("lock_timeout")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0
        ):
            raise ConfigError(f"{self.where('attest.lock_timeout')} must be seconds >= 0")
        return AttestConfig(
            host_key=self.opt(table, "attest.host_key", self.path),
            state=self.opt(table, "attest.state", self.path),
            attestation=self.opt(table, "attest.attestation", self.path),
            metrics_file=self.opt(table, "attest.metrics_file", self.path),
            webhook=self.opt(table, "attest.webhook", self.name),
            format=self.opt(table, "attest.format", self.name),
            output=self.opt(table, "attest.output", self.path),
            lock_timeout=float(timeout) if timeout is not None else None,
            incremental=self.opt(table, "attest.incremental", self.flag),
            full_rehash_every=self.opt(table, "attest.full_rehash_every", self.duration),
            dataset_sample=self.opt(table, "attest.dataset_sample", self.fraction),
            max_read_rate=self.opt(table, "attest.max_read_rate", self.read_rate),
            low_priority=self.opt(table, "attest.low_priority", self.flag),
            processes=self.opt(table, "attest.processes", self.process_specs),
            publish=self.opt(table, "attest.publish", self.name),
            host=self.opt(table, "attest.host", self.name),
        )

    def process_specs(self, key: str, value: object) -> tuple[str, ...]:
        """collectors/pidspec.py specs; a relative PID file is relative to the config file."""
        from chainguard.collectors.pidspec import SYSTEMD_PREFIX, check_spec

        specs = []
        for spec in self.strs(key, value):
            try:
                check_spec(spec)
            except UsageError as e:
                raise ConfigError(f"{self.where(key)}: {e}") from None
            plain = spec.startswith(SYSTEMD_PREFIX) or spec.isdigit()
            specs.append(spec if plain else str(self.path(key, spec)))
        return tuple(specs)

    def duration(self, key: str, value: object) -> float:
        from chainguard.attest.cache import parse_duration

        if not isinstance(value, str):
            raise ConfigError(f'{self.where(key)} must be a duration string such as "24h"')
        try:
            return parse_duration(value)
        except UsageError as e:
            raise ConfigError(f"{self.where(key)}: {e}") from None

    def fraction(self, key: str, value: object) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= 1  # NaN fails this too
        ):
            raise ConfigError(f"{self.where(key)} must be a number from 0 (none) to 1 (all)")
        return float(value)

    def read_rate(self, key: str, value: object) -> int:
        from chainguard.hashing_throttle import parse_rate

        if not isinstance(value, str):
            raise ConfigError(f'{self.where(key)} must be a rate string such as "200MiB/s"')
        try:
            return parse_rate(value)
        except UsageError as e:
            raise ConfigError(f"{self.where(key)}: {e}") from None

    def formats(self, data: dict[str, Any]) -> FormatPolicy | None:
        """``[formats]``: allow/deny lists, and ``[[formats.rules]]`` (glob + lists), whose
        first matching glob replaces the lists for its paths."""
        if "formats" not in data:
            return None
        from chainguard.formats.policy import FormatPolicy, PathRule

        table = self.table(data, "formats", _FORMATS_KEYS)
        rules = table.get("rules", [])
        if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
            raise ConfigError(f"{self.where('formats.rules')} must be an array of tables")
        paths = []
        for i, rule in enumerate(rules):
            where = f"formats.rules[{i}]"
            self.known(rule, _FORMAT_RULE_KEYS, where)
            if "glob" not in rule:
                raise ConfigError(f"{self.where(where)}: glob missing")
            paths.append(
                PathRule(
                    self.name(f"{where}.glob", rule["glob"]),
                    self.opt(rule, f"{where}.allow", self.format_ids) or (),
                    self.opt(rule, f"{where}.deny", self.format_ids) or (),
                )
            )
        return FormatPolicy(
            allow=self.opt(table, "formats.allow", self.format_ids) or (),
            deny=self.opt(table, "formats.deny", self.format_ids) or (),
            paths=tuple(paths),
        )

    def format_ids(self, key: str, value: object) -> tuple[str, ...]:
        from chainguard.formats.detect import FORMATS
        from chainguard.formats.policy import PICKLE

        ids = self.strs(key, value)
        unknown = sorted(set(ids) - FORMATS - {PICKLE})
        if unknown:
            known = ", ".join(sorted({*FORMATS, PICKLE}))
            listed = ", ".join(unknown)
            raise ConfigError(f"{self.where(key)}: unknown format(s) {listed}; known: {known}")
        return ids

    def signatures(self, data: dict[str, Any]) -> tuple[Path, ...]:
        if "signature" in data and "signatures" in data:
            raise ConfigError(f"{self.file}: give either signature or signatures, not both")
        if "signature" in data:
            return (self.path("signature", data["signature"]),)
        return self.opt(data, "signatures", self.paths) or ()

    def identities(self, key: str, value: object) -> tuple[IdentityRule, ...]:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ConfigError(f"{self.where(key)} must be a list of tables {{identity, issuer}}")
        return tuple(self.identity(f"{key}[{i}]", item) for i, item in enumerate(value))

    def identity(self, where: str, item: dict[str, Any]) -> IdentityRule:
        bad = set(item) - _IDENTITY_KEYS
        if bad:
            raise ConfigError(f"{self.where(where)}: unknown key(s) {', '.join(sorted(bad))}")
        regexp = "identity_regexp" in item
        if regexp == ("identity" in item):
            raise ConfigError(f"{self.where(where)}: give exactly one of identity, identity_regexp")
        name = "identity_regexp" if regexp else "identity"
        for required in (name, "issuer"):
            if not isinstance(item.get(required), str) or not item[required]:
                raise ConfigError(f"{self.where(where)}: {required} must be a non-empty string")
        for optional in ("repository", "ref"):
            if optional in item and (not isinstance(item[optional], str) or not item[optional]):
                raise ConfigError(f"{self.where(where)}: {optional} must be a non-empty string")
        if regexp:
            try:
                identity_pattern(item[name])
            except UsageError as e:
                raise ConfigError(f"{self.where(where)}: {e}") from e
        return IdentityRule(
            item[name], item["issuer"], item.get("repository"), item.get("ref"), regexp=regexp
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
    # [formats]: only with the config's trust (it can allow a format, so it weakens verify)
    formats: FormatPolicy | None = None


def effective_trust(cfg: Config, flags: TrustFlags) -> EffectiveTrust:
    """Combine the config file with the command line. The one place this rule lives:

    - the command line names a trust anchor: the config's trust settings are not used at all
      (anchors, threshold, trusted root, staging, allow_expired, state, deployment, ignore);
      only the command line's own --ignore/--state/--allow-expired/--deployment apply, and
      the default format policy ([formats] can allow a format: a trust setting);
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
        formats=cfg.formats,
    )

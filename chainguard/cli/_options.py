"""The options every verify command shares, and how a run's settings are resolved (the
precedence itself is config.effective_trust's).

Options several commands take are declared once, as groups (SIGSTORE_OPTIONS, PIN_OPTIONS,
ASSURANCE_OPTIONS), and put in a command's signature by ``with_options`` (see there)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from chainguard.errors import UsageError

if TYPE_CHECKING:
    from chainguard.api._assurance import Assurance
    from chainguard.collectors.dask_tree import DaskCluster
    from chainguard.config import Config
    from chainguard.models import IdentityRule
    from chainguard.trust.gate import TrustInputs


# -------------------------------------------------------------------------- verify: options
#
# Every verify command takes the same trust options; config-versus-command-line precedence is
# config.effective_trust's, not the CLI's.

# metavars: typer would otherwise show its type names (<list[Path]>) in --help.
SBOM_OPT = typer.Option("--sbom", metavar="FILE", help="SBOM file (default: from chainguard.toml).")
SIG_OPT = typer.Option(
    "--signature",
    metavar="FILE",
    help="Signature bundle (default: SBOM.sigstore.json, else SBOM.sig). Repeatable.",
)
KEY_OPT = typer.Option(
    "--key", metavar="PUB", help="Trusted public key (repeatable). Config trust is then unused."
)
COMPONENT_OPT = typer.Option("--component", metavar="NAME", help="Component name in the SBOM.")
FORMAT_OPT = typer.Option("-f", "--format", help="Report format.")
OUTPUT_OPT = typer.Option(
    "-o", "--output", metavar="FILE", help="Write the report here (summary on stderr)."
)
CONFIG_OPT = typer.Option(
    "--config",
    metavar="FILE",
    help="Config file (default: $CHAINGUARD_CONFIG, else ./chainguard.toml).",
)
NO_CONFIG_OPT = typer.Option("--no-config", help="Read no config file at all.")
IGNORE_OPT = typer.Option(
    "--ignore", metavar="GLOB", help="Glob of relative paths to leave out (repeatable)."
)
STAGING_OPT = typer.Option(
    "--staging", help="Trust Sigstore's staging instance (its shipped trusted root) instead."
)
ALLOW_EXPIRED_OPT = typer.Option(
    "--allow-expired", help="Accept an expired SBOM (forensics only; reported as a warning)."
)
STATE_OPT = typer.Option(
    "--state",
    help="Rollback state directory (default: $CHAINGUARD_STATE_DIR or ~/.local/state/chainguard).",
)
DEPLOYMENT_OPT = typer.Option(
    "--deployment",
    metavar="NAME",
    help="Refuse a signed SBOM of any other deployment (default: deployment = in the config).",
)
MIN_SERIAL_OPT = typer.Option(
    "--min-serial",
    metavar="N",
    min=0,
    max=2**63 - 1,
    help="Refuse a signed SBOM whose serial is below N (rollback protection without state).",
)

# --- OpenSSF model signatures (verify model --oms-signature) ----------------------------------
OMS_SIG_OPT = typer.Option(
    "--oms-signature",
    metavar="SIG",
    help="Verify this OpenSSF model signature (model_signing's model.sig) instead of an SBOM.",
)
CERT_CHAIN_OPT = typer.Option(
    "--certificate-chain",
    metavar="PEM",
    help="With --oms-signature: trusted CA certificates (PEM; repeatable).",
)
# The cosign spellings (--certificate-identity, --certificate-oidc-issuer) are aliases.
IDENTITY_OPT = typer.Option(
    "--identity",
    "--certificate-identity",
    metavar="ID",
    help="Trusted Sigstore certificate identity (SAN); repeatable, OR-ed.",
)
IDENTITY_REGEXP_OPT = typer.Option(
    "--certificate-identity-regexp",
    "--identity-regexp",
    metavar="REGEXP",
    help="Trusted identity as a regular expression the whole SAN must match (an unanchored "
    "pattern is still full-matched); repeatable, OR-ed with --identity.",
)
ISSUER_OPT = typer.Option(
    "--issuer",
    "--certificate-oidc-issuer",
    metavar="URL",
    help="OIDC issuer of the trusted identity.",
)
REPOSITORY_OPT = typer.Option(
    "--repository", metavar="OWNER/REPO", help="With --identity: GitHub repository it ran in."
)
REF_OPT = typer.Option(
    "--ref", metavar="REF", help="With --identity: GitHub ref it ran on (refs/tags/v1.2.3)."
)
TRUSTED_ROOT_OPT = typer.Option(
    "--trusted-root",
    metavar="FILE",
    help="Sigstore trusted_root.json (default: production, offline).",
)


# --- hashing on a Dask cluster (collectors/dask_tree.py) --------------------------------------
DASK_OPT = typer.Option(
    "--dask",
    metavar="ADDRESS",
    help="Hash on this dask.distributed scheduler (tcp://HOST:8786); the workers read the files.",
)
STORAGE_OPTION_OPT = typer.Option(
    "--storage-option",
    metavar="KEY=VALUE",
    help="With --dask: an fsspec storage option for s3://, gs://, hf:// sources, e.g. "
    "endpoint_url=http://127.0.0.1:9000 (repeatable; client and workers).",
)
DASK_TIMEOUT_OPT = typer.Option(
    "--dask-timeout",
    metavar="SECONDS",
    min=0.1,
    max=600.0,
    help="With --dask: how long to try to reach the scheduler (default 10).",
)


def dask_cluster(
    address: str | None, storage_options: list[str] | None, timeout: float | None
) -> DaskCluster | None:
    """The cluster --dask names (None: hash locally); the other two options need it."""
    if address is None:
        if storage_options or timeout is not None:
            raise UsageError("--storage-option and --dask-timeout go with --dask ADDRESS")
        return None
    from chainguard.collectors.dask_tree import (
        CONNECT_TIMEOUT_S,
        DaskCluster,
        parse_storage_options,
    )

    return DaskCluster(
        address,
        parse_storage_options(storage_options or ()),
        timeout if timeout is not None else CONNECT_TIMEOUT_S,
    )


def identity_policies(
    identity: list[str] | None,
    issuer: str | None,
    repository: str | None = None,
    ref: str | None = None,
    identity_regexp: list[str] | None = None,
) -> list[IdentityRule]:
    """The trusted Sigstore identities the --identity/--certificate-identity-regexp/--issuer
    (--repository/--ref) options name; every verify command reads them through here."""
    named = identity or identity_regexp
    if not named and issuer is None and repository is None and ref is None:
        return []  # key-only verify
    from chainguard.models import IdentityRule

    if named and issuer is None:
        raise UsageError("--identity needs --issuer (the OIDC provider that vouched for it)")
    if issuer is not None and not named:
        raise UsageError("--issuer needs --identity (the certificate identity to trust)")
    if (repository is not None or ref is not None) and not named:
        raise UsageError("--repository and --ref refine --identity; pass --identity and --issuer")
    exact = [IdentityRule(i, issuer or "", repository, ref) for i in dict.fromkeys(identity or [])]
    return exact + [
        IdentityRule(pattern, issuer or "", repository, ref, regexp=True)
        for pattern in dict.fromkeys(identity_regexp or [])
    ]


# --- beyond the SBOM: patches, the host's claim, VEX and advisories ---------------------------
REQUIRE_PATCH_OPT = typer.Option(
    "--require-patch",
    metavar="ID",
    help="Refuse a signed SBOM that does not declare this patch (repeatable; adds to the "
    "config's require_patches).",
)
CLAIM_OPT = typer.Option(
    "--claim",
    metavar="SOURCE",
    help="The host's claim (chainguard.claim/v1): a JSON file or an http(s):// status URL; "
    "every claimed fact is checked against what is measured.",
)
CLAIM_TIMEOUT_OPT = typer.Option(
    "--claim-timeout",
    metavar="SECONDS",
    min=0.1,
    max=120.0,
    help="Connect and read timeout for an http(s) claim source (default 5); the whole "
    "answer must arrive within 3 times it.",
)
CLAIM_MAX_BYTES_OPT = typer.Option(
    "--claim-max-bytes",
    metavar="N",
    min=1,
    max=1 << 30,
    help="Largest claim accepted (default 1 MiB); a larger one is claim-unavailable.",
)
CLAIM_ENV_PROXY_OPT = typer.Option(
    "--claim-env-proxy",
    help="Reach an http(s) claim source through the environment's proxy (never by default).",
)
VEX_OPT = typer.Option(
    "--vex", metavar="FILE", help="OpenVEX or CycloneDX VEX statements to check (repeatable)."
)
ADVISORIES_OPT = typer.Option(
    "--advisories",
    metavar="PATH",
    help="A directory or zip of OSV records (offline): measured versions inside an affected "
    "range are findings.",
)


def assurance_of(
    run: Run,
    *,
    require_patch: list[str] | None,
    claim: str | None,
    claim_timeout: float | None,
    vex: list[Path] | None,
    claim_max_bytes: int | None = None,
    claim_env_proxy: bool = False,
    advisories: Path | None,
) -> Assurance:
    """What to check beyond the SBOM. Required patches only ever add up (config and command
    line): a requirement makes verify stricter, so no source of one can weaken trust."""
    from chainguard.api._assurance import CLAIM_MAX_BYTES, CLAIM_TIMEOUT_S, Assurance
    from chainguard.patches import parse_patch_id  # a malformed id: exit 2, before any hashing

    given = (parse_patch_id(pid) for pid in require_patch or ())
    required = tuple(dict.fromkeys((*run.config.require_patches, *given)))
    return Assurance(
        require_patches=required,
        claim=claim,
        claim_timeout=claim_timeout if claim_timeout is not None else CLAIM_TIMEOUT_S,
        claim_max_bytes=claim_max_bytes if claim_max_bytes is not None else CLAIM_MAX_BYTES,
        claim_env_proxy=claim_env_proxy,
        vex=tuple(vex or ()),
        advisories=advisories,
    )


@dataclass(frozen=True)
class Run:
    """One verify run's settings after config and command line are combined."""

    config: Config
    trust: TrustInputs
    ignore: tuple[str, ...]
    certificate_chains: tuple[Path, ...]


def resolve(
    *,
    config: Path | None,
    no_config: bool,
    trees: Sequence[Path] = (),
    sbom: Path | None = None,
    signature: list[Path] | None = None,
    key: list[Path] | None = None,
    identity: list[str] | None = None,
    issuer: str | None = None,
    repository: str | None = None,
    ref: str | None = None,
    identity_regexp: list[str] | None = None,
    certificate_chain: list[Path] | None = None,
    trusted_root: Path | None = None,
    staging: bool = False,
    ignore: list[str] | None = None,
    state: Path | None = None,
    allow_expired: bool = False,
    deployment: str | None = None,
    min_serial: int | None = None,
) -> Run:
    from chainguard.config import TrustFlags, effective_trust, load_config
    from chainguard.trust.gate import TrustInputs

    if trusted_root is not None and staging:
        raise UsageError("--staging and --trusted-root both choose the trusted root; pick one")
    if deployment is not None and not deployment:
        raise UsageError("--deployment needs a non-empty name")
    flags = TrustFlags(
        keys=tuple(key or ()),
        identities=tuple(identity_policies(identity, issuer, repository, ref, identity_regexp)),
        certificate_chains=tuple(certificate_chain or ()),
        trusted_root=trusted_root,
        staging=staging,
        ignore=tuple(ignore or ()),
        state=state,
        allow_expired=allow_expired,
        deployment=deployment,
        min_serial=min_serial,
    )
    cfg = load_config(config, no_config=no_config, trees=trees)
    effective = effective_trust(cfg, flags)
    trust = TrustInputs.from_effective(
        effective,
        sbom=sbom or cfg.sbom,
        # An SBOM named on the command line brings its own default signature
        # (SBOM.sigstore.json, else SBOM.sig): the config's signatures belong to the config's SBOM.
        signatures=tuple(signature or (() if sbom is not None else cfg.signatures)),
    )
    return Run(cfg, trust, effective.ignore, effective.certificate_chains)


# ----------------------------------------------------------------------- groups of options

# What a command gets for a group: each option's value by its parameter name.
Options = dict[str, Any]


def _option(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation
    )


# fmt: off
# Trusted Sigstore identities and the trusted root (resolve's parameters of the same names).
SIGSTORE_OPTIONS = (
    _option("identity", Annotated[Optional[list[str]], IDENTITY_OPT]),  # noqa: UP045
    _option("issuer", Annotated[Optional[str], ISSUER_OPT]),  # noqa: UP045
    _option("identity_regexp", Annotated[Optional[list[str]], IDENTITY_REGEXP_OPT]),  # noqa: UP045
    _option("repository", Annotated[Optional[str], REPOSITORY_OPT]),  # noqa: UP045
    _option("ref", Annotated[Optional[str], REF_OPT]),  # noqa: UP045
    _option("trusted_root", Annotated[Optional[Path], TRUSTED_ROOT_OPT]),  # noqa: UP045
    _option("staging", Annotated[bool, STAGING_OPT], False),
)
# Which signed release is acceptable: expiry, rollback state, deployment and serial pins.
PIN_OPTIONS = (
    _option("allow_expired", Annotated[bool, ALLOW_EXPIRED_OPT], False),
    _option("state", Annotated[Optional[Path], STATE_OPT]),  # noqa: UP045
    _option("deployment", Annotated[Optional[str], DEPLOYMENT_OPT]),  # noqa: UP045
    _option("min_serial", Annotated[Optional[int], MIN_SERIAL_OPT]),  # noqa: UP045
)
# What to check beyond the SBOM (assurance_of's parameters of the same names).
ASSURANCE_OPTIONS = (
    _option("require_patch", Annotated[Optional[list[str]], REQUIRE_PATCH_OPT]),  # noqa: UP045
    _option("claim", Annotated[Optional[str], CLAIM_OPT]),  # noqa: UP045
    _option("claim_timeout", Annotated[Optional[float], CLAIM_TIMEOUT_OPT]),  # noqa: UP045
    _option("claim_max_bytes", Annotated[Optional[int], CLAIM_MAX_BYTES_OPT]),  # noqa: UP045
    _option("claim_env_proxy", Annotated[bool, CLAIM_ENV_PROXY_OPT], False),
    _option("vex", Annotated[Optional[list[Path]], VEX_OPT]),  # noqa: UP045
    _option("advisories", Annotated[Optional[Path], ADVISORIES_OPT]),  # noqa: UP045
)
# fmt: on


def with_options(
    **groups: Sequence[inspect.Parameter],
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``@with_options(sigstore=SIGSTORE_OPTIONS)`` on a command with a keyword-only parameter
    ``sigstore: Options``: typer reads the group's options where that parameter stands in the
    signature (``__signature__``), and the command gets their values as one mapping. So a group
    of options is declared once, not in each command that takes it."""

    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        own = inspect.signature(fn, eval_str=True)
        params: list[inspect.Parameter] = []
        for p in own.parameters.values():  # a group takes its stand-in's place and kind
            params += [q.replace(kind=p.kind) for q in groups.get(p.name, [p])]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            for name, group in groups.items():
                kwargs[name] = {p.name: kwargs.pop(p.name, p.default) for p in group}
            fn(*args, **kwargs)

        signature = own.replace(parameters=params)
        run.__signature__ = signature  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
        return run

    return wrap

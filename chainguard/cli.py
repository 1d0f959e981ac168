"""Command line: parse options → call api → render → exit code. Nothing else lives here."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional

import typer
from typer.core import TyperGroup

from chainguard import __version__
from chainguard.errors import ChainguardError, ExitCode, OutputError, UsageError

if TYPE_CHECKING:
    from chainguard.config import Config
    from chainguard.findings import Report
    from chainguard.models import IdentityRule
    from chainguard.trust.gate import TrustInputs


class _ErrorMappingGroup(TyperGroup):
    """Turns a ChainguardError into one line on stderr and its documented exit code.

    Done here rather than only in main() so that every way of running the app (main(),
    ``app()``, typer's CliRunner in tests) honours the same exit-code contract.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ChainguardError as e:
            sys.stderr.write(f"chainguard: error: {_one_line(str(e))}\n")
            raise typer.Exit(int(e.exit_code)) from None


app = typer.Typer(
    name="chainguard",
    help="Verify AI deployments (model weights, datasets, dependencies) against a signed SBOM.",
    cls=_ErrorMappingGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
sbom_app = typer.Typer(help="Build CycloneDX SBOMs.", no_args_is_help=True)
verify_app = typer.Typer(help="Verify artifacts against a signed SBOM.", no_args_is_help=True)
app.add_typer(sbom_app, name="sbom")
app.add_typer(verify_app, name="verify")


class KeyAlgorithm(str, Enum):
    ecdsa_p256 = "ecdsa-p256"
    ed25519 = "ed25519"


class HashChoice(str, Enum):
    sha256 = "sha256"
    blake3 = "blake3"


class ReportFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    markdown = "markdown"


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"chainguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """chainguard: refuse deployments whose artifacts do not match what was signed."""


# --------------------------------------------------------------------------------- progress


class _ProgressBar:
    """A minimal progress bar on stderr, for terminals only and only for long hashing jobs."""

    MIN_BYTES = 256 * 1024 * 1024

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty() and not os.environ.get("CI")
        self.total = 0
        self.done = 0
        self.last = 0.0
        self.lock = threading.Lock()

    def start(self, files: int, total_bytes: int) -> None:
        self.total = total_bytes
        self.enabled = self.enabled and total_bytes >= self.MIN_BYTES
        self.files = files

    def advance(self, nbytes: int) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.done += nbytes
            now = time.monotonic()
            if now - self.last < 0.1 and self.done < self.total:
                return
            self.last = now
            frac = self.done / self.total if self.total else 1.0
            bar = "#" * int(frac * 30)
            sys.stderr.write(
                f"\r{self.label} [{bar:<30}] {frac:6.1%} "
                f"{self.done / 2**20:,.0f}/{self.total / 2**20:,.0f} MiB"
            )
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


# ---------------------------------------------------------------------------------- commands


@app.command()
def keygen(
    prefix: Annotated[Path, typer.Argument(help="Writes PREFIX.key (0600) and PREFIX.pub.")],
    algorithm: Annotated[
        KeyAlgorithm, typer.Option("--algorithm", help="Signature algorithm.")
    ] = KeyAlgorithm.ecdsa_p256,
) -> None:
    """Create a signing key pair. Encrypted when CHAINGUARD_KEY_PASSWORD is set."""
    from chainguard import api

    private, public = api.keygen(prefix, algorithm.value)
    typer.echo(f"wrote {private} (private, mode 0600) and {public} (public)")


@sbom_app.command("build")
def sbom_build(
    name: Annotated[str, typer.Option("--name", help="Deployment name.")],
    version: Annotated[str, typer.Option("--version", help="Deployment version.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the SBOM.")],
    model: Annotated[
        Optional[list[Path]],  # noqa: UP045 - typer needs Optional on 3.10
        typer.Option("--model", help="Model directory or file (repeatable)."),
    ] = None,
    dataset: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option("--dataset", help="Dataset directory (repeatable)."),
    ] = None,
    hash_: Annotated[
        HashChoice,
        typer.Option("--hash", help="Also record BLAKE3 digests with 'blake3' (SHA-256 always)."),
    ] = HashChoice.sha256,
    ignore: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--ignore", help="Glob of relative paths to leave out (repeatable)."),
    ] = None,
    serial: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--serial", min=0, max=2**63 - 1, help="Monotonic release serial (default 0)."
        ),
    ] = None,
    expires: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--expires", help="Expiry: a duration (30d, 12h, 2w) or an RFC 3339 time."),
    ] = None,
    requirements: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            "--requirements", metavar="FILE", help="requirements.txt to record (repeatable)."
        ),
    ] = None,
    lock: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            "--lock", metavar="FILE", help="pylock.toml, uv.lock, poetry.lock, … (repeatable)."
        ),
    ] = None,
    env: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            "--env",
            metavar="PYTHON",
            help="Installed environment: venv or its python (repeatable).",
        ),
    ] = None,
) -> None:
    """Hash models, datasets and dependencies into a CycloneDX 1.6 SBOM (schema-validated)."""
    from chainguard import api

    bar = _ProgressBar("hashing")
    try:
        result = api.build_sbom(
            name=name,
            version=version,
            models=model or [],
            datasets=dataset or [],
            output=output,
            blake3=hash_ is HashChoice.blake3,
            serial=serial,
            expires=api.parse_expires(expires) if expires else None,
            ignore=ignore or [],
            progress=bar,
            requirements=requirements or [],
            locks=lock or [],
            envs=env or [],
        )
    finally:
        bar.close()
    for note in result.notes:  # read but not verifiable (unpinned, editable, …): say so
        sys.stderr.write(f"chainguard: note: {_one_line(note)}\n")
    typer.echo(
        f"wrote {result.output}: {', '.join(result.components)}; {result.files} files, "
        f"{result.bytes / 2**20:,.1f} MiB in {result.seconds:.2f} s"
    )


class SignFormat(str, Enum):
    oms = "oms"


@app.command()
def sign(
    sbom: Annotated[
        Path,
        typer.Argument(help="The SBOM to sign; or the word 'model' (sign model DIR --format oms)."),
    ],
    model: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Argument(
            metavar="DIR", help="With 'model': the model directory or single file to sign."
        ),
    ] = None,
    key: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--key", help="Private key (PEM, from keygen)."),
    ] = None,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("-o", "--output", help="Bundle path (default: SBOM.sig)."),
    ] = None,
    sigstore: Annotated[
        bool,
        typer.Option("--sigstore", help="Sign keylessly with Sigstore (OIDC identity, network)."),
    ] = False,
    staging: Annotated[
        bool, typer.Option("--staging", help="With --sigstore: use Sigstore's staging instance.")
    ] = False,
    identity_token: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--identity-token",
            envvar="SIGSTORE_IDENTITY_TOKEN",
            help="With --sigstore: OIDC token (default: ambient CI credentials).",
        ),
    ] = None,
    format_: Annotated[
        Optional[SignFormat],  # noqa: UP045
        typer.Option("--format", help="With 'sign model': signature format (default: oms)."),
    ] = None,
    ignore: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--ignore", metavar="REL", help="With 'sign model': relative path to leave out."
        ),
    ] = None,
) -> None:
    """Sign an SBOM (SBOM --key KEY, or --sigstore), or a model (model DIR --key KEY --format oms).

    An SBOM signature is a Sigstore bundle v0.3 with a DSSE in-toto statement. 'sign model'
    writes an OpenSSF model signature (default: DIR/model.sig) that model_signing verifies.
    """
    from chainguard import api

    if model is not None or format_ is not None or ignore:
        _sign_model(sbom, model, key, output, sigstore, format_, ignore)
        return
    if (key is None) == (not sigstore):
        raise UsageError("sign with exactly one of --key KEY or --sigstore")
    if key is not None:
        if staging:  # (an identity token may come from the environment: ignored here)
            raise UsageError("--staging goes with --sigstore, not --key")
        out = api.sign_sbom(sbom, key, output)
    else:
        out = api.sign_sbom_sigstore(
            sbom, staging=staging, identity_token=identity_token, output=output
        )
    typer.echo(f"wrote {out}")


def _sign_model(
    word: Path,
    model: Path | None,
    key: Path | None,
    output: Path | None,
    sigstore: bool,
    format_: SignFormat | None,
    ignore: list[str] | None,
) -> None:
    """``sign model DIR``: a second positional after the literal word 'model'.

    ``sign SBOM`` stays exactly as it was (a file named 'model' is still signed as an SBOM
    when no second argument follows).
    """
    from chainguard import api

    if str(word) != "model" or model is None:
        raise UsageError(
            "--format and --ignore apply to `chainguard sign model DIR`; "
            "`chainguard sign SBOM` takes one SBOM"
        )
    if sigstore or key is None:
        raise UsageError("sign model signs with --key KEY (an ECDSA P-256 key from keygen)")
    out = api.sign_model_oms(model, key, output, ignore or [])
    typer.echo(f"wrote {out} (OpenSSF model signature)")


# -------------------------------------------------------------------------- verify: options
#
# Every verify command takes the same trust options; config-versus-command-line precedence is
# config.effective_trust's, not the CLI's.

# metavars: typer would otherwise show its type names (<list[Path]>) in --help.
_SBOM_OPT = typer.Option(
    "--sbom", metavar="FILE", help="SBOM file (default: from chainguard.toml)."
)
_SIG_OPT = typer.Option(
    "--signature", metavar="FILE", help="Signature bundle (default: SBOM.sig). Repeatable."
)
_KEY_OPT = typer.Option(
    "--key", metavar="PUB", help="Trusted public key (repeatable). Config trust is then unused."
)
_COMPONENT_OPT = typer.Option("--component", metavar="NAME", help="Component name in the SBOM.")
_FORMAT_OPT = typer.Option("--format", help="Report format.")
_OUTPUT_OPT = typer.Option(
    "--output", metavar="FILE", help="Write the report here (summary on stderr)."
)
_CONFIG_OPT = typer.Option(
    "--config",
    metavar="FILE",
    help="Config file (default: $CHAINGUARD_CONFIG, else ./chainguard.toml).",
)
_NO_CONFIG_OPT = typer.Option("--no-config", help="Read no config file at all.")
_IGNORE_OPT = typer.Option(
    "--ignore", metavar="GLOB", help="Glob of relative paths to leave out (repeatable)."
)
_STAGING_OPT = typer.Option(
    "--staging", help="Trust Sigstore's staging instance (its shipped trusted root) instead."
)
_ALLOW_EXPIRED_OPT = typer.Option(
    "--allow-expired", help="Accept an expired SBOM (forensics only; reported as a warning)."
)
_STATE_OPT = typer.Option(
    "--state",
    help="Rollback state directory (default: $CHAINGUARD_STATE_DIR or ~/.local/state/chainguard).",
)
_DEPLOYMENT_OPT = typer.Option(
    "--deployment",
    metavar="NAME",
    help="Refuse a signed SBOM of any other deployment (default: deployment = in the config).",
)
_MIN_SERIAL_OPT = typer.Option(
    "--min-serial",
    metavar="N",
    min=0,
    max=2**63 - 1,
    help="Refuse a signed SBOM whose serial is below N (rollback protection without state).",
)

# --- OpenSSF model signatures (verify model --oms-signature) ----------------------------------
_OMS_SIG_OPT = typer.Option(
    "--oms-signature",
    metavar="SIG",
    help="Verify this OpenSSF model signature (model_signing's model.sig) instead of an SBOM.",
)
_CERT_CHAIN_OPT = typer.Option(
    "--certificate-chain",
    metavar="PEM",
    help="With --oms-signature: trusted CA certificates (PEM; repeatable).",
)
_IDENTITY_OPT = typer.Option(
    "--identity",
    metavar="ID",
    help="Trusted Sigstore certificate identity (SAN); repeatable, OR-ed.",
)
_ISSUER_OPT = typer.Option("--issuer", metavar="URL", help="OIDC issuer of the trusted identity.")
_REPOSITORY_OPT = typer.Option(
    "--repository", metavar="OWNER/REPO", help="With --identity: GitHub repository it ran in."
)
_REF_OPT = typer.Option(
    "--ref", metavar="REF", help="With --identity: GitHub ref it ran on (refs/tags/v1.2.3)."
)
_TRUSTED_ROOT_OPT = typer.Option(
    "--trusted-root",
    metavar="FILE",
    help="Sigstore trusted_root.json (default: production, offline).",
)


def _identity_policies(
    identity: list[str] | None,
    issuer: str | None,
    repository: str | None = None,
    ref: str | None = None,
) -> list[IdentityRule]:
    """The trusted Sigstore identities the --identity/--issuer (--repository/--ref) options
    name; every verify command reads them through here."""
    if not identity and issuer is None and repository is None and ref is None:
        return []  # key-only verify
    from chainguard.models import IdentityRule

    if identity and issuer is None:
        raise UsageError("--identity needs --issuer (the OIDC provider that vouched for it)")
    if issuer is not None and not identity:
        raise UsageError("--issuer needs --identity (the certificate identity to trust)")
    if (repository is not None or ref is not None) and not identity:
        raise UsageError("--repository and --ref refine --identity; pass --identity and --issuer")
    return [IdentityRule(i, issuer or "", repository, ref) for i in dict.fromkeys(identity or [])]


@dataclass(frozen=True)
class _Run:
    """One verify run's settings after config and command line are combined."""

    config: Config
    trust: TrustInputs
    ignore: tuple[str, ...]
    certificate_chains: tuple[Path, ...]


def _resolve(
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
    certificate_chain: list[Path] | None = None,
    trusted_root: Path | None = None,
    staging: bool = False,
    ignore: list[str] | None = None,
    state: Path | None = None,
    allow_expired: bool = False,
    deployment: str | None = None,
    min_serial: int | None = None,
) -> _Run:
    from chainguard.config import TrustFlags, effective_trust, load_config
    from chainguard.trust.gate import TrustInputs

    if trusted_root is not None and staging:
        raise UsageError("--staging and --trusted-root both choose the trusted root; pick one")
    if deployment is not None and not deployment:
        raise UsageError("--deployment needs a non-empty name")
    flags = TrustFlags(
        keys=tuple(key or ()),
        identities=tuple(_identity_policies(identity, issuer, repository, ref)),
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
        # An SBOM named on the command line brings its own default signature (SBOM.sig): the
        # config's signatures belong to the config's SBOM.
        signatures=tuple(signature or (() if sbom is not None else cfg.signatures)),
    )
    return _Run(cfg, trust, effective.ignore, effective.certificate_chains)


# ------------------------------------------------------------------------- verify: reporting


def _reports_failure(command: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A verify command whose run ends in an error (exit 2 or 3) still leaves a report saying
    so at --output: a watcher of that file must never keep reading the previous run's pass."""

    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            output: Path | None = kwargs.get("output")
            format_: ReportFormat = kwargs.get("format_", ReportFormat.text)
            if output is not None:
                _remove_stale(output)
            try:
                fn(*args, **kwargs)
            except (typer.Exit, KeyboardInterrupt):
                raise
            except Exception as e:
                target = next(
                    (str(v) for k, v in kwargs.items() if k in _TARGETS and v is not None),
                    command,
                )
                message = (
                    _one_line(str(e))
                    if isinstance(e, ChainguardError)
                    else (f"internal error: {type(e).__name__}: {_one_line(str(e))}")
                )
                _write_failure(command, target, message, format_, output)
                raise

        return run

    return wrap


_TARGETS = ("directory", "lockfile", "env", "file", "config")


def _remove_stale(output: Path) -> None:
    try:
        if output.is_file() and not output.is_symlink():
            output.unlink()
    except OSError:
        pass  # written over at the end anyway


def _write_failure(
    command: str, target: str, message: str, format_: ReportFormat, output: Path | None
) -> None:
    from chainguard.findings import Report

    report = _stamp(Report(command, target, (), error=message))
    if output is not None:
        with contextlib.suppress(ChainguardError):
            _write_report(report, format_, output)
    _append_step_summary(report)


def _stamp(report: Report) -> Report:
    """When and where the report was made (the I/O edge: the library leaves these unset)."""
    import socket
    from dataclasses import replace
    from datetime import datetime, timezone

    when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return replace(report, time=report.time or when, host=report.host or socket.gethostname())


def _write_report(report: Report, format_: ReportFormat, output: Path) -> None:
    """Replace ``output`` in one step (a reader never sees half a report)."""
    from chainguard.reporters import get_reporter

    text = get_reporter(format_.value).render(report)
    try:
        if output.exists() and not output.is_file():  # /dev/stdout, a fifo: write in place
            output.write_text(text, encoding="utf-8")
            return
        tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, output)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
    except OSError as e:
        raise OutputError(f"{output}: cannot write report: {e.strerror or e}") from e


def _append_step_summary(report: Report) -> None:
    from chainguard.reporters import get_reporter

    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        try:
            with open(step_summary, "a", encoding="utf-8") as f:
                f.write(get_reporter("markdown").render(report))
        except OSError:
            sys.stderr.write(f"chainguard: warning: cannot append to {step_summary}\n")


def _emit(report: Report, format_: ReportFormat, output: Path | None) -> NoReturn:
    from chainguard.reporters import get_reporter

    report = _stamp(report)
    if output is not None:
        _write_report(report, format_, output)
        summary = get_reporter("text").render(report, color=_color(sys.stderr))
        sys.stderr.write(summary)
    else:
        color = format_ is ReportFormat.text and _color(sys.stdout)
        sys.stdout.write(get_reporter(format_.value).render(report, color=color))
    _append_step_summary(report)
    raise typer.Exit(int(ExitCode.OK if report.ok else ExitCode.FINDINGS))


def _color(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ


# ------------------------------------------------------------------------- verify: commands


def _verify_tree(kind: str, directory: Path, run: _Run, component: str | None) -> Report:
    from chainguard import api

    bar = _ProgressBar(f"verifying {directory}")
    try:
        return api.verify_tree(
            directory,
            kind="model" if kind == "model" else "dataset",
            trust=run.trust,
            component=component,
            ignore=run.ignore,
            progress=bar,
        )
    finally:
        bar.close()


def _verify_oms(directory: Path, oms_signature: Path, run: _Run) -> Report:
    from dataclasses import replace

    from chainguard import api
    from chainguard.trust.gate import summarize

    bar = _ProgressBar(f"verifying {directory}")
    try:
        report = api.verify_model_oms(
            directory,
            oms_signature,
            keys=list(run.trust.keys),
            certificate_chains=list(run.certificate_chains),
            identities=list(run.trust.identities),
            trusted_root=run.trust.trusted_root,
            staging=run.trust.staging,
            ignore=list(run.ignore),
            progress=bar,
        )
    finally:
        bar.close()
    summary = summarize(run.trust, run.ignore)
    chains = tuple(str(c) for c in run.certificate_chains)
    return replace(report, trust=replace(summary, certificate_chains=chains))


@verify_app.command("model")
@_reports_failure("verify model")
def verify_model(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Model directory (or single file).")
    ],
    sbom: Annotated[Optional[Path], _SBOM_OPT] = None,  # noqa: UP045
    signature: Annotated[Optional[list[Path]], _SIG_OPT] = None,  # noqa: UP045
    key: Annotated[Optional[list[Path]], _KEY_OPT] = None,  # noqa: UP045
    component: Annotated[Optional[str], _COMPONENT_OPT] = None,  # noqa: UP045
    format_: Annotated[ReportFormat, _FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], _OUTPUT_OPT] = None,  # noqa: UP045
    config: Annotated[Optional[Path], _CONFIG_OPT] = None,  # noqa: UP045
    no_config: Annotated[bool, _NO_CONFIG_OPT] = False,
    ignore: Annotated[Optional[list[str]], _IGNORE_OPT] = None,  # noqa: UP045
    allow_expired: Annotated[bool, _ALLOW_EXPIRED_OPT] = False,
    state: Annotated[Optional[Path], _STATE_OPT] = None,  # noqa: UP045
    deployment: Annotated[Optional[str], _DEPLOYMENT_OPT] = None,  # noqa: UP045
    min_serial: Annotated[Optional[int], _MIN_SERIAL_OPT] = None,  # noqa: UP045
    oms_signature: Annotated[Optional[Path], _OMS_SIG_OPT] = None,  # noqa: UP045
    certificate_chain: Annotated[Optional[list[Path]], _CERT_CHAIN_OPT] = None,  # noqa: UP045
    identity: Annotated[Optional[list[str]], _IDENTITY_OPT] = None,  # noqa: UP045
    issuer: Annotated[Optional[str], _ISSUER_OPT] = None,  # noqa: UP045
    repository: Annotated[Optional[str], _REPOSITORY_OPT] = None,  # noqa: UP045
    ref: Annotated[Optional[str], _REF_OPT] = None,  # noqa: UP045
    trusted_root: Annotated[Optional[Path], _TRUSTED_ROOT_OPT] = None,  # noqa: UP045
    staging: Annotated[bool, _STAGING_OPT] = False,
) -> None:
    """Verify a model directory against the signed SBOM (or an OpenSSF model signature with
    --oms-signature); exit 1 on any difference."""
    if oms_signature is not None:
        if sbom is not None or signature or component is not None:
            raise UsageError("--oms-signature replaces --sbom, --signature and --component")
        if deployment is not None or min_serial is not None:
            raise UsageError("--deployment and --min-serial apply to SBOMs, not --oms-signature")
    elif certificate_chain:
        raise UsageError("--certificate-chain applies to --oms-signature")
    run = _resolve(
        config=config,
        no_config=no_config,
        trees=(directory,),
        sbom=sbom,
        signature=signature,
        key=key,
        identity=identity,
        issuer=issuer,
        repository=repository,
        ref=ref,
        certificate_chain=certificate_chain,
        trusted_root=trusted_root,
        staging=staging,
        ignore=ignore,
        state=state,
        allow_expired=allow_expired,
        deployment=deployment,
        min_serial=min_serial,
    )
    if oms_signature is not None:
        _emit(_verify_oms(directory, oms_signature, run), format_, output)
    _emit(_verify_tree("model", directory, run, component), format_, output)


@verify_app.command("dataset")
@_reports_failure("verify dataset")
def verify_dataset(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Dataset directory.")],
    sbom: Annotated[Optional[Path], _SBOM_OPT] = None,  # noqa: UP045
    signature: Annotated[Optional[list[Path]], _SIG_OPT] = None,  # noqa: UP045
    key: Annotated[Optional[list[Path]], _KEY_OPT] = None,  # noqa: UP045
    component: Annotated[Optional[str], _COMPONENT_OPT] = None,  # noqa: UP045
    format_: Annotated[ReportFormat, _FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], _OUTPUT_OPT] = None,  # noqa: UP045
    config: Annotated[Optional[Path], _CONFIG_OPT] = None,  # noqa: UP045
    no_config: Annotated[bool, _NO_CONFIG_OPT] = False,
    ignore: Annotated[Optional[list[str]], _IGNORE_OPT] = None,  # noqa: UP045
    allow_expired: Annotated[bool, _ALLOW_EXPIRED_OPT] = False,
    state: Annotated[Optional[Path], _STATE_OPT] = None,  # noqa: UP045
    deployment: Annotated[Optional[str], _DEPLOYMENT_OPT] = None,  # noqa: UP045
    min_serial: Annotated[Optional[int], _MIN_SERIAL_OPT] = None,  # noqa: UP045
    identity: Annotated[Optional[list[str]], _IDENTITY_OPT] = None,  # noqa: UP045
    issuer: Annotated[Optional[str], _ISSUER_OPT] = None,  # noqa: UP045
    repository: Annotated[Optional[str], _REPOSITORY_OPT] = None,  # noqa: UP045
    ref: Annotated[Optional[str], _REF_OPT] = None,  # noqa: UP045
    trusted_root: Annotated[Optional[Path], _TRUSTED_ROOT_OPT] = None,  # noqa: UP045
    staging: Annotated[bool, _STAGING_OPT] = False,
) -> None:
    """Verify a dataset directory against the signed SBOM; exit 1 on any difference."""
    run = _resolve(
        config=config,
        no_config=no_config,
        trees=(directory,),
        sbom=sbom,
        signature=signature,
        key=key,
        identity=identity,
        issuer=issuer,
        repository=repository,
        ref=ref,
        trusted_root=trusted_root,
        staging=staging,
        ignore=ignore,
        state=state,
        allow_expired=allow_expired,
        deployment=deployment,
        min_serial=min_serial,
    )
    _emit(_verify_tree("dataset", directory, run, component), format_, output)


@verify_app.command("deployment")
@_reports_failure("verify deployment")
def verify_deployment(
    config: Annotated[Optional[Path], _CONFIG_OPT] = None,  # noqa: UP045
    sbom: Annotated[Optional[Path], _SBOM_OPT] = None,  # noqa: UP045
    signature: Annotated[Optional[list[Path]], _SIG_OPT] = None,  # noqa: UP045
    key: Annotated[Optional[list[Path]], _KEY_OPT] = None,  # noqa: UP045
    format_: Annotated[ReportFormat, _FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], _OUTPUT_OPT] = None,  # noqa: UP045
    ignore: Annotated[Optional[list[str]], _IGNORE_OPT] = None,  # noqa: UP045
    allow_expired: Annotated[bool, _ALLOW_EXPIRED_OPT] = False,
    state: Annotated[Optional[Path], _STATE_OPT] = None,  # noqa: UP045
    deployment: Annotated[Optional[str], _DEPLOYMENT_OPT] = None,  # noqa: UP045
    min_serial: Annotated[Optional[int], _MIN_SERIAL_OPT] = None,  # noqa: UP045
    identity: Annotated[Optional[list[str]], _IDENTITY_OPT] = None,  # noqa: UP045
    issuer: Annotated[Optional[str], _ISSUER_OPT] = None,  # noqa: UP045
    repository: Annotated[Optional[str], _REPOSITORY_OPT] = None,  # noqa: UP045
    ref: Annotated[Optional[str], _REF_OPT] = None,  # noqa: UP045
    trusted_root: Annotated[Optional[Path], _TRUSTED_ROOT_OPT] = None,  # noqa: UP045
    staging: Annotated[bool, _STAGING_OPT] = False,
) -> None:
    """Verify a whole deployment described by chainguard.toml: one report, one exit code."""
    from chainguard import api

    run = _resolve(
        config=config,
        no_config=False,
        sbom=sbom,
        signature=signature,
        key=key,
        identity=identity,
        issuer=issuer,
        repository=repository,
        ref=ref,
        trusted_root=trusted_root,
        staging=staging,
        ignore=ignore,
        state=state,
        allow_expired=allow_expired,
        deployment=deployment,
        min_serial=min_serial,
    )
    cfg = run.config
    if cfg.path is None:
        raise UsageError(
            "verify deployment needs a chainguard.toml (--config FILE, $CHAINGUARD_CONFIG "
            "or ./chainguard.toml)"
        )
    _refuse_config_inside_its_trees(cfg)
    bar = _ProgressBar("verifying deployment")
    try:
        report = api.verify_deployment(
            trust=run.trust,
            models=cfg.models,
            datasets=cfg.datasets,
            locks=cfg.locks,
            environments=cfg.environments,
            ignore=run.ignore,
            progress=bar,
        )
    finally:
        bar.close()
    _emit(report, format_, output)


def _refuse_config_inside_its_trees(cfg: Config) -> None:
    """A deployment config found in the working directory must not lie inside a model or
    dataset it describes: that tree's publisher would then configure its own verification."""
    from chainguard.config import enclosing_tree

    if cfg.path is None or not cfg.implicit:
        return
    inside = enclosing_tree(cfg.path, [p for _, p in (*cfg.models, *cfg.datasets)])
    if inside is not None:
        from chainguard.errors import ConfigError

        raise ConfigError(
            f"{cfg.path}: refusing a config found inside the tree it verifies ({inside}); "
            "move it out and pass --config FILE"
        )


# ------------------------------------------------------------------------------ verify deps


@verify_app.command("deps")
@_reports_failure("verify deps")
def verify_deps(
    lockfile: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Argument(
            metavar="[LOCKFILE]", help="requirements.txt, pylock.toml, uv.lock or poetry.lock."
        ),
    ] = None,
    env: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--env", metavar="PYTHON", help="Installed environment instead: venv or interpreter."
        ),
    ] = None,
    sbom: Annotated[Optional[Path], _SBOM_OPT] = None,  # noqa: UP045
    signature: Annotated[Optional[list[Path]], _SIG_OPT] = None,  # noqa: UP045
    key: Annotated[Optional[list[Path]], _KEY_OPT] = None,  # noqa: UP045
    component: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--component", help="Manifest name in the SBOM (uv.lock, .venv, …)."),
    ] = None,
    require_hashes: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--require-hashes/--no-require-hashes",
            help="Every requirement pinned by hash (default: when the signed ones all are).",
        ),
    ] = None,
    format_: Annotated[ReportFormat, _FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], _OUTPUT_OPT] = None,  # noqa: UP045
    config: Annotated[Optional[Path], _CONFIG_OPT] = None,  # noqa: UP045
    no_config: Annotated[bool, _NO_CONFIG_OPT] = False,
    allow_expired: Annotated[bool, _ALLOW_EXPIRED_OPT] = False,
    state: Annotated[Optional[Path], _STATE_OPT] = None,  # noqa: UP045
    deployment: Annotated[Optional[str], _DEPLOYMENT_OPT] = None,  # noqa: UP045
    min_serial: Annotated[Optional[int], _MIN_SERIAL_OPT] = None,  # noqa: UP045
    identity: Annotated[Optional[list[str]], _IDENTITY_OPT] = None,  # noqa: UP045
    issuer: Annotated[Optional[str], _ISSUER_OPT] = None,  # noqa: UP045
    repository: Annotated[Optional[str], _REPOSITORY_OPT] = None,  # noqa: UP045
    ref: Annotated[Optional[str], _REF_OPT] = None,  # noqa: UP045
    trusted_root: Annotated[Optional[Path], _TRUSTED_ROOT_OPT] = None,  # noqa: UP045
    staging: Annotated[bool, _STAGING_OPT] = False,
) -> None:
    """Verify a lockfile or an installed environment against the signed SBOM's dependencies;
    exit 1 on any difference."""
    from chainguard import api

    if (lockfile is None) == (env is None):
        raise UsageError("give exactly one of LOCKFILE or --env PYTHON")
    trees = [env] if env is not None and env.is_dir() else []
    run = _resolve(
        config=config,
        no_config=no_config,
        trees=trees,
        sbom=sbom,
        signature=signature,
        key=key,
        identity=identity,
        issuer=issuer,
        repository=repository,
        ref=ref,
        trusted_root=trusted_root,
        staging=staging,
        state=state,
        allow_expired=allow_expired,
        deployment=deployment,
        min_serial=min_serial,
    )
    report = api.verify_deps(
        lockfile, env=env, trust=run.trust, component=component, require_hashes=require_hashes
    )
    _emit(report, format_, output)


# ------------------------------------------------------------------------------ verify blob


@verify_app.command("blob")
@_reports_failure("verify blob")
def verify_blob(
    file: Annotated[Path, typer.Argument(help="The file the bundle signs.")],
    bundle: Annotated[Path, typer.Option("--bundle", help="Sigstore bundle (.sigstore.json).")],
    key: Annotated[Optional[list[Path]], _KEY_OPT] = None,  # noqa: UP045
    identity: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--identity", help="Trusted certificate identity (SAN); repeatable, OR-ed."),
    ] = None,
    issuer: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--issuer", help="OIDC issuer of the trusted identity (required with it)."),
    ] = None,
    trusted_root: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--trusted-root", help="Sigstore trusted_root.json (private instance)."),
    ] = None,
    staging: Annotated[
        bool, typer.Option("--staging", help="Use Sigstore's staging trusted root.")
    ] = False,
    repository: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--repository", help="GitHub OWNER/REPO the signing workflow ran in."),
    ] = None,
    ref: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--ref", help="GitHub ref the workflow ran on (refs/tags/v1.2.3)."),
    ] = None,
    format_: Annotated[ReportFormat, _FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], _OUTPUT_OPT] = None,  # noqa: UP045
) -> None:
    """Verify one file against a signature bundle (offline); exit 1 if it does not verify.

    Trust comes from the command line only: verify blob reads no config file."""
    from dataclasses import replace

    from chainguard import api
    from chainguard.trust.gate import TrustInputs, summarize

    if key and identity:
        raise UsageError("choose one kind of trust: --key, or --identity with --issuer")
    policies = _identity_policies(identity, issuer, repository, ref)
    report = api.verify_blob(
        file,
        bundle,
        keys=key or [],
        identities=policies,
        trusted_root=trusted_root,
        staging=staging,
    )
    anchors = TrustInputs(
        sbom=None,
        signatures=(bundle,),
        keys=tuple(key or ()),
        identities=tuple(policies),
        trusted_root=trusted_root,
        staging=staging,
    )
    _emit(replace(report, trust=summarize(anchors)), format_, output)


# -------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: run the app and map every error to one line and a documented exit code."""
    import importlib

    # typer >= 0.2x vendors click (typer._click) and raises its own copies of click's
    # exceptions; the module that defines typer.BadParameter is the one it raises from.
    click_exceptions = importlib.import_module(typer.BadParameter.__module__)
    args = sys.argv[1:] if argv is None else argv
    command = typer.main.get_command(app)
    try:
        rc = command.main(args, prog_name="chainguard", standalone_mode=False)
        code = int(rc) if isinstance(rc, int) else 0
    except typer.Exit as e:
        code = e.exit_code
    except click_exceptions.ClickException as e:
        e.show()
        code = int(ExitCode.USAGE)
    except typer.Abort:
        sys.stderr.write("chainguard: aborted\n")
        code = 130
    except ChainguardError as e:
        sys.stderr.write(f"chainguard: error: {_one_line(str(e))}\n")
        code = int(e.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("chainguard: interrupted\n")
        code = 130
    except Exception as e:  # never a traceback for users; CHAINGUARD_DEBUG shows it
        if os.environ.get("CHAINGUARD_DEBUG"):
            raise
        sys.stderr.write(
            f"chainguard: internal error: {type(e).__name__}: {_one_line(str(e))} "
            "(set CHAINGUARD_DEBUG=1 for a traceback)\n"
        )
        code = int(ExitCode.CANNOT_VERIFY)
    sys.exit(code)


def _one_line(message: str) -> str:
    return " ".join(message.split())


__all__ = ["UsageError", "app", "main"]

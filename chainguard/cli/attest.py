"""attest (verify, sign what was seen, log it, tell someone) and the log group (show, verify)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

import typer

from chainguard.cli._app import ReportFormat, app
from chainguard.cli._options import CONFIG_OPT, OUTPUT_OPT, assurance_of, resolve
from chainguard.cli._output import emit, reports_failure
from chainguard.cli._progress import ProgressBar
from chainguard.cli.fleet import INSECURE_OPT, USERNAME_OPT
from chainguard.errors import ConfigError, ExitCode, UsageError

if TYPE_CHECKING:
    from chainguard.attest.log import StoredEntry
    from chainguard.config import AttestConfig, Config
    from chainguard.fleet.publish import PublishTarget

T = TypeVar("T")

log_app = typer.Typer(help="Read and check the attestation log.", no_args_is_help=True)
app.add_typer(log_app, name="log")

ATTEST_STATE_OPT = typer.Option(
    "--state",
    metavar="DIR",
    help="State directory: attestation log, rollback store, host key (default: [attest] state, "
    "then state, then $CHAINGUARD_STATE_DIR, /var/lib/chainguard as root, "
    "~/.local/state/chainguard).",
)


# ------------------------------------------------------------------------------------ attest


@app.command("attest")
def attest(
    config: Annotated[Optional[Path], CONFIG_OPT] = None,  # noqa: UP045
    host_key: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--host-key",
            metavar="KEY",
            help="The host's private signing key (default: <state>/host.key, created 0600 on "
            "the first run).",
        ),
    ] = None,
    state: Annotated[Optional[Path], ATTEST_STATE_OPT] = None,  # noqa: UP045
    attestation: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--attestation", metavar="FILE", help="Also write the signed attestation here."
        ),
    ] = None,
    incremental: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--incremental/--no-incremental",
            help="Do not read files again whose identity is unchanged since the last run "
            "(hash cache in the state directory, authenticated by the host key; "
            "default: [attest] incremental, else off).",
        ),
    ] = None,
    max_read_rate: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--max-read-rate",
            metavar="RATE",
            help="Read files no faster than this, e.g. 200MiB/s (default: [attest] "
            "max_read_rate, else unlimited).",
        ),
    ] = None,
    low_priority: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--low-priority/--normal-priority",
            help="Lower this run's CPU priority (nice 10) and I/O priority (idle class) where "
            "the OS allows (default: [attest] low_priority, else on).",
        ),
    ] = None,
    metrics_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--metrics-file",
            metavar="FILE",
            help="Write Prometheus metrics here (node_exporter's textfile collector).",
        ),
    ] = None,
    webhook: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--webhook", metavar="URL", help="POST the signed attestation (JSON) to this URL."
        ),
    ] = None,
    publish: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--publish",
            metavar="oci://HOST[:PORT]/REPO",
            help="Push each signed attestation to this OCI repository (default: [attest] "
            "publish); one that cannot be pushed is kept and pushed with the next run. Needs "
            "chainguard[fleet].",
        ),
    ] = None,
    host: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--host",
            metavar="NAME",
            help="The host name attestations are signed and published under (default: "
            "[attest] host, else the machine's hostname).",
        ),
    ] = None,
    username: Annotated[Optional[str], USERNAME_OPT] = None,  # noqa: UP045
    insecure: Annotated[bool, INSECURE_OPT] = False,
    format_: Annotated[
        Optional[ReportFormat],  # noqa: UP045
        typer.Option("-f", "--format", help="Report format (default: [attest] format, else text)."),
    ] = None,
    output: Annotated[Optional[Path], OUTPUT_OPT] = None,  # noqa: UP045
    process: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--process",
            metavar="SPEC",
            help="Also check a live server, as verify process (repeatable): a PID file, "
            "systemd:UNIT or a PID (default: [attest] processes; given here, it replaces them).",
        ),
    ] = None,
    lock_timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            "--lock-timeout",
            metavar="SECONDS",
            min=0.0,
            max=86400.0,
            help="How long to wait for another attest run to finish (default 60).",
        ),
    ] = None,
) -> None:
    """Verify the deployment (as verify deployment), sign a SLSA verification summary with the
    host key, append it to the attestation log, and report what changed since the last run."""
    from chainguard.config import load_config

    # [attest] supplies what the command line leaves unset; its own errors are exit 3.
    section = load_config(config).attest if config is not None or _config_exists() else None
    chosen_format = format_ or _format_of(section.format if section else None, config)
    target, host_name = _publishing(publish, host, username, insecure, section, config)
    reports_failure("attest")(_attest)(
        config=config,
        host_key=host_key or (section.host_key if section else None),
        state=state or (section.state if section else None),
        attestation=attestation or (section.attestation if section else None),
        incremental=_first(incremental, section.incremental if section else None, False),
        max_read_rate=max_read_rate,
        section=section,
        low_priority=_first(low_priority, section.low_priority if section else None, True),
        metrics_file=metrics_file or (section.metrics_file if section else None),
        webhook=webhook or (section.webhook if section else None),
        processes=_processes(process, section),
        publish=target,
        host=host_name,
        format_=chosen_format,
        output=output or (section.output if section else None),
        lock_timeout=lock_timeout
        if lock_timeout is not None
        else (section.lock_timeout if section else None),
    )


def _publishing(
    publish: str | None,
    host: str | None,
    username: str | None,
    insecure: bool,
    section: AttestConfig | None,
    config: Path | None,
) -> tuple[PublishTarget | None, str | None]:
    """--publish / [attest] publish and the host name, checked before anything runs: a bad
    address or name is exit 2 given here, exit 3 in the config; no fleet extra is exit 2."""
    from chainguard.cli.fleet import registry_password, registry_ref
    from chainguard.fleet.publish import PublishTarget, check_host_name, default_host_name

    where = f"{config or 'chainguard.toml'}: attest"
    configured_host = section.host if section is not None else None
    configured_publish = section.publish if section is not None else None
    if host is not None:
        name: str | None = check_host_name(host)
    elif configured_host is not None:
        name = _as_config_error(lambda: check_host_name(configured_host, f"{where}.host"))
    else:
        name = None
    if publish is not None:
        ref = registry_ref(publish, insecure=insecure, option="--publish")
    elif configured_publish is not None:
        ref = _as_config_error(
            lambda: registry_ref(configured_publish, insecure=insecure, option=f"{where}.publish")
        )
    else:
        return None, name
    target = PublishTarget(ref, username, registry_password(username))
    return target, name or default_host_name()


def _as_config_error(check: Callable[[], T]) -> T:
    """A value from [attest] that is wrong is the config's error (exit 3), not usage (2); a
    missing extra stays exit 2."""
    from chainguard.errors import MissingExtraError

    try:
        return check()
    except MissingExtraError:
        raise
    except UsageError as e:
        raise ConfigError(str(e)) from None


def _first(given: bool | None, configured: bool | None, default: bool) -> bool:
    """The command line, else [attest], else the default."""
    return given if given is not None else configured if configured is not None else default


def _processes(given: list[str] | None, section: AttestConfig | None) -> tuple[str, ...]:
    """--process (checked: a usage error, exit 2), else [attest] processes."""
    from chainguard.collectors.pidspec import check_spec

    if given:
        return tuple(check_spec(spec) for spec in given)
    return (section.processes or ()) if section else ()


def _config_exists() -> bool:
    import os

    from chainguard.config import CONFIG_ENV, CONFIG_NAME

    return bool(os.environ.get(CONFIG_ENV)) or Path(CONFIG_NAME).is_file()


def _format_of(value: str | None, config: Path | None) -> ReportFormat:
    if value is None:
        return ReportFormat.text
    try:
        return ReportFormat(value)
    except ValueError:
        known = ", ".join(f.value for f in ReportFormat)
        raise ConfigError(
            f"{config or 'chainguard.toml'}: attest.format {value!r} is not one of {known}"
        ) from None


def _attest(
    *,
    config: Path | None,
    host_key: Path | None,
    state: Path | None,
    attestation: Path | None,
    incremental: bool,
    max_read_rate: str | None,
    section: AttestConfig | None,
    low_priority: bool,
    metrics_file: Path | None,
    webhook: str | None,
    processes: tuple[str, ...],
    publish: PublishTarget | None,
    host: str | None,
    format_: ReportFormat,
    output: Path | None,
    lock_timeout: float | None,
) -> None:
    from chainguard import api
    from chainguard.api.attestation import DEFAULT_LOCK_TIMEOUT, AttestOptions, check_webhook
    from chainguard.attest.cache import DEFAULT_FULL_REHASH_EVERY
    from chainguard.hashing_throttle import parse_rate
    from chainguard.trust.state import default_state_dir

    check_webhook(webhook)
    # the command line's rate is a usage error (exit 2); [attest]'s was checked as config (3)
    try:
        read_rate = parse_rate(max_read_rate) if max_read_rate is not None else None
    except UsageError as e:
        raise UsageError(f"--max-read-rate: {e}") from None
    if read_rate is None and section is not None:
        read_rate = section.max_read_rate
    full_rehash_every = section.full_rehash_every if section else None
    dataset_sample = section.dataset_sample if section else None
    probe = resolve(config=config, no_config=False)
    cfg: Config = probe.config
    cfg.require_deployment_config()
    assert cfg.path is not None  # require_deployment_config
    state_dir = state or cfg.state or default_state_dir()
    # The rollback store lives in the same state directory as the log.
    run = resolve(config=config, no_config=False, state=state_dir)
    bar = ProgressBar("attesting deployment")
    try:
        result = api.attest(
            trust=run.trust,
            config=cfg.path,
            options=AttestOptions(
                state_dir=state_dir,
                host_key=host_key,
                attestation=attestation,
                metrics_file=metrics_file,
                webhook=webhook,
                lock_timeout=DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout,
                incremental=incremental,
                full_rehash_every=full_rehash_every or DEFAULT_FULL_REHASH_EVERY,
                dataset_sample=dataset_sample or 0.0,
                max_read_rate=read_rate,
                low_priority=low_priority,
                host=host,
                publish=publish,
            ),
            models=cfg.models,
            datasets=cfg.datasets,
            locks=cfg.locks,
            environments=cfg.environments,
            ignore=run.ignore,
            progress=bar,
            assurance=assurance_of(
                run, require_patch=None, claim=None, claim_timeout=None, vex=None, advisories=None
            ),
            processes=processes,
        )
    finally:
        bar.close()
    if result.created_host_key is not None:
        sys.stderr.write(
            f"chainguard: created the host key; its public key is {result.created_host_key} "
            "(give it to whoever checks this host's attestations)\n"
        )
    sys.stderr.write(
        f"chainguard: {result.drift.summary()}; log entry {result.seq}, "
        f"head sha256:{result.entry_digest}\n"
    )
    emit(result.report, format_, output)


# --------------------------------------------------------------------------------------- log


class LogFormat(str, Enum):
    text = "text"
    json = "json"


LOG_STATE_OPT = typer.Option(
    "--state",
    metavar="DIR",
    help="State directory holding the log (default: $CHAINGUARD_STATE_DIR, /var/lib/chainguard "
    "as root, ~/.local/state/chainguard).",
)


def _log_dir(state: Path | None) -> Path:
    from chainguard.trust.state import default_state_dir

    return state or default_state_dir()


@log_app.command("show")
def log_show(
    state: Annotated[Optional[Path], LOG_STATE_OPT] = None,  # noqa: UP045
    since: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--since",
            metavar="TIME",
            help="Only entries from this time on: RFC 3339 (2026-01-31T00:00:00Z) or an age "
            "(90m, 24h, 7d).",
        ),
    ] = None,
    format_: Annotated[LogFormat, typer.Option("--format", help="Output format.")] = (
        LogFormat.text
    ),
) -> None:
    """One line per run: sequence number, time, result, findings, drift, entry digest. Nothing
    is verified here: use chainguard log verify."""
    from chainguard.attest.log import AttestationLog

    cutoff = _parse_since(since) if since is not None else None
    with AttestationLog(_log_dir(state), create=False) as log:
        rows = [_summary(e, str(log.path)) for e in log.entries()]
    rows = [r for r in rows if cutoff is None or _entry_time(r) >= cutoff]
    if format_ is LogFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    for r in rows:
        counts, drift = r["counts"], r["drift"]
        sys.stdout.write(
            f"{r['seq']:>6}  {r['time']}  {r['result']:<6}  "
            f"errors {counts.get('error', 0)} warnings {counts.get('warning', 0)}  "
            f"drift +{drift.get('new', 0)} -{drift.get('resolved', 0)} "
            f"={drift.get('unchanged', 0)}  sha256:{r['digest']}\n"
        )


def _summary(entry: StoredEntry, source: str) -> dict[str, Any]:
    from chainguard.attest.log import parse_entry
    from chainguard.errors import InputError

    try:
        doc = parse_entry(entry, source)
    except InputError:
        doc = {}
    return {
        "seq": entry.seq,
        "time": doc.get("time"),
        "result": doc.get("result", "unreadable"),
        "counts": doc.get("counts") if isinstance(doc.get("counts"), dict) else {},
        "drift": doc.get("drift") if isinstance(doc.get("drift"), dict) else {},
        "digest": entry.digest,
    }


def _entry_time(row: dict[str, Any]) -> datetime:
    try:
        return _parse_time(str(row["time"]))
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _parse_since(text: str) -> datetime:
    import re

    match = re.fullmatch(r"([0-9]{1,9})([smhd])", text.strip())
    if match:
        seconds = int(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
        return datetime.now(timezone.utc) - timedelta(seconds=seconds)
    try:
        return _parse_time(text)
    except ValueError:
        raise UsageError(
            f"--since {text!r}: give an RFC 3339 time (2026-01-31T00:00:00Z) or an age "
            "(90m, 24h, 7d)"
        ) from None


@log_app.command("verify")
def log_verify(
    state: Annotated[Optional[Path], LOG_STATE_OPT] = None,  # noqa: UP045
    key: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--key",
            metavar="HOST.pub",
            help="The host's public key (default: <state>/host.pub; pass a copy kept elsewhere: "
            "one in the state directory is only as safe as the log).",
        ),
    ] = None,
) -> None:
    """Walk the chain and check every signature: exit 0 when intact, 1 naming the first broken
    entry and how it is broken (deleted, edited, reordered, swapped, bad signature)."""
    from chainguard.attest.log import AttestationLog, verify_log
    from chainguard.trust.keys import load_public_key

    directory = _log_dir(state)
    public = load_public_key(key or directory / "host.pub")
    with AttestationLog(directory, create=False) as log:
        check = verify_log(log.entries(), public, str(log.path))
    if check.broken is not None:
        seq, how = check.broken
        sys.stdout.write(f"attestation log {log.path}: entry {seq} is broken: {how}\n")
        raise typer.Exit(int(ExitCode.FINDINGS))
    head = f"head sha256:{check.head}" if check.head else "empty"
    sys.stdout.write(
        f"attestation log {log.path}: {check.length} entries intact, {head} "
        f"(host key {public.fingerprint[:16]})\n"
    )

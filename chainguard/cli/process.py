"""verify process: what a running process loaded, against the deployment verified on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from chainguard.cli._app import ReportFormat, verify_app
from chainguard.cli._options import (
    ASSURANCE_OPTIONS,
    CONFIG_OPT,
    FORMAT_OPT,
    IGNORE_OPT,
    KEY_OPT,
    OUTPUT_OPT,
    PIN_OPTIONS,
    SBOM_OPT,
    SIG_OPT,
    SIGSTORE_OPTIONS,
    Options,
    assurance_of,
    resolve,
    with_options,
)
from chainguard.cli._output import emit, reports_failure
from chainguard.cli._progress import ProgressBar


@verify_app.command("process")
@reports_failure("verify process")
@with_options(pins=PIN_OPTIONS, sigstore=SIGSTORE_OPTIONS, assurance=ASSURANCE_OPTIONS)
def verify_process(
    pid: Annotated[int, typer.Argument(metavar="PID", help="The running process to check.")],
    config: Annotated[Optional[Path], CONFIG_OPT] = None,  # noqa: UP045
    sbom: Annotated[Optional[Path], SBOM_OPT] = None,  # noqa: UP045
    signature: Annotated[Optional[list[Path]], SIG_OPT] = None,  # noqa: UP045
    key: Annotated[Optional[list[Path]], KEY_OPT] = None,  # noqa: UP045
    format_: Annotated[ReportFormat, FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], OUTPUT_OPT] = None,  # noqa: UP045
    ignore: Annotated[Optional[list[str]], IGNORE_OPT] = None,  # noqa: UP045
    *,
    pins: Options,
    sigstore: Options,
    assurance: Options,
) -> None:
    """Verify the deployment of chainguard.toml on disk, then what running process PID has
    loaded of it (Linux /proc): one report, one exit code."""
    from chainguard import api

    run = resolve(
        config=config,
        no_config=False,
        sbom=sbom,
        signature=signature,
        key=key,
        ignore=ignore,
        **sigstore,
        **pins,
    )
    cfg = run.config
    cfg.require_deployment_config()
    bar = ProgressBar(f"verifying deployment and process {pid}")
    try:
        report = api.verify_process(
            pid,
            trust=run.trust,
            models=cfg.models,
            datasets=cfg.datasets,
            locks=cfg.locks,
            environments=cfg.environments,
            ignore=run.ignore,
            progress=bar,
            assurance=assurance_of(run, **assurance),
        )
    finally:
        bar.close()
    emit(report, format_, output)

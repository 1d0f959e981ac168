"""chainguard scan: formats and risks of a file or directory, without an SBOM (api.scan_path)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from chainguard.cli._app import ReportFormat, app
from chainguard.cli._options import CONFIG_OPT, FORMAT_OPT, NO_CONFIG_OPT, OUTPUT_OPT
from chainguard.cli._output import reports_failure


@app.command("scan")
@reports_failure("scan")
def scan(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="PATH", help="A file or directory to scan.")],
    format_: Annotated[ReportFormat, FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], OUTPUT_OPT] = None,  # noqa: UP045
    config: Annotated[Optional[Path], CONFIG_OPT] = None,  # noqa: UP045
    no_config: Annotated[bool, NO_CONFIG_OPT] = False,
) -> None:
    """Report every file's real format (from its bytes) and what makes loading it unsafe:
    pickles importing more than tensors need (unsafe-pickle), malformed safetensors or GGUF
    (malformed-artifact), risky chat templates (template-review). Exit 0 when nothing is
    unsafe, 1 when something is, 3 when PATH cannot be read.

    The [formats] policy (allow/deny, per path glob) comes from the config file, found as for
    verify (never one inside the scanned directory)."""
    from chainguard.api.scan import scan_path
    from chainguard.cli._output import emit
    from chainguard.collectors.scanwalk import EarlyScan
    from chainguard.config import load_config

    early = ctx.obj if isinstance(ctx.obj, EarlyScan) else None  # started by _launch.py
    cfg = load_config(config, no_config=no_config, trees=[file] if file.is_dir() else [])
    emit(scan_path(file, config=cfg, early=early), format_, output)

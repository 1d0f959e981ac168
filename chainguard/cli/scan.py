"""chainguard scan: formats and risks of a file or directory, without an SBOM (api.scan_path)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from chainguard.cli._app import ReportFormat, app
from chainguard.cli._options import FORMAT_OPT, OUTPUT_OPT
from chainguard.cli._output import reports_failure


@app.command("scan")
@reports_failure("scan")
def scan(
    file: Annotated[Path, typer.Argument(metavar="PATH", help="A file or directory to scan.")],
    format_: Annotated[ReportFormat, FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], OUTPUT_OPT] = None,  # noqa: UP045
) -> None:
    """Report every file's real format (from its bytes) and what makes loading it unsafe:
    pickles importing more than tensors need (unsafe-pickle), malformed safetensors or GGUF
    (malformed-artifact), risky chat templates (template-review). Exit 0 when nothing is
    unsafe, 1 when something is, 3 when PATH cannot be read."""
    from chainguard.api.scan import scan_path
    from chainguard.cli._output import emit

    emit(scan_path(file), format_, output)

"""Writing a verify report: the format chosen, --output replaced in one step, the GitHub job
summary, a could-not-verify report on failure, the exit code."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from chainguard.cli._app import ReportFormat, one_line
from chainguard.errors import ChainguardError, ExitCode, OutputError

if TYPE_CHECKING:
    from chainguard.findings import Report


# ------------------------------------------------------------------------- verify: reporting


def reports_failure(command: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
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
                    one_line(str(e))
                    if isinstance(e, ChainguardError)
                    else (f"internal error: {type(e).__name__}: {one_line(str(e))}")
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

    write_atomically(output, get_reporter(format_.value).render(report))


def write_atomically(output: Path, text: str) -> None:
    """Replace ``output`` with ``text`` in one step (a fifo or /dev/stdout: written in place)."""
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


def emit(report: Report, format_: ReportFormat, output: Path | None) -> NoReturn:
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

"""Report formats. A new format is one module here plus one line in REPORTERS.

Importing this package stays cheap (stdlib and chainguard.findings only): every verify run
renders a report, and rich/typer-sized imports would show in its wall time.
"""

from __future__ import annotations

from chainguard.errors import UsageError
from chainguard.reporters.interface import Reporter
from chainguard.reporters.json import JsonReporter
from chainguard.reporters.markdown import MarkdownReporter
from chainguard.reporters.sarif import SarifReporter
from chainguard.reporters.text import TextReporter

REPORTERS: dict[str, Reporter] = {
    reporter.name: reporter
    for reporter in (TextReporter(), JsonReporter(), SarifReporter(), MarkdownReporter())
}


def get_reporter(name: str) -> Reporter:
    """The reporter registered as `name`, or a UsageError naming the valid choices."""
    try:
        return REPORTERS[name]
    except KeyError:
        choices = ", ".join(sorted(REPORTERS))
        raise UsageError(f"unknown report format {name!r}; choose one of: {choices}") from None


__all__ = [
    "REPORTERS",
    "JsonReporter",
    "MarkdownReporter",
    "Reporter",
    "SarifReporter",
    "TextReporter",
    "get_reporter",
]

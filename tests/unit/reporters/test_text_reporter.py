from __future__ import annotations

import pytest

from chainguard.findings import RULES, Finding, Report, Stats
from chainguard.reporters.interface import display_width, format_stats
from chainguard.reporters.text import TextReporter, _wrap

DIGEST = "c" * 64


def test_clean_report(clean_report: Report) -> None:
    out = TextReporter().render(clean_report)
    lines = out.splitlines()
    assert lines[0] == "✔ verified  models/llama"
    assert "llama-prod@1.4.0" in out
    assert "release key (ecdsa-p256 1f2e3d4c)" in out
    assert "SEVERITY" not in out
    assert lines[-1] == "3 files, 3.0 GiB hashed in 2.00 s (1536 MiB/s)"


def test_failing_report_header(failing_report: Report) -> None:
    first, *rest = TextReporter().render(failing_report).splitlines()
    assert first.startswith("✘ verification FAILED  models/llama")
    assert "(4 errors, 1 warning, 1 note)" in first
    assert "  deployment  llama-prod@1.4.0" in rest
    assert "  signed by   (no verified signer)" in rest


def _first(report: Report, rule: str) -> Finding:
    return next(f for f in report.findings if f.rule == rule)


def test_failing_report_table(failing_report: Report) -> None:
    modified = _first(failing_report, "artifact-modified")
    unexpected = _first(failing_report, "artifact-unexpected")
    assert modified.expected and modified.actual and unexpected.actual
    out = TextReporter(width=120).render(failing_report)
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("SEVERITY"))
    for column in ("RULE", "PATH", "EXPECTED → ACTUAL"):
        assert column in header
    # Digests are cut to 16 hex digits in the table; full values are for JSON/SARIF.
    assert f"{modified.expected[:16]}… → {modified.actual[:16]}…" in out
    assert modified.expected not in out and modified.actual not in out
    assert f"— → {unexpected.actual[:16]}…" in out  # nothing was expected
    assert unexpected.path in out  # "|" and non-ASCII pass through unharmed
    assert "1.26.4 → 2.0.0" in out
    # A finding with neither expected nor actual shows its message instead.
    assert "signed by key 9f3a, which is not trusted" in out


def test_errors_come_first(failing_report: Report) -> None:
    rows = [
        line.split()[0]
        for line in TextReporter(width=160).render(failing_report).splitlines()
        if line.split() and line.split()[0] in {"error", "warning", "note"}
    ]
    assert rows == ["error", "error", "error", "error", "warning", "note"]


def test_remediation_once_per_rule(failing_report: Report) -> None:
    out = TextReporter(width=200).render(failing_report)
    assert "What to do:" in out
    for rule in {f.rule for f in failing_report.findings}:
        assert out.count(RULES[rule].remediation) == 1
    assert "artifact-modified (2):" in out


@pytest.mark.parametrize("width", [80, 100, 120])
def test_lines_fit_the_width(failing_report: Report, width: int) -> None:
    for line in TextReporter(width=width).render(failing_report).splitlines():
        assert display_width(line) <= width, line


def test_long_path_wraps_without_losing_characters() -> None:
    path = "very/deep/" * 12 + "model-00001-of-00002.safetensors"
    report = Report(
        command="verify model",
        target="m",
        findings=(Finding("artifact-missing", path, "missing", expected=DIGEST),),
    )
    lines = TextReporter(width=80).render(report).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("error"))
    column = lines[start].index("very/")
    pieces = []
    for line in lines[start:]:
        if not line.strip():
            break
        pieces.append(line[column:].split("  ")[0])
    assert "".join(pieces) == path


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("a/b/c/d/e/f/g/h", 4),
        ("abcdefghijklmnopqrstuvwxyz", 5),
        ("模型模型模型模型", 5),
        ("short", 10),
        ("x", 1),
    ],
)
def test_wrap_is_lossless_and_bounded(text: str, width: int) -> None:
    pieces = _wrap(text, width)
    assert "".join(pieces) == text
    assert all(display_width(piece) <= max(width, 2) for piece in pieces)


def test_no_ansi_without_color(failing_report: Report) -> None:
    assert "\x1b" not in TextReporter().render(failing_report, color=False)


def test_color_when_asked(failing_report: Report) -> None:
    out = TextReporter().render(failing_report, color=True)
    assert "\x1b[" in out
    assert "\x1b[1;31m✘ verification FAILED\x1b[0m" in out


def test_hostile_path_cannot_inject_terminal_control() -> None:
    path = "evil\x1b[2J\nname\u202egnp.exe\\x"
    report = Report(
        command="verify model",
        target="t\x07",
        findings=(Finding("artifact-unexpected", path, "unexpected", actual=DIGEST),),
    )
    out = TextReporter(width=200).render(report, color=False)
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "evil\\x1b[2J\\nname\\u202egnp.exe\\\\x" in out
    assert not any(line.startswith("name") for line in out.splitlines())  # no forged line


@pytest.mark.parametrize(
    ("stats", "line"),
    [
        (Stats(), "no files hashed"),
        (Stats(1, 512, 0.0), "1 file, 512 B hashed in 0.00 s"),
        (Stats(2, 5 * 1024**2, 0.5), "2 files, 5.0 MiB hashed in 0.50 s (10 MiB/s)"),
        (Stats(4, 3 * 1024, 0.5), "4 files, 3.0 KiB hashed in 0.50 s (0.0 MiB/s)"),
        (Stats(3, 3 * 1024**3, 2.0), "3 files, 3.0 GiB hashed in 2.00 s (1536 MiB/s)"),
        (Stats(9, 2 * 1024**4, 100.0), "9 files, 2.0 TiB hashed in 100.00 s (20972 MiB/s)"),
    ],
)
def test_stats_line(stats: Stats, line: str) -> None:
    assert format_stats(stats) == line

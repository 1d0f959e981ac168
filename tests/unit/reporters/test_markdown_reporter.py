from __future__ import annotations

import html

import pytest

from chainguard.findings import RULES, Finding, Report
from chainguard.reporters.interface import printable
from chainguard.reporters.markdown import MarkdownReporter


def _cells(row: str) -> list[str]:
    """Split a GFM table row on unescaped pipes."""
    cells: list[str] = []
    current, escaped = "", False
    for ch in row.strip()[1:-1]:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\":
            current += ch
            escaped = True
        elif ch == "|":
            cells.append(current.strip())
            current = ""
        else:
            current += ch
    cells.append(current.strip())
    return cells


def _table_rows(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("|")][2:]


def test_clean_report_is_short(clean_report: Report) -> None:
    out = MarkdownReporter().render(clean_report)
    lines = out.splitlines()
    assert lines[0] == "## ✅ chainguard verified models/llama"
    assert len(lines) <= 3
    assert "|" not in out and "<details>" not in out
    assert "`llama-prod@1.4.0`" in out
    assert "3 files, 3.0 GiB hashed" in out


def test_failing_report(failing_report: Report) -> None:
    out = MarkdownReporter().render(failing_report)
    assert out.startswith("## ❌ chainguard verification failed: models/llama\n")
    assert "4 errors, 1 warning, 1 note" in out
    rows = _table_rows(out)
    assert len(rows) == len(failing_report.findings)
    assert all(len(_cells(row)) == 6 for row in rows)
    assert [_cells(row)[0] for row in rows] == [
        "error", "error", "error", "error", "warning", "note",
    ]  # fmt: skip
    assert "<details>" in out and "</details>" in out
    for rule in {f.rule for f in failing_report.findings}:
        assert out.count(RULES[rule].remediation) == 1
    assert "(2 findings)" in out


def test_pipe_and_unicode_path_stay_in_one_cell(failing_report: Report) -> None:
    out = MarkdownReporter().render(failing_report)
    odd = next(f.path for f in failing_report.findings if "|" in f.path)
    assert odd.replace("|", "\\|") in out


def test_newline_and_html_in_a_path_are_escaped() -> None:
    path = "a\nb|<img src=x onerror=alert(1)>`x`"
    report = Report(
        command="verify model",
        target="t",
        findings=(Finding("artifact-unexpected", path, "unexpected", actual="b" * 64),),
    )
    out = MarkdownReporter().render(report)
    (row,) = _table_rows(out)
    assert len(_cells(row)) == 6
    assert "\\<img" in out
    assert "<img" not in out.replace("\\<img", "")


def test_renders_as_intended_with_a_gfm_parser() -> None:
    """What a reader sees in the cell is the path exactly as the text report prints it."""
    markdown_it = pytest.importorskip("markdown_it")  # present via typer → rich
    path = "dir|x/\\ü 模型 *b* _i_ [l](http://e) <b>&amp;\n"
    report = Report(
        command="verify model",
        target="t",
        findings=(Finding("artifact-unexpected", path, "unexpected", actual="b" * 64),),
    )
    rendered = (
        markdown_it.MarkdownIt("commonmark")
        .enable("table")
        .render(MarkdownReporter().render(report))
    )
    assert f"<td>{html.escape(printable(path), quote=False)}</td>" in rendered
    assert "<b>" not in rendered


def test_long_tables_are_cut(failing_report: Report) -> None:
    out = MarkdownReporter(max_rows=2).render(failing_report)
    assert len(_table_rows(out)) == 2
    assert "…and 4 more" in out

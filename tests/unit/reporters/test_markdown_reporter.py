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
    assert lines[0] == "## ✅ chainguard verified models\\/llama"
    assert len(lines) <= 3
    assert "|" not in out and "<details>" not in out
    assert "`llama-prod@1.4.0`" in out
    assert "3 files, 3.0 GiB hashed" in out


def test_failing_report(failing_report: Report) -> None:
    out = MarkdownReporter().render(failing_report)
    assert out.startswith("## ❌ chainguard verification failed: models\\/llama\n")
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
    assert "`" + odd.replace("|", "\\|") + "`" in out


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
    assert "`` a\\nb\\|<img src=x onerror=alert(1)>`x` ``" in row  # one code span, shown as is


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
    assert f"<td><code>{html.escape(printable(path), quote=False)}</code></td>" in rendered
    assert "<b>" not in rendered


def test_long_tables_are_cut(failing_report: Report) -> None:
    out = MarkdownReporter(max_rows=2).render(failing_report)
    assert len(_table_rows(out)) == 2
    assert "…and 4 more" in out


# --- links: GitHub renders the summary with cmark-gfm, then links mentions and references ---

# Report data an attacker controls: file names, and what they flow into (messages, values).
HOSTILE = [
    "fix at www.evil.example.com now",
    "WWW.EVIL.EXAMPLE.COM",
    "see https://evil.example/x?a=1",
    "ftp://evil.example/a",
    "mail me@evil.example.com",
    "xmpp:me@evil.example.com",
    "mailto:me@evil.example.com",
    "javascript:alert(1)",
    "<https://evil.example>",
    "@octocat please merge",
    "cc @org/team",
    "closes #123",
    "GH-123",
    "octo/repo#123",
    "octo/repo@0123abc",
    "deadbeefcafe",
    "fixed in 0123456789abcdef0123456789abcdef01234567",
    "TICKET-42",
    "[click](https://evil.example)",
    "![x](https://evil.example/i.png)",
    "[ref]\n\n[ref]: https://evil.example",
    "<img src=x onerror=alert(1)>",
    "<a href='https://evil.example'>x</a>",
    "</td></tr><script>x</script>",
    "~~struck~~ *em* _em_ **b**",
    "a|b||c",
    "`a`|`b`",
    "``` | ` |",
    "\\|pipe\\",
    "trailing space ",
    "&lt;amp;&#64;octocat",
    ":smile: x",
]


def _hostile_report(value: str) -> Report:
    return Report(
        command="verify deployment",
        target=value,
        findings=(
            Finding("artifact-unexpected", value, f"file {value} is not in the SBOM", actual=value),
            Finding("dependency-version", "req.txt", value, expected=value, actual="2.0"),
        ),
        signers=(value, "release key"),
        deployment=value,
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_report_data_forms_no_link_on_github(value: str) -> None:
    from support.gfm import assert_no_link, code_texts, render_github

    out = MarkdownReporter().render(_hostile_report(value))
    rendered = render_github(out)
    assert_no_link(rendered)
    assert all(len(_cells(row)) == 6 for row in _table_rows(out))
    # Still visible, exactly as the text report prints it: as code.
    assert printable(value) in code_texts(rendered)
    assert "<td><code>2.0</code></td>" in rendered  # the next cell is where it belongs


def test_prose_stays_prose_and_anything_linkable_is_code() -> None:
    from support.gfm import render_github

    plain = "numpy is not the signed version (1.26 → 2.0), file models/llama"
    report = Report(command="verify model", target="t", findings=(
        Finding("dependency-version", "r", plain),
        Finding("dependency-version", "r", "see GH-7 and sha256 cafe123"),
    ))  # fmt: skip
    rendered = render_github(MarkdownReporter().render(report))
    assert f"<td>{html.escape(plain, quote=False)}</td>" in rendered
    assert "<td><code>see GH-7 and sha256 cafe123</code></td>" in rendered


@pytest.mark.parametrize(
    "value", ["`", "``", "` x `", "  ", " lead", "a`b``c```d", "\\`", "x\ty\n", "\u202eevil"]
)
def test_code_spans_show_the_value_exactly(value: str) -> None:
    from support.gfm import code_texts, render_github

    report = Report(command="verify model", target="t", findings=(
        Finding("artifact-unexpected", value, "unexpected"),
    ))  # fmt: skip
    rendered = render_github(MarkdownReporter().render(report))
    assert code_texts(rendered)[1] == printable(value)  # [0] is the rule


def test_is_prose_refuses_every_link_shape() -> None:
    from chainguard.reporters.markdown import _is_prose

    assert _is_prose("numpy is not the signed version")
    assert _is_prose("modèle 模型 1.4.0 → 2.0")
    for value in ["www.x.y", "a@b", "#1", "GH-1", "gh-12", "deadbee", "x:y", "p256", "a_b", " x"]:
        assert not _is_prose(value), value


def test_mentions_and_references_are_not_in_text_github_post_processes() -> None:
    from support.gfm import GITHUB_LINKABLE, text_outside_code

    rendered = "<p>@octocat and #12 and GH-3 and <code>@safe #1</code></p>"
    found = GITHUB_LINKABLE.findall(text_outside_code(rendered))
    assert found == ["@o", "#1", "GH-3"]  # the checker itself sees what GitHub would link

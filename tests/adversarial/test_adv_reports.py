"""Attack: report data that would become a live link in a GitHub job summary.

Whoever can put a file in the deployed directory (or name a release) chooses text that the
report shows. Rendered by GitHub, `fix at www.evil.example.com now` would be a link, `@octocat`
a notification and `#123` a reference. The Markdown report, on stdout and in
$GITHUB_STEP_SUMMARY, must form none of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.gfm import assert_no_link, code_texts, render_github
from support.release import MODEL_FILES, make_release
from typer.testing import CliRunner

from chainguard.cli import app

HOSTILE_NAMES = [
    "fix at www.evil.example.com now",
    "mail security@evil.example.com",
    "see https:__evil.example",  # "/" cannot be in a file name; the scheme alone must not link
    "@octocat GH-1 #2 deadbeefcafe TICKET-3",
    "[x](https:__evil.example) <img src=x> a|b `c`",
]


@pytest.fixture
def hostile_release(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A release whose deployment name and directory are hostile too; the model dir, the
    SBOM and the public key."""
    root = tmp_path / "www.evil.example.com @octocat #1"
    release = make_release(
        root, models={"weights": MODEL_FILES}, name="@octocat-www.evil.example.com", version="GH-1"
    )
    return release.model, release.sbom, release.pub


def test_hostile_file_names_form_no_link(
    hostile_release: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    model, sbom, pub = hostile_release
    for name in HOSTILE_NAMES:
        (model / name).write_bytes(b"dropped in\n")
    summary = tmp_path / "summary.md"
    result = CliRunner().invoke(
        app,
        ["verify", "model", str(model), "--key", str(pub), "--sbom", str(sbom),
         "--format", "markdown"],
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for markdown in (result.stdout, summary.read_text("utf-8")):
        rendered = render_github(markdown)
        assert_no_link(rendered)
        shown = code_texts(rendered)
        for name in HOSTILE_NAMES:
            assert name in shown, name  # still there to read, as code
        assert str(model) in shown  # the target (the heading)
        assert any("@octocat-www.evil.example.com" in text for text in shown)  # deployment

"""Attack: a release whose names would become live links in a pull-request comment.

`chainguard diff --format markdown` is meant to be posted on a pull request. Whoever builds
the new release chooses its file names, component names and deployment name and version; none
of them may form a link, an image, HTML, an @mention or an issue reference once GitHub renders
the comment (cmark-gfm, run for real), and each must still be there to read, as code.
"""

from __future__ import annotations

from pathlib import Path

from support.cli import cli
from support.gfm import assert_no_link, code_texts, render_github
from support.release import MODEL_FILES, make_release

HOSTILE_NAMES = [
    "fix at www.evil.example.com now",
    "mail security@evil.example.com",
    "see https:__evil.example",  # "/" cannot be in a file name; the scheme alone must not link
    "@octocat GH-1 #2 deadbeefcafe TICKET-3",
    "[x](https:__evil.example) <img src=x> a|b `c`",
]


def test_hostile_names_form_no_link_in_the_markdown_diff(tmp_path: Path) -> None:
    old = make_release(tmp_path / "old", models={"weights": MODEL_FILES})
    hostile_files = {**MODEL_FILES, **{name: b"dropped in\n" for name in HOSTILE_NAMES}}
    new = make_release(
        tmp_path / "new",
        models={"weights": hostile_files, "@octocat www.evil.example.com": {"x": b"y"}},
        name="@octocat-www.evil.example.com",
        version="GH-1 #2",
        signer=old,
    )
    outcome = cli(
        "diff", old.sbom, new.sbom, "--format", "markdown",
        "--signature-old", old.sig, "--signature-new", new.sig, "--key", old.pub,
    )  # fmt: skip
    assert outcome.code == 1, outcome
    rendered = render_github(outcome.stdout)
    assert_no_link(rendered)
    shown = code_texts(rendered)
    for name in HOSTILE_NAMES:
        assert name in shown, name
    assert "model:@octocat www.evil.example.com" in shown
    assert "@octocat-www.evil.example.com" in shown and "GH-1 #2" in shown

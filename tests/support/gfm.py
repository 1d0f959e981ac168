"""Render Markdown as GitHub does, and check that report data formed no link in it.

GitHub renders a job summary with cmark-gfm (extensions: autolink, table, strikethrough,
tagfilter), then post-processes the HTML's text: @mentions, #123 / GH-123 / owner/repo#123
issue references, commit SHAs and a repository's own autolink prefixes become links, except
inside <code>, <pre> and <a>. cmark-gfm is run for real; the post-processing is checked by
looking for anything of its shape in the text outside <code>.
"""

from __future__ import annotations

import html
import re

import pytest

# The tags the markdown reporter itself writes; anything else came from report data.
ALLOWED_TAGS = frozenset(
    {"h2", "p", "table", "thead", "tbody", "tr", "th", "td", "code", "details", "summary", "ul"}
    | {"li", "strong", "br"}
)
_TAG = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9-]*)")
_CODE = re.compile(r"<code>.*?</code>", re.DOTALL)
# What GitHub's HTML post-processing (or an autolinker run over text) would turn into a link.
GITHUB_LINKABLE = re.compile(
    r"@[A-Za-z0-9]"  # @user, @org/team, owner/repo@sha
    r"|#[0-9]"  # #123, owner/repo#123
    r"|\bGH-[0-9]"  # GH-123
    r"|\b[0-9a-f]{7,40}\b"  # a commit SHA (abbreviated or full)
    r"|\b[A-Za-z]+-[0-9]+\b"  # a custom autolink reference such as TICKET-123
    r"|www\."  # cmark-gfm autolinks, should one slip through
    r"|[A-Za-z]+://|mailto:|xmpp:",
    re.IGNORECASE,
)


def render_github(markdown: str) -> str:
    """cmark-gfm as GitHub runs it; raw HTML is let through so that any would be seen."""
    cmarkgfm = pytest.importorskip("cmarkgfm")
    from cmarkgfm.cmark import Options

    return str(
        cmarkgfm.markdown_to_html_with_extensions(
            markdown,
            options=Options.CMARK_OPT_UNSAFE,
            extensions=["autolink", "table", "strikethrough", "tagfilter"],
        )
    )


def unexpected_tags(rendered: str) -> set[str]:
    """Tags in ``rendered`` that the reporter does not write itself (``a``, ``img``, ...)."""
    return {m[2].lower() for m in _TAG.finditer(rendered)} - ALLOWED_TAGS


def text_outside_code(rendered: str) -> str:
    """What GitHub's post-processing sees: the visible text that is not inside <code>."""
    return html.unescape(re.sub(r"<[^>]*>", " ", _CODE.sub(" ", rendered)))


def code_texts(rendered: str) -> list[str]:
    """The visible text of every <code> element."""
    return [html.unescape(m[0][len("<code>") : -len("</code>")]) for m in _CODE.finditer(rendered)]


def assert_no_link(rendered: str) -> None:
    """No link, image or raw HTML, and nothing GitHub would link outside code (the advice in
    <details> is chainguard's own text, and may say SHA-256)."""
    assert "<a" not in rendered and "<img" not in rendered, rendered
    assert not unexpected_tags(rendered), (unexpected_tags(rendered), rendered)
    outside = text_outside_code(rendered.split("<details>")[0])
    assert not GITHUB_LINKABLE.search(outside), (GITHUB_LINKABLE.search(outside), outside)

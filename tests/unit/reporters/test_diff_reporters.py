"""The release diff's text, JSON and Markdown forms (chainguard/reporters/diff.py)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from jsonschema import Draft202012Validator
from support import REPO_ROOT
from support.gfm import assert_no_link, code_texts, render_github

from chainguard.diff import (
    ComponentChange,
    ComponentState,
    DependencyChange,
    DeploymentDiff,
    DiffReport,
    FileChange,
    FileState,
    PatchChange,
    ReleaseDiff,
    ReleaseSide,
    SignatureCheck,
    SignatureNote,
)
from chainguard.models import DeploymentInfo
from chainguard.reporters.diff import RENDERERS, render_json, render_markdown, render_text

HOSTILE = [
    "fix at www.evil.example.com now",
    "mail security@evil.example.com",
    "https://evil.example/x",
    "@octocat GH-1 #2 deadbeefcafe TICKET-3",
    "[x](https://evil.example) <img src=x> a|b `c`",
    "<script>alert(1)</script>",
]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def side(name: str, signature: SignatureCheck | None = None) -> ReleaseSide:
    return ReleaseSide(name, sha(name), signature)


V1 = DeploymentInfo("svc", "1.0", 1)
V2 = DeploymentInfo("svc", "1.1", 2)


def report_of(
    *,
    old: DeploymentInfo = V1,
    new: DeploymentInfo = V2,
    components: tuple[ComponentChange, ...] = (),
    dependencies: tuple[DependencyChange, ...] = (),
    patches: tuple[PatchChange, ...] = (),
    old_side: ReleaseSide | None = None,
    new_side: ReleaseSide | None = None,
) -> DiffReport:
    return DiffReport(
        old_side or side("old.cdx.json"),
        new_side or side("new.cdx.json"),
        ReleaseDiff(DeploymentDiff(old, new), components, dependencies, patches),
    )


def hostile_report() -> DiffReport:
    """Every value a reporter shows, attacker-chosen."""
    files = tuple(
        FileChange(name, "added", None, FileState(1, sha(name)))
        for name in HOSTILE
    )  # fmt: skip
    state = ComponentState(HOSTILE[3], sha("root"), 3, 10)
    other = replace(state, root_digest=sha("2"))
    components = (
        ComponentChange("model", HOSTILE[0], "changed", state, other, files),
        ComponentChange("dataset", HOSTILE[4], "added", None, state),
    )
    dependencies = tuple(
        DependencyChange(name, "downgrade", (name,), (HOSTILE[1],)) for name in HOSTILE
    )
    patches = tuple(PatchChange(name, "declared", None, name) for name in HOSTILE)
    signature = SignatureCheck(HOSTILE[2], True, (f"sigstore {HOSTILE[1]} via {HOSTILE[2]}",))
    failed = SignatureCheck(
        HOSTILE[3], False, (), (SignatureNote("signature-invalid", HOSTILE[4], True),)
    )
    return report_of(
        old=DeploymentInfo(HOSTILE[3], HOSTILE[0], 5),
        new=DeploymentInfo(HOSTILE[4], HOSTILE[1], 4, HOSTILE[2]),
        components=components,
        dependencies=dependencies,
        patches=patches,
        old_side=side(HOSTILE[0], signature),
        new_side=side(HOSTILE[5], failed),
    )


def test_hostile_values_form_no_link_in_the_markdown() -> None:
    rendered = render_github(render_markdown(hostile_report()))
    assert_no_link(rendered)
    shown = "\n".join(code_texts(rendered))
    for name in HOSTILE:
        assert name in shown, name  # still there to read, as code
    assert rendered.count("<table>") == 5  # overview, components, files, dependencies, patches


def test_a_table_cell_cannot_be_split_by_a_pipe() -> None:
    rendered = render_github(render_markdown(hostile_report()))
    # Every row of the dependencies table has its four cells: no | escaped out of a code span.
    for row in rendered.split("<tr>")[1:]:
        assert row.count("<td>") in (0, 3, 4, 5), row


def test_markdown_rows_are_capped() -> None:
    files = tuple(
        FileChange(f"f{i:04}", "removed", FileState(1, sha(str(i))), None) for i in range(250)
    )
    state = ComponentState(None, sha("root"), 250, 250)
    changed = ComponentChange("dataset", "d", "changed", state, replace(state, files=0), files)
    markdown = render_markdown(report_of(components=(changed,)), max_rows=100)
    assert markdown.count("| removed |") == 100
    assert "…and 150 more" in markdown


def test_text_escapes_control_characters() -> None:
    evil = "a\nchainguard: verified OK\x1b[2J"
    change = FileChange(evil, "added", None, FileState(1, sha("x")))
    state = ComponentState(None, sha("r"), 1, 1)
    component = ComponentChange("model", "m", "changed", state, state, (change,))
    text = render_text(report_of(components=(component,)))
    assert "\\nchainguard: verified OK\\x1b[2J" in text
    assert "\x1b" not in text and "\nchainguard: verified OK" not in text


def test_text_shows_every_kind() -> None:
    report = report_of(
        old=DeploymentInfo("svc", "1.1", 7),
        new=DeploymentInfo("svc", "1.0", 3),
        dependencies=(
            DependencyChange("torch", "downgrade", ("2.6.0",), ("2.5.1",)),
            DependencyChange("six", "rehashed", ("1.16",), ("1.16",), ("sha256:b",), ("sha256:a",)),
            DependencyChange("idna", "removed", ("3.10",), ()),
        ),
        patches=(
            PatchChange("CVE-2025-32434", "withdrawn", "torch>=2.6.0", None),
            PatchChange("GHSA-x", "declared", None, "numpy>=2"),
        ),
    )  # fmt: skip
    text = render_text(report)
    assert "version 1.1 → 1.0, serial 7 → 3 (rollback)" in text
    assert "↓ torch  2.6.0 → 2.5.1 (downgrade)" in text
    assert "six  1.16 (rehashed: +sha256:b, -sha256:a)" in text
    assert "- idna  3.10 (removed)" in text
    assert "- CVE-2025-32434  torch>=2.6.0 (withdrawn)" in text
    assert "+ GHSA-x  numpy>=2 (declared)" in text


def test_json_validates_against_the_published_schema() -> None:
    schema = json.loads((REPO_ROOT / "docs" / "diff-schema.v1.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    hostile = json.loads(render_json(hostile_report()))
    validator.validate(hostile)
    assert hostile["schema"] == "chainguard.diff/v1"
    assert hostile["new"]["signature"]["notes"][0] == {
        "rule": "signature-invalid",
        "severity": "error",
        "message": HOSTILE[4],
    }
    same = json.loads(render_json(report_of(new=DeploymentInfo("svc", "1.0", 1))))
    validator.validate(same)
    assert (same["same"], same["ok"], same["differences"]) == (True, True, 0)


def test_every_format_renders() -> None:
    assert set(RENDERERS) == {"text", "json", "markdown"}
    for render in RENDERERS.values():
        assert render(hostile_report()).endswith("\n")

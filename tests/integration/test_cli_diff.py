"""chainguard diff OLD NEW: two real signed releases, through typer's runner."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support import REPO_ROOT
from support.cli import Outcome, assert_one_line_error, assert_usage_error, cli
from support.release import Release, make_release, write_model

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

DIFF_SCHEMA = REPO_ROOT / "docs" / "diff-schema.v1.json"


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    schema = json.loads(DIFF_SCHEMA.read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def diff_doc(outcome: Outcome) -> dict[str, Any]:
    """The JSON on stdout, validated against docs/diff-schema.v1.json; ok is the exit code."""
    assert outcome.code in (0, 1), (outcome.code, outcome.stderr)
    doc: dict[str, Any] = json.loads(outcome.stdout)
    _validator().validate(doc)
    assert doc["ok"] is (outcome.code == 0)
    return doc


def pylock(path: Path, **versions: str) -> Path:
    """A PEP 751 lock pinning each package at a version (one wheel hash each)."""
    blocks = []
    for i, (name, version) in enumerate(sorted(versions.items())):
        digest = f"{i:x}" * 64
        blocks.append(
            f'[[packages]]\nname = "{name}"\nversion = "{version}"\n'
            f'wheels = [{{ url = "https://example.invalid/{name}-{version}-py3-none-any.whl", '
            f'hashes = {{ sha256 = "{digest[:64]}" }} }}]\n'
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('lock-version = "1.0"\ncreated-by = "test"\n\n' + "\n".join(blocks))
    return path


@pytest.fixture
def releases(tmp_path: Path) -> tuple[Release, Release]:
    """1.0 and 1.1 by the same publisher: other weights, torch downgraded by the lock."""
    old = make_release(
        tmp_path / "v1",
        models=[write_model(tmp_path / "v1" / "weights", seed=1)],
        locks=[pylock(tmp_path / "v1" / "lock" / "pylock.toml", torch="2.6.0", numpy="2.1.3")],
        serial=1,
    )
    new = make_release(
        tmp_path / "v2",
        models=[write_model(tmp_path / "v2" / "weights", seed=2)],
        locks=[pylock(tmp_path / "v2" / "lock" / "pylock.toml", torch="2.5.1", numpy="2.2.0")],
        version="1.1",
        serial=2,
        signer=old,
    )
    return old, new


def test_two_releases_differ(releases: tuple[Release, Release]) -> None:
    old, new = releases
    doc = diff_doc(cli("diff", old.sbom, new.sbom, "--format", "json"))
    assert doc["same"] is False
    assert doc["deployment"] == {"changed": ["version", "serial"], "serial": "increase"}
    assert (doc["old"]["deployment"]["version"], doc["new"]["deployment"]["version"]) == (
        "1.0",
        "1.1",
    )
    (weights,) = doc["components"]
    assert (weights["kind"], weights["name"], weights["change"]) == ("model", "weights", "changed")
    files = {f["path"]: f for f in weights["files"]}
    assert set(files) == {"config.json", "model.safetensors"}  # tokenizer.json is the same
    weights_change = files["model.safetensors"]
    assert weights_change["change"] == "changed"
    assert weights_change["old"]["sha256"] != weights_change["new"]["sha256"]
    deps = {d["name"]: (d["change"], d["old"], d["new"]) for d in doc["dependencies"]}
    assert deps == {
        "numpy": ("upgrade", ["2.1.3"], ["2.2.0"]),
        "torch": ("downgrade", ["2.6.0"], ["2.5.1"]),
    }
    assert doc["old"]["signature"] is None and doc["patches"] == []


def test_text_marks_the_downgrade(releases: tuple[Release, Release]) -> None:
    old, new = releases
    code, out, err = cli("diff", old.sbom, new.sbom)
    assert code == 1, err
    assert "torch  2.6.0 → 2.5.1 (downgrade)" in out
    assert "~ model.safetensors" in out
    assert "version 1.0 → 1.1, serial 1 → 2" in out


def test_a_lower_serial_is_a_rollback(releases: tuple[Release, Release]) -> None:
    old, new = releases
    outcome = cli("diff", new.sbom, old.sbom, "--format", "json")
    assert diff_doc(outcome)["deployment"]["serial"] == "rollback"
    assert "serial 2 → 1 (rollback)" in cli("diff", new.sbom, old.sbom).stdout


def test_the_same_release_exits_0(releases: tuple[Release, Release], tmp_path: Path) -> None:
    old, _ = releases
    copy = tmp_path / "copy.cdx.json"
    copy.write_bytes(old.sbom.read_bytes())
    code, out, _ = cli("diff", old.sbom, copy)
    assert code == 0
    assert "no differences" in out
    doc = diff_doc(cli("diff", old.sbom, copy, "--format", "json"))
    assert doc["same"] is True and doc["differences"] == 0


def test_signatures_show_who_signed_each(releases: tuple[Release, Release]) -> None:
    old, new = releases
    args = ["--signature-old", old.sig, "--signature-new", new.sig, "--key", old.pub]
    doc = diff_doc(cli("diff", old.sbom, new.sbom, *args, "--no-config", "--format", "json"))
    for side in ("old", "new"):
        signature = doc[side]["signature"]
        assert signature["verified"] is True
        assert signature["signers"] and signature["signers"][0].startswith("key ")
        assert signature["notes"] == []
    assert doc["ok"] is False  # verified, but different releases
    same = cli("diff", old.sbom, old.sbom, "--signature-old", old.sig, "--key", old.pub)
    assert same.code == 0, same
    assert "old signature" in same.stdout and "verified, signed by key" in same.stdout


def test_signature_checks_leave_the_rollback_state_alone(
    releases: tuple[Release, Release], tmp_path: Path
) -> None:
    old, new = releases
    args = ["--signature-old", new.sig, "--signature-new", old.sig, "--key", old.pub]
    doc = diff_doc(cli("diff", new.sbom, old.sbom, *args, "--format", "json"))
    assert doc["old"]["signature"]["verified"] and doc["new"]["signature"]["verified"]
    # Verifying 1.1 recorded nothing: 1.0 still verifies on this host.
    assert old.verify().code == 0


def test_an_untrusted_signature_is_shown_and_exits_1(
    releases: tuple[Release, Release], tmp_path: Path
) -> None:
    old, _ = releases
    stranger = make_release(tmp_path / "stranger", models={"m": {"f": b"x"}})
    outcome = cli(
        "diff", old.sbom, old.sbom, "--signature-new", old.sig, "--key", stranger.pub,
        "--format", "json",
    )  # fmt: skip
    doc = diff_doc(outcome)
    assert outcome.code == 1 and doc["same"] is True
    signature = doc["new"]["signature"]
    assert signature["verified"] is False and signature["signers"] == []
    assert signature["notes"] and signature["notes"][0]["severity"] == "error"
    assert doc["old"]["signature"] is None


def test_a_signature_of_another_sbom_is_not_verified(releases: tuple[Release, Release]) -> None:
    old, new = releases
    outcome = cli("diff", old.sbom, new.sbom, "--signature-new", old.sig, "--key", old.pub)
    assert outcome.code == 1
    assert "new signature" in outcome.stdout and "NOT VERIFIED" in outcome.stdout
    assert "sbom-mismatch" in outcome.stdout


def test_output_file(releases: tuple[Release, Release], tmp_path: Path) -> None:
    old, new = releases
    target = tmp_path / "diff.md"
    code, out, err = cli("diff", old.sbom, new.sbom, "--format", "markdown", "--output", target)
    assert code == 1 and out == ""
    assert "difference(s)" in err and str(target) in err
    assert target.read_text("utf-8").startswith("## ")


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"bomFormat": "CycloneDX"}', b"\xff\xfe", b""],
    ids=["garbled", "not-an-sbom", "not-utf8", "empty"],
)
def test_an_unreadable_sbom_is_one_line_exit_3(
    releases: tuple[Release, Release], tmp_path: Path, content: bytes
) -> None:
    old, _ = releases
    bad = tmp_path / "bad.cdx.json"
    bad.write_bytes(content)
    assert_one_line_error(cli("diff", old.sbom, bad), 3, str(bad))
    assert_one_line_error(cli("diff", bad, old.sbom, "--format", "json"), 3, str(bad))


def test_a_missing_sbom_is_exit_3(releases: tuple[Release, Release], tmp_path: Path) -> None:
    old, _ = releases
    assert_one_line_error(cli("diff", old.sbom, tmp_path / "nope.json"), 3, "nope.json")


def test_a_garbled_bundle_is_exit_3(releases: tuple[Release, Release], tmp_path: Path) -> None:
    old, _ = releases
    garbled = tmp_path / "garbled.sig"
    garbled.write_text("{")
    outcome = cli("diff", old.sbom, old.sbom, "--signature-old", garbled, "--key", old.pub)
    assert_one_line_error(outcome, 3, "garbled.sig")


def test_usage_errors(releases: tuple[Release, Release]) -> None:
    old, new = releases
    outcome = cli("diff", old.sbom, new.sbom, "--key", old.pub)
    assert_one_line_error(outcome, 2, "--signature-old")
    outcome = cli("diff", old.sbom, new.sbom, "--signature-old", old.sig, "--no-config")
    assert_one_line_error(outcome, 2, "--key")
    assert_usage_error(cli("diff", old.sbom, new.sbom, "--format", "sarif"), "sarif")
    assert_usage_error(cli("diff", old.sbom), "NEW")


def test_patches_declared_and_withdrawn(tmp_path: Path) -> None:
    old = make_release(
        tmp_path / "v1",
        locks=[pylock(tmp_path / "v1" / "lock" / "pylock.toml", torch="2.6.0", numpy="2.1.3")],
        patches={"CVE-2025-32434": "torch>=2.6.0"},
    )
    new = make_release(
        tmp_path / "v2",
        locks=[pylock(tmp_path / "v2" / "lock" / "pylock.toml", torch="2.5.1", numpy="2.2.0")],
        patches={"GHSA-53q9-r3pm-6pq6": "numpy>=2.2.0"},
        signer=old,
    )
    doc = diff_doc(cli("diff", old.sbom, new.sbom, "--format", "json"))
    assert doc["patches"] == [
        {"id": "CVE-2025-32434", "change": "withdrawn", "old": "torch>=2.6.0", "new": None},
        {"id": "GHSA-53q9-r3pm-6pq6", "change": "declared", "old": None, "new": "numpy>=2.2.0"},
    ]
    text = cli("diff", old.sbom, new.sbom).stdout
    assert "- CVE-2025-32434  torch>=2.6.0 (withdrawn)" in text


def test_a_mode_bit_that_appears_is_a_change(tmp_path: Path) -> None:
    # the same bytes, now executable (or setuid): the next release hands a host a program
    def release(where: str, mode: int) -> Release:
        weights = write_model(tmp_path / where / "weights", seed=1)
        (weights / "run.sh").write_text("#!/bin/sh\necho hi\n")
        (weights / "run.sh").chmod(mode)
        return make_release(tmp_path / where, models=[weights])

    old, new = release("v1", 0o644), release("v2", 0o4755)
    # the same files but for the mode: the root digest (paths, sizes, contents) is the same
    model = {"weights": {"config.json": b"{}", "run.sh": b"#!/bin/sh\n"}}
    plain = make_release(tmp_path / "p1", models=model)
    (tmp_path / "p2" / "weights").mkdir(parents=True)
    for name, data in model["weights"].items():
        (tmp_path / "p2" / "weights" / name).write_bytes(data)
    (tmp_path / "p2" / "weights" / "run.sh").chmod(0o755)
    executable = make_release(tmp_path / "p2", models=[tmp_path / "p2" / "weights"])
    only_mode = diff_doc(cli("diff", plain.sbom, executable.sbom, "--format", "json"))
    (component,) = only_mode["components"]
    assert [(f["path"], f["new"].get("mode")) for f in component["files"]] == [("run.sh", "0755")]
    doc = diff_doc(cli("diff", old.sbom, new.sbom, "--format", "json"))
    (weights,) = doc["components"]
    (change,) = [f for f in weights["files"] if f["path"] == "run.sh"]
    assert change["change"] == "changed"
    assert change["old"]["sha256"] == change["new"]["sha256"]
    assert "mode" not in change["old"] and change["new"]["mode"] == "4755"
    assert "mode 4755" in cli("diff", old.sbom, new.sbom).stdout
    assert "mode 4755" in cli("diff", old.sbom, new.sbom, "--format", "markdown").stdout

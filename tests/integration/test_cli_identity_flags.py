"""Sigstore identities as cosign spells them: --certificate-identity, --certificate-oidc-issuer
and --certificate-identity-regexp (a full match), on the command line and in [trust].

Real bundles from the public instances (the interop vectors), verified offline.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import assert_usage_error, cli, report, rules
from support.sigstore_cases import GITHUB_CASE

from chainguard.config import load_config
from chainguard.errors import ConfigError
from chainguard.models import IdentityRule

pytestmark = pytest.mark.usefixtures("offline")  # tests/conftest.py

WORKFLOW = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml"


def _blob(vectors_dir: Path, *trust: str) -> tuple[int, dict[str, object], Path]:
    artifact = GITHUB_CASE.artifact_path(vectors_dir)
    bundle = GITHUB_CASE.bundle_path(vectors_dir)
    outcome = cli("verify", "blob", artifact, "--bundle", bundle, "-f", "json", *trust)
    assert outcome.code in (0, 1), outcome
    return outcome.code, report(outcome), bundle


def test_cosign_spellings_are_aliases(vectors_dir: Path) -> None:
    code, doc, _ = _blob(
        vectors_dir,
        "--certificate-identity",
        GITHUB_CASE.identity,
        "--certificate-oidc-issuer",
        GITHUB_CASE.issuer,
    )
    assert code == 0
    assert doc["signers"] == [f"sigstore {GITHUB_CASE.identity} via {GITHUB_CASE.issuer}"]


@pytest.mark.parametrize(
    "pattern",
    [
        rf"{WORKFLOW}@refs/tags/v.*",  # any release tag: no config edit per tag
        r"https://github\.com/trailofbits/rfc8785\.py/.*",
    ],
)
def test_a_regexp_trusts_the_workflow_at_any_tag(vectors_dir: Path, pattern: str) -> None:
    code, doc, _ = _blob(
        vectors_dir,
        "--certificate-identity-regexp",
        pattern,
        "--certificate-oidc-issuer",
        GITHUB_CASE.issuer,
    )
    assert code == 0, doc
    # the signer is the certificate's SAN, not the pattern
    assert doc["signers"] == [f"sigstore {GITHUB_CASE.identity} via {GITHUB_CASE.issuer}"]
    trust = doc["trust"]
    assert isinstance(trust, dict) and trust["identities"][0]["identity"] == pattern


@pytest.mark.parametrize(
    "pattern",
    [
        "trailofbits",  # unanchored: still must match the whole SAN
        r"https://github\.com/trailofbits/rfc8785\.py",  # a prefix is not enough
        rf"{WORKFLOW}@refs/heads/.*",  # another ref
        r"https://github\.com/evil/.*|x",  # alternation does not escape the full match
    ],
)
def test_a_regexp_must_match_the_whole_identity(vectors_dir: Path, pattern: str) -> None:
    code, doc, bundle = _blob(
        vectors_dir, "--identity-regexp", pattern, "--issuer", GITHUB_CASE.issuer
    )
    assert code == 1
    assert rules(doc) == [("signature-untrusted", str(bundle))]


def test_the_issuer_still_has_to_match(vectors_dir: Path) -> None:
    code, _, _ = _blob(
        vectors_dir, "--certificate-identity-regexp", ".*", "--issuer", "https://evil.example"
    )
    assert code == 1


def test_an_invalid_regexp_is_a_one_line_usage_error(vectors_dir: Path) -> None:
    artifact = GITHUB_CASE.artifact_path(vectors_dir)
    bundle = GITHUB_CASE.bundle_path(vectors_dir)
    outcome = cli(
        "verify", "blob", artifact, "--bundle", bundle,
        "--certificate-identity-regexp", "refs/tags/(v.*", "--issuer", GITHUB_CASE.issuer,
    )  # fmt: skip
    assert_usage_error(outcome, "not a valid regular expression")


def test_a_regexp_needs_an_issuer(tmp_path: Path) -> None:
    outcome = cli("verify", "model", tmp_path, "--certificate-identity-regexp", ".*")
    assert_usage_error(outcome, "--issuer")


def test_trust_identities_take_identity_regexp(tmp_path: Path) -> None:
    config = tmp_path / "chainguard.toml"
    config.write_text(
        "[trust]\nidentities = [\n"
        f"  {{identity_regexp = '{WORKFLOW}@refs/tags/v.*', issuer = 'https://i'}},\n"
        "  {identity = 'me@example.com', issuer = 'https://i'},\n]\n"
    )
    assert load_config(config).identities == (
        IdentityRule(f"{WORKFLOW}@refs/tags/v.*", "https://i", regexp=True),
        IdentityRule("me@example.com", "https://i"),
    )


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("{identity_regexp = '(', issuer = 'https://i'}", "not a valid regular expression"),
        ("{identity = 'a', identity_regexp = 'b', issuer = 'https://i'}", "exactly one of"),
        ("{issuer = 'https://i'}", "exactly one of"),
        ("{identity_regexp = '', issuer = 'https://i'}", "identity_regexp must be a non-empty"),
        ("{identity_regexp = 3, issuer = 'https://i'}", "identity_regexp must be a non-empty"),
    ],
)
def test_malformed_identity_regexp_in_config(tmp_path: Path, entry: str, fragment: str) -> None:
    config = tmp_path / "chainguard.toml"
    config.write_text(f"[trust]\nidentities = [{entry}]\n")
    with pytest.raises(ConfigError) as e:
        load_config(config)
    assert fragment in str(e.value) and "\n" not in str(e.value)
    assert str(config) in str(e.value)


def test_identity_rule_matches_with_fullmatch() -> None:
    rule = IdentityRule("a.c", "https://i", regexp=True)
    assert rule.matches("abc") and not rule.matches("abcd") and not rule.matches("xabc")
    assert IdentityRule("a.c", "https://i").matches("a.c")
    assert not IdentityRule("a.c", "https://i").matches("abc")

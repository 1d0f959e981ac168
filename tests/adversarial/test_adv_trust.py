"""Trust-policy attacks: thresholds, duplicate signers, rollback, freeze, deployment swaps."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from chainguard import api
from chainguard.findings import Severity
from chainguard.trust.gate import TrustInputs, establish_trust


@pytest.fixture
def release(tmp_path: Path) -> dict[str, Path]:
    model = tmp_path / "weights"
    model.mkdir()
    (model / "model.bin").write_bytes(b"weights" * 100)
    keys = {}
    for name in ("alice", "bob", "mallory"):
        keys[name], keys[name + ".pub"] = api.keygen(tmp_path / name)
    return {"root": tmp_path, "model": model, **{k: v for k, v in keys.items()}}


def build(
    release: dict[str, Path],
    name: str,
    *,
    serial: int = 1,
    version: str = "1.0",
    expires: str | None = None,
    out: str | None = None,
) -> Path:
    sbom = release["root"] / (out or f"{name}-{serial}.cdx.json")
    api.build_sbom(
        name=name,
        version=version,
        models=[release["model"]],
        output=sbom,
        serial=serial,
        expires=expires,
    )
    return sbom


def sign(release: dict[str, Path], sbom: Path, signer: str, suffix: str = "") -> Path:
    return api.sign_sbom(sbom, release[signer], Path(f"{sbom}.{signer}{suffix}.sig"))


def rules(outcome) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(f.rule for f in outcome.findings)


def inputs(
    release: dict[str, Path], sbom: Path | None, sigs: list[Path], keys: list[str], **kw: object
) -> TrustInputs:
    # The deployment these releases are built as ("svc") is pinned, as a well-configured
    # operator does, unless the test pins another one.
    kw.setdefault("deployment", "svc")
    return TrustInputs(
        sbom=sbom, signatures=tuple(sigs), keys=tuple(release[k + ".pub"] for k in keys), **kw
    )  # type: ignore[arg-type]


def test_two_of_two_distinct_signers_pass(release: dict[str, Path]) -> None:
    sbom = build(release, "svc")
    sigs = [sign(release, sbom, "alice"), sign(release, sbom, "bob")]
    outcome = establish_trust(inputs(release, sbom, sigs, ["alice", "bob"], threshold=2))
    assert outcome.state is not None and len(outcome.signers) == 2


def test_threshold_not_met_with_one_signer(release: dict[str, Path]) -> None:
    sbom = build(release, "svc")
    sigs = [sign(release, sbom, "alice")]
    outcome = establish_trust(inputs(release, sbom, sigs, ["alice", "bob"], threshold=2))
    assert outcome.state is None and rules(outcome) == ["threshold-not-met"]


def test_same_signer_twice_counts_once(release: dict[str, Path]) -> None:
    sbom = build(release, "svc")
    sigs = [sign(release, sbom, "alice"), sign(release, sbom, "alice", "-again")]
    outcome = establish_trust(inputs(release, sbom, sigs, ["alice", "bob"], threshold=2))
    assert outcome.state is None and "threshold-not-met" in rules(outcome)


def test_unknown_key_does_not_count(release: dict[str, Path]) -> None:
    sbom = build(release, "svc")
    sigs = [sign(release, sbom, "alice"), sign(release, sbom, "mallory")]
    outcome = establish_trust(inputs(release, sbom, sigs, ["alice", "bob"], threshold=2))
    assert outcome.state is None
    assert rules(outcome) == ["signature-untrusted", "threshold-not-met"]


def test_signatures_over_different_sboms_do_not_add_up(release: dict[str, Path]) -> None:
    a = build(release, "svc", out="a.cdx.json")
    b = build(release, "svc", version="1.1", out="b.cdx.json")
    sigs = [sign(release, a, "alice"), sign(release, b, "bob")]
    outcome = establish_trust(inputs(release, a, sigs, ["alice", "bob"], threshold=2))
    assert outcome.state is None and "threshold-not-met" in rules(outcome)


def test_rollback_to_lower_serial_is_refused(release: dict[str, Path], tmp_path: Path) -> None:
    new = build(release, "svc", serial=5, out="new.cdx.json")
    old = build(release, "svc", serial=4, version="0.9", out="old.cdx.json")
    state = tmp_path / "state"
    ok = establish_trust(
        inputs(release, new, [sign(release, new, "alice")], ["alice"], state_dir=state)
    )
    assert ok.state is not None
    rolled = establish_trust(
        inputs(release, old, [sign(release, old, "alice")], ["alice"], state_dir=state)
    )
    assert rolled.state is None and rules(rolled) == ["sbom-rollback"]
    assert "older than serial 5" in rolled.findings[0].message


def test_rollback_refused_through_the_cli(release: dict[str, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from chainguard.cli import app

    new = build(release, "svc", serial=2, out="new.cdx.json")
    old = build(release, "svc", serial=1, out="old.cdx.json")
    sign(release, new, "alice")
    sign(release, old, "alice")
    runner = CliRunner()
    state = str(tmp_path / "st")
    base = [
        "verify",
        "model",
        str(release["model"]),
        "--key",
        str(release["alice.pub"]),
        "--deployment",
        "svc",
        "--state",
        state,
        "--format",
        "json",
    ]
    first = runner.invoke(app, [*base, "--sbom", str(new), "--signature", f"{new}.alice.sig"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, [*base, "--sbom", str(old), "--signature", f"{old}.alice.sig"])
    assert second.exit_code == 1
    assert [f["rule"] for f in json.loads(second.stdout)["findings"]] == ["sbom-rollback"]


def test_expired_sbom_refused_unless_allowed(release: dict[str, Path]) -> None:
    sbom = build(release, "svc", expires="2030-01-01T00:00:00Z")
    sig = sign(release, sbom, "alice")
    later = datetime(2031, 1, 1, tzinfo=timezone.utc)
    expired = establish_trust(inputs(release, sbom, [sig], ["alice"], now=later))
    assert expired.state is None and rules(expired) == ["sbom-expired"]
    assert expired.findings[0].effective_severity is Severity.ERROR
    allowed = establish_trust(
        inputs(release, sbom, [sig], ["alice"], now=later, allow_expired=True)
    )
    # Accepted, but never silently: the expiry is still said, as a warning.
    assert allowed.state is not None
    assert [(w.rule, w.effective_severity) for w in allowed.warnings] == [
        ("sbom-expired", Severity.WARNING)
    ]
    assert "--allow-expired" in allowed.warnings[0].message
    before = establish_trust(
        inputs(release, sbom, [sig], ["alice"], now=datetime(2029, 1, 1, tzinfo=timezone.utc))
    )
    assert before.state is not None and before.warnings == ()


def test_expired_sbom_through_the_cli_is_a_warning_only_with_allow_expired(
    release: dict[str, Path],
) -> None:
    from typer.testing import CliRunner

    from chainguard.cli import app

    sbom = build(release, "svc", expires="2021-01-01T00:00:00Z")  # already expired
    sig = sign(release, sbom, "alice")
    base = ["verify", "model", str(release["model"]), "--sbom", str(sbom), "--signature",
            str(sig), "--key", str(release["alice.pub"]), "--deployment", "svc",
            "--format", "json"]  # fmt: skip
    refused = CliRunner().invoke(app, base)
    assert refused.exit_code == 1, refused.output
    doc = json.loads(refused.stdout)
    assert doc["ok"] is False
    assert [(f["rule"], f["severity"]) for f in doc["findings"]] == [("sbom-expired", "error")]
    allowed = CliRunner().invoke(app, [*base, "--allow-expired"])
    assert allowed.exit_code == 0, allowed.output
    doc = json.loads(allowed.stdout)
    assert doc["ok"] is True
    assert [(f["rule"], f["severity"], f["path"]) for f in doc["findings"]] == [
        ("sbom-expired", "warning", str(sig))
    ]


def test_sbom_of_deployment_a_presented_for_b(release: dict[str, Path]) -> None:
    sbom = build(release, "payments-api")
    sig = sign(release, sbom, "alice")
    outcome = establish_trust(inputs(release, sbom, [sig], ["alice"], deployment="sentiment-api"))
    assert outcome.state is None and rules(outcome) == ["subject-mismatch"]


def test_mixing_components_from_two_sboms(release: dict[str, Path], tmp_path: Path) -> None:
    """A validly signed statement whose subjects come from another SBOM must not verify."""
    from chainguard.trust.bundle import key_bundle_json
    from chainguard.trust.dsse import sign as dsse_sign
    from chainguard.trust.keys import load_private_key
    from chainguard.trust.statement import build_statement

    a = build(release, "svc", out="a.cdx.json")
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.bin").write_bytes(b"different weights")
    b = tmp_path / "b.cdx.json"
    api.build_sbom(name="svc", version="1.0", models=[other], output=b, serial=1)
    data_a, state_a = api.read_sbom_file(a)
    data_b, state_b = api.read_sbom_file(b)
    # SBOM A as predicate, but B's component subject: a confused or malicious signer.
    subjects = (
        api.statement_subjects(state_a, data_a)[:1] + api.statement_subjects(state_b, data_b)[1:]
    )
    key = load_private_key(release["alice"], None)
    statement = build_statement(subjects, api.CYCLONEDX_PREDICATE, json.loads(data_a))
    envelope = dsse_sign(statement, "application/vnd.in-toto+json", key)
    sig = tmp_path / "mixed.sig"
    sig.write_bytes(key_bundle_json(envelope, key.trusted_key))
    outcome = establish_trust(inputs(release, a, [sig], ["alice"]))
    assert outcome.state is None and rules(outcome) == ["subject-mismatch", "subject-mismatch"]


def test_expires_parsing() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert api.parse_expires("30d", now) == "2026-01-31T00:00:00Z"
    assert api.parse_expires("12h", now) == "2026-01-01T12:00:00Z"
    assert api.parse_expires("2027-01-01T00:00:00+01:00", now) == "2026-12-31T23:00:00Z"
    from chainguard.errors import UsageError

    for bad in ("soon", "-3d", "2020-01-01T00:00:00Z", "10y"):
        with pytest.raises(UsageError):
            api.parse_expires(bad, now)
    assert (now + timedelta(days=1)) > now

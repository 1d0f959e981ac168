"""The pure parts of fleet status: registry addresses, tags, manifests, verifying one
attestation under the enrolled key, and judging hosts fresh, silent, failed or untrusted."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from chainguard.errors import UsageError
from chainguard.fleet.oci import parse_reference
from chainguard.fleet.publish import (
    artifact_manifest,
    attestation_tag,
    check_host_name,
    default_host_name,
    parse_tag,
)
from chainguard.fleet.report import render_json, render_markdown, render_text
from chainguard.fleet.status import (
    Attestation,
    Evidence,
    HostFinding,
    Untrusted,
    bundle_of_manifest,
    judge,
    verify_attestation,
)

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
DIGEST = "sha256:" + "ab" * 32


# ----------------------------------------------------------------------------- addresses


def test_loopback_is_plain_http_and_others_https() -> None:
    local = parse_reference("oci://127.0.0.1:5000/fleet/att", insecure=False, option="x")
    assert local.plain_http and local.base == "http://127.0.0.1:5000/v2/fleet/att"
    remote = parse_reference("oci://registry.example.com/fleet", insecure=False, option="x")
    assert not remote.plain_http and remote.base.startswith("https://")
    assert str(remote) == "oci://registry.example.com/fleet"


def test_plain_http_elsewhere_needs_insecure() -> None:
    with pytest.raises(UsageError, match="refusing plain HTTP"):
        parse_reference("http://10.0.0.5:5000/fleet", insecure=False, option="--publish")
    assert parse_reference("http://10.0.0.5:5000/fleet", insecure=True, option="x").plain_http
    assert parse_reference("oci://10.0.0.5/fleet", insecure=True, option="x").plain_http
    assert parse_reference("http://127.0.0.1:5000/fleet", insecure=False, option="x").plain_http


@pytest.mark.parametrize(
    "address",
    [
        "oci://127.0.0.1",
        "oci://127.0.0.1/Upper",
        "oci://u:p@127.0.0.1/r",
        "oci://127.0.0.1/r?x=1",
        "s3://bucket/r",
        "oci://127.0.0.1:99999/r",
        "oci://bad_host/r",
    ],
)
def test_bad_addresses(address: str) -> None:
    with pytest.raises(UsageError):
        parse_reference(address, insecure=False, option="--publish")


# ------------------------------------------------------------------------------------ tags


def test_tag_round_trip_and_foreign_tags() -> None:
    tag = attestation_tag("web-01.example", NOW, 42)
    assert tag == "web-01.example_20260601T120000Z_42"
    info = parse_tag(tag)
    assert info is not None and (info.host, info.time, info.seq) == ("web-01.example", NOW, 42)
    for foreign in ("latest", "web_x_1", "web_20261399T000000Z_1", "-web_20260101T000000Z_1"):
        assert parse_tag(foreign) is None


def test_host_names() -> None:
    assert check_host_name("web-01.example") == "web-01.example"
    for bad in ("bad_name", "-x", "x" * 64, "", "a b"):
        with pytest.raises(UsageError):
            check_host_name(bad)
    check_host_name(default_host_name())


# ------------------------------------------------------------------------------- manifests


def test_manifest_we_write_is_one_we_read() -> None:
    data = artifact_manifest(DIGEST, 1234, {"a": "b"})
    assert bundle_of_manifest(data) == (DIGEST, 1234)


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda m: "[]", "not a JSON object"),
        (lambda m: "{", "not JSON"),
        (lambda m: {**m, "artifactType": "x"}, "artifactType"),
        (lambda m: {**m, "mediaType": "application/vnd.oci.image.index.v1+json"}, "OCI image"),
        (lambda m: {**m, "layers": []}, "exactly one layer"),
        (lambda m: {**m, "layers": [{**m["layers"][0], "digest": "md5:x"}]}, "sha256"),
        (lambda m: {**m, "layers": [{**m["layers"][0], "size": 1 << 40}]}, "size"),
        (lambda m: {**m, "layers": [{**m["layers"][0], "size": True}]}, "size"),
        (lambda m: {**m, "layers": [{**m["layers"][0], "mediaType": "x"}]}, "layer is not"),
    ],
)
def test_malformed_manifests(edit: object, why: str) -> None:
    manifest = json.loads(artifact_manifest(DIGEST, 10, {}))
    edited = edit(manifest)  # type: ignore[operator]
    data = edited.encode() if isinstance(edited, str) else json.dumps(edited).encode()
    with pytest.raises(Untrusted, match=why):
        bundle_of_manifest(data)


# ------------------------------------------------------------------ one attestation's content


def _vsa(host: str = "alpha", **predicate: object) -> bytes:
    from chainguard.attest.vsa import VERIFIER_ID, VSA_PREDICATE_TYPE

    body = {
        "verifier": {"id": VERIFIER_ID},
        "timeVerified": "2026-06-01T11:00:00Z",
        "verificationResult": "PASSED",
        "chainguard": {
            "host": {"hostname": host},
            "findings": [],
            "deployment": "svc@1",
            "drift": {"new": [], "resolved": [], "unchanged": 0},
            "log": {"entry": 3},
        },
        **predicate,
    }
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": VSA_PREDICATE_TYPE,
        "subject": [],
        "predicate": body,
    }
    return json.dumps(statement).encode()


@pytest.fixture
def keys(tmp_path: Path) -> tuple[object, object, object]:
    from chainguard.trust.keys import generate_keypair, load_private_key, load_public_key

    key, pub = generate_keypair(tmp_path / "host", "ecdsa-p256", None)
    other, _ = generate_keypair(tmp_path / "other", "ecdsa-p256", None)
    return load_private_key(key, None), load_public_key(pub), load_private_key(other, None)


def _signed(
    key: object, payload: bytes, payload_type: str = "application/vnd.in-toto+json"
) -> bytes:
    from chainguard.api.attestation import sign_bundle

    return sign_bundle(payload, payload_type, key)  # type: ignore[arg-type]


def test_verified_attestation_carries_only_signed_content(keys: tuple[object, ...]) -> None:
    key, pub, _ = keys
    a = verify_attestation("alpha", pub, "t", _signed(key, _vsa()))  # type: ignore[arg-type]
    assert a.result == "PASSED"
    assert a.time == datetime(2026, 6, 1, 11, tzinfo=timezone.utc)
    assert (a.deployment, a.log_entry, a.drift) == ("svc@1", 3, (0, 0, 0))


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (_vsa(host="bravo"), "signed for host 'bravo'"),
        (_vsa(verificationResult="MAYBE"), "neither PASSED nor FAILED"),
        (_vsa(timeVerified="yesterday"), "RFC 3339"),
        (_vsa(timeVerified="2026-06-01T11:00:00"), "time zone"),
        (_vsa(verifier={"id": "someone else"}), "chainguard attest"),
        (b"[]", "statement is not a JSON object"),
        (b"not json", "not JSON"),
    ],
)
def test_signed_but_wrong_content(keys: tuple[object, ...], payload: bytes, why: str) -> None:
    key, pub, _ = keys
    with pytest.raises(Untrusted, match=why):
        verify_attestation("alpha", pub, "t", _signed(key, payload))  # type: ignore[arg-type]


def test_other_key_or_payload_type_or_garbage(keys: tuple[object, ...]) -> None:
    key, pub, other = keys
    with pytest.raises(Untrusted, match="enrolled key"):
        verify_attestation("alpha", pub, "t", _signed(other, _vsa()))  # type: ignore[arg-type]
    with pytest.raises(Untrusted, match="in-toto"):
        verify_attestation("alpha", pub, "t", _signed(key, _vsa(), "text/plain"))  # type: ignore[arg-type]
    with pytest.raises(Untrusted, match="not a Sigstore bundle"):
        verify_attestation("alpha", pub, "t", b"\xff\x00")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- judging


def att(
    tag: str, age: timedelta, result: str = "PASSED", findings: tuple[HostFinding, ...] = ()
) -> Attestation:
    return Attestation(tag, NOW - age, result, "svc@1", findings, len(findings), (1, 0, 2), 1)


def test_judge_states() -> None:
    bad = HostFinding("artifact-modified", "error", "w.bin", None, "changed")
    status = judge(
        "oci://r/x",
        {
            "fresh": Evidence((att("f1", timedelta(minutes=5)),)),
            "old": Evidence((att("o1", timedelta(hours=3)),)),
            "failed": Evidence((att("x1", timedelta(minutes=1), "FAILED", (bad,)),)),
            "never": Evidence(),
            "forged": Evidence((), (("g1", "not signed"),)),
            "future": Evidence((att("u1", timedelta(hours=-1)), att("u0", timedelta(minutes=3)))),
        },
        {"stranger": 4},
        now=NOW,
        stale=timedelta(hours=2),
        since=None,
        tags_listed=10,
        tags_truncated=False,
    )
    states = {r.host: r.state for r in status.rows}
    assert states == {
        "fresh": "passing",
        "old": "silent",
        "failed": "failed",
        "never": "silent",
        "forged": "silent",
        "future": "passing",  # the future one is untrusted, the other counts
        "stranger": "unenrolled",
    }
    found = {(f.rule, f.component) for f in status.findings}
    assert found == {
        ("host-silent", "old"),
        ("host-failed", "failed"),
        ("host-silent", "never"),
        ("attestation-untrusted", "forged"),
        ("host-silent", "forged"),
        ("attestation-untrusted", "future"),
        ("host-unenrolled", "stranger"),
    }
    assert not status.ok


def test_newest_by_signed_time_and_since() -> None:
    evidence = {
        "h": Evidence((att("new", timedelta(minutes=1), "FAILED"), att("old", timedelta(hours=1))))
    }
    status = judge(
        "r",
        evidence,
        {},
        now=NOW,
        stale=timedelta(hours=2),
        since=None,
        tags_listed=2,
        tags_truncated=False,
    )
    assert status.rows[0].latest is not None and status.rows[0].latest.tag == "new"
    later = judge(
        "r",
        evidence,
        {},
        now=NOW,
        stale=timedelta(hours=2),
        since=NOW - timedelta(seconds=30),
        tags_listed=2,
        tags_truncated=False,
    )
    assert later.rows[0].state == "silent"
    all_good = judge(
        "r",
        {"h": Evidence((att("a", timedelta(minutes=1)),))},
        {"x": 1},
        now=NOW,
        stale=timedelta(hours=2),
        since=None,
        tags_listed=2,
        tags_truncated=False,
    )
    assert all_good.ok  # an unenrolled name is a note


def test_reports_escape_what_hosts_wrote() -> None:
    hostile = HostFinding(
        "artifact-modified", "error", "a|b\n<img src=x>", None, "@admin see #1\x1b[2J"
    )
    status = judge(
        "oci://r/x",
        {"h": Evidence((att("t", timedelta(minutes=1), "FAILED", (hostile,)),))},
        {},
        now=NOW,
        stale=timedelta(hours=2),
        since=None,
        tags_listed=1,
        tags_truncated=False,
    )
    markdown = render_markdown(status)
    assert "\n<img" not in markdown  # the newline cannot end the list item and start HTML
    doc = json.loads(render_json(status))
    assert doc["schema"] == "chainguard.fleet/v1"
    assert doc["hosts"][0]["findings"][0]["path"] == "a|b\n<img src=x>"
    assert "artifact-modified" in render_text(status)


def test_host_findings_are_made_printable_and_bounded(keys: tuple[object, ...]) -> None:
    key, pub, _ = keys
    findings = [{"rule": "r", "severity": "error", "path": "a\nb\x1b[2J", "message": "m" * 9999}]
    payload = _vsa(verificationResult="FAILED")
    doc = json.loads(payload)
    doc["predicate"]["chainguard"]["findings"] = findings * 500
    a = verify_attestation("alpha", pub, "t", _signed(key, json.dumps(doc).encode()))  # type: ignore[arg-type]
    assert a.findings_total == 500 and len(a.findings) == 100
    assert a.findings[0].path == "a b [2J"
    assert len(a.findings[0].message) == 500
